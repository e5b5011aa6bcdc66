"""`llmspec try`: the app's pipeline on a few questions with edits that are not applied (a
prompt, decoding settings, `top_k`: any `--set`), beside the answers of the version the alias
serves now. Both sides use that version's model and index; only the edits differ. Each try is
an MLflow run in the app's sandbox experiment, so free iteration is still versioned."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from llmspec.promoted import Promoted


@dataclass(frozen=True)
class Attempt:
    question: str
    prompt: str  # the edited pipeline's model input, as the model sees it
    sources: list[str]
    answer: str
    current_sources: list[str]
    current_answer: str


def try_questions(edited: Any, promoted: Promoted, questions: list[str]) -> list[Attempt]:
    from llmspec.package.load import load_app_model
    from llmspec.runtime.prompting import AppPrompt, model_input
    from llmspec.runtime.pyfunc import bounded
    from llmspec.steps.runtime_settings import prompt_settings

    app = load_app_model(promoted.uri, promoted.tracking_uri).unwrap_python_model()
    limits = app.config["limits"]
    current_settings = bounded(app.config["generation"], None, limits)
    spec = edited.spec
    prompt = AppPrompt.from_dict(prompt_settings(spec.prompts.model_dump(mode="json")))
    settings = bounded(spec.model.generation.model_dump(mode="json"), None, limits)
    top_k = spec.retrieval.top_k if spec.retrieval is not None else None
    out = []
    for question in questions:
        now = app.answer({app.prompt.inputs[0]: question}, current_settings)
        hits = []
        if app.retriever is not None and prompt.uses_context:
            hits = app.retriever.search(question, top_k=top_k)
        messages = prompt.render({prompt.inputs[0]: question}, hits)
        tokenizer = getattr(app.llm, "tokenizer", None)
        text = model_input(tokenizer, messages) if tokenizer is not None else json.dumps(messages)
        reply = app.llm.complete(messages, settings)
        out.append(
            Attempt(
                question,
                text,
                [h.source for h in hits],
                reply.text,
                [str(s) for s in now["sources"]],
                str(now["answer"]),
            )
        )
    return out


def log_try(
    attempts: list[Attempt], promoted: Promoted, app: str, env: str, overrides: list[str]
) -> str:
    """One MLflow run per try, in `llmspec/<app>/<env>/sandbox`: the edits as params, the
    attempts as a table, the prompts as text."""
    import mlflow
    import pandas as pd  # type: ignore[import-untyped]

    mlflow.set_tracking_uri(promoted.tracking_uri)
    experiment = mlflow.set_experiment(f"llmspec/{app}/{env}/sandbox").experiment_id
    tags = {"llmspec.app": app, "llmspec.env": env, "llmspec.compared_with": promoted.uri}
    with mlflow.start_run(experiment_id=experiment, run_name="try", tags=tags) as run:
        mlflow.log_params({f"set.{i}": o[:500] for i, o in enumerate(overrides)} or {"set": "-"})
        mlflow.log_table(pd.DataFrame([asdict(a) for a in attempts]), artifact_file="try.json")
        for i, attempt in enumerate(attempts):
            mlflow.log_text(attempt.prompt, f"prompts/{i}.txt")
    return str(run.info.run_id)
