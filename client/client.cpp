int kinbox_placeholder_client();
