int kinbox_placeholder_profile();
