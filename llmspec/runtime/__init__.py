"""Code that runs outside the compiler: inside the MLflow model, the training job and the index
builder. It imports nothing from llmspec's compiler side (spec, plan, checks), so it ships with
a packaged model on its own."""
