int kinbox_placeholder_connection();
