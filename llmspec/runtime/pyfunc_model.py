"""The file MLflow runs to build the packaged model (MLflow's models-from-code: no pickled
object in the model, only this code and llmspec's runtime copied beside it)."""

from mlflow.models import set_model

from llmspec.runtime.pyfunc import LLMAppModel

set_model(LLMAppModel())
