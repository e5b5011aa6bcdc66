"""`llmspec try`: the app's pipeline on a few questions with edits that are not applied (a
prompt, decoding settings, `top_k`: any `--set`), beside the answers of the version the alias
serves now. Both sides use that version's index; the edited side uses that version's model too,
or the one `--model` names (another registered version, or a base model). Each try is an MLflow
run in the app's sandbox experiment, so free iteration is still versioned."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from llmspec.core.diagnostics import SpecError, error
from llmspec.integrations.mlflow import Tag
from llmspec.kinds.promote.promoted import Promoted

REGISTERED = re.compile(r"^models:/[^/@]+(/[0-9]+|@[A-Za-z0-9_-]+)$")
BASE = re.compile(r"^(builtin|hf|local):(.+)$")
MODEL_FORMS = (
    "models:/NAME/VERSION or models:/NAME@ALIAS (a registered version), builtin:ID, "
    "hf:ORG/NAME@REVISION or local:PATH (a base model, without the app's adapter)"
)


@dataclass(frozen=True)
class Attempt:
    question: str
    prompt: str  # the edited pipeline's model input, as the model sees it
    sources: list[str]
    answer: str
    current_sources: list[str]
    current_answer: str


def parse_model(ref: str) -> dict[str, Any]:
    """What `--model` names, checked before anything loads (LS850 when it is none of the
    forms)."""
    if REGISTERED.match(ref):
        return {"source": "registry", "uri": ref}
    match = BASE.match(ref)
    if match is not None:
        source, rest = match.groups()
        if source == "local":
            return {"source": "local", "path": rest}
        if source == "hf":
            repo, _, revision = rest.partition("@")
            return {"source": "hf", "id": repo, "revision": revision or "main"}
        if rest in ("tiny-gpt2", "smollm2-135m-instruct"):
            return {"source": "builtin", "id": rest}
    raise SpecError(
        [error("LS850", f"`--model {ref}` names no model llmspec can load", hint=MODEL_FORMS)]
    )


def edited_llm(model: dict[str, Any], promoted: Promoted, ws: Any) -> Any:
    """The chat model of the edited side: the served version's, or the one --model names."""
    if model["source"] == "registry":
        from mlflow.exceptions import MlflowException

        from llmspec.kinds.package.load import load_app_model

        try:
            loaded = load_app_model(model["uri"], promoted.tracking_uri).unwrap_python_model()
            return loaded.llm
        except (MlflowException, OSError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SpecError(
                [
                    error(
                        "LS850",
                        f"`{model['uri']}` cannot be loaded: {why}",
                        hint=f"registered versions are in {promoted.tracking_uri}",
                    )
                ]
            ) from None
        except AttributeError:
            raise SpecError(
                [
                    error(
                        "LS850",
                        f"`{model['uri']}` is not a model llmspec packaged",
                        hint="name a version of an llmspec app, or a base model",
                    )
                ]
            ) from None
    from llmspec.runtime.llm import LocalChat
    from llmspec.runtime.models import ModelUnavailable, model_folder

    prompts = ws.resolved.spec.prompts
    texts = [prompts.system, *(t.template or "" for t in prompts.templates.values())]
    cache = ws.layout.cache
    try:
        folder = model_folder(model, Path(ws.resolved.path).parent, cache, lambda: texts)
    except ModelUnavailable as exc:
        raise SpecError([error("LS710", str(exc), hint=exc.hint)]) from None
    return LocalChat(folder)


def try_questions(
    edited: Any, promoted: Promoted, questions: list[str], llm: Any = None
) -> list[Attempt]:
    from llmspec.kinds.package.load import load_app_model
    from llmspec.kinds.package.settings import prompt_config
    from llmspec.runtime.contracts import GenerationConfig
    from llmspec.runtime.prompting import AppPrompt, model_input
    from llmspec.runtime.pyfunc import bounded

    app = load_app_model(promoted.uri, promoted.tracking_uri).unwrap_python_model()
    llm = llm or app.llm
    limits = app.config.limits
    current_settings = bounded(app.config.generation, None, limits)
    spec = edited.spec
    prompt = AppPrompt.from_config(prompt_config(spec.prompts.model_dump(mode="json")))
    generation = GenerationConfig.from_dict(spec.model.generation.model_dump(mode="json"))
    settings = bounded(generation, None, limits)
    top_k = spec.retrieval.top_k if spec.retrieval is not None else None
    out = []
    for question in questions:
        now = app.answer({app.prompt.inputs[0]: question}, current_settings)
        hits = []
        if app.retriever is not None and prompt.uses_context:
            hits = app.retriever.search(question, top_k=top_k)
        messages = prompt.render({prompt.inputs[0]: question}, hits)
        tokenizer = getattr(llm, "tokenizer", None)
        text = model_input(tokenizer, messages) if tokenizer is not None else json.dumps(messages)
        reply = llm.complete(messages, settings)
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
    attempts: list[Attempt],
    promoted: Promoted,
    app: str,
    env: str,
    overrides: list[str],
    model: str | None = None,
    experiment_name: str | None = None,
) -> str:
    """One MLflow run per try, in ``experiment_name`` (by default `llmspec/<app>/<env>/sandbox`,
    see `integrations.mlflow.experiment_name`): the edits as params, the
    attempts as a table, the prompts as text."""
    import mlflow
    import pandas as pd  # type: ignore[import-untyped]

    mlflow.set_tracking_uri(promoted.tracking_uri)
    name = experiment_name or f"llmspec/{app}/{env}/sandbox"
    experiment = mlflow.set_experiment(name).experiment_id
    tags = {Tag.APP: app, Tag.ENV: env, Tag.COMPARED_WITH: promoted.uri}
    with mlflow.start_run(experiment_id=experiment, run_name="try", tags=tags) as run:
        params = {f"set.{i}": o[:500] for i, o in enumerate(overrides)} or {"set": "-"}
        mlflow.log_params({**params, "model": model or promoted.uri})
        mlflow.log_table(pd.DataFrame([asdict(a) for a in attempts]), artifact_file="try.json")
        for i, attempt in enumerate(attempts):
            mlflow.log_text(attempt.prompt, f"prompts/{i}.txt")
    return str(run.info.run_id)
