"""`finetune.*`: prepare the data, launch `accelerate launch` of the runtime's training job,
track it in MLflow."""
