int kinbox_placeholder_node();
