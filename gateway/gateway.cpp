int kinbox_placeholder_gateway();
