"""Running a fine-tune for `apply`: prepare, launch `accelerate launch`, track in MLflow."""
