int kinbox_placeholder_session();
