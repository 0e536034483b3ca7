int kinbox_placeholder_kinbox_cli();
