"""Code that runs outside the compiler: inside the MLflow model, the training job, the index
builder and the model server. It imports nothing from any other llmspec room (a test checks),
so a packaged model carries it alone (`kinds/package/log.py` copies it as the model's code);
`contracts.py` types the files the compiler writes for it (`app.json`, `job.json`)."""
