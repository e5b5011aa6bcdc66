"""The app's prompts in MLflow's Prompt Registry: a version per template and prompt, reused while
the prompt stays the same, a new one (and the environment's alias moved to it) when it changes;
the packaged model links the version it serves, and each served trace links it and names it
(`llmspec.prompt_version` = `prompts:/…`). A registry without prompts leaves a note, never a
failed package. Real MLflow stores (sqlite) throughout; the end-to-end case packages the
`builtin` tiny model (no training)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from llmspec.integrations.mlflow import Tag, client_for
from llmspec.kinds.package.outputs import PackageOutputs
from llmspec.kinds.package.prompts import (
    model_prompts,
    package_prompts,
    parse_uri,
    prompt_name,
    register_prompts,
    set_prompt_aliases,
)
from llmspec.runtime.contracts import AppConfig, MonitoringConfig, PromptConfig
from llmspec.runtime.tracing import prompt_version
from tests.runtime.test_runtime_alone import APP, PROMPT

pytest.importorskip("mlflow")

PROMPTS: dict[str, Any] = {
    "system": "Be brief.",
    "default": "answer",
    "templates": {
        "answer": {
            "template": "{{ system }} Q: {{ question }} A:",
            "inputs": ["question"],
            "description": "Answers one question.",
        },
        "chat": {
            "messages": [
                {"role": "system", "content": "{{ system }}"},
                {"role": "user", "content": "{{ question }}"},
            ],
            "inputs": ["question"],
        },
    },
}
TAGS = {Tag.APP: "demo", Tag.ENV: "dev"}


def edited(path: str, value: Any) -> dict[str, Any]:
    """PROMPTS with the value at a dotted path replaced."""
    out: dict[str, Any] = json.loads(json.dumps(PROMPTS))
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    node[last] = value
    return out


URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@contextmanager
def mlflow_as_it_was() -> Iterator[None]:
    """MLflow's tracking and registry URIs back as they were after the block, with the
    variables MLflow exports when they are set (which an apply would take for the workspace's
    tracking server), starting without them."""
    import mlflow

    saved = {name: os.environ.pop(name, None) for name in URI_VARIABLES}
    try:
        yield
    finally:
        # None: MLflow's own starting state (its default store; the registry follows tracking)
        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # type: ignore[arg-type]
        mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])  # type: ignore[arg-type]
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def store(tmp_path: Path) -> Iterator[str]:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with mlflow_as_it_was():
        mlflow.set_tracking_uri(uri)  # MLflow links a new prompt to the active experiment
        yield uri


def versions(uri: str, name: str) -> list[int]:
    return sorted(int(v.version) for v in client_for(uri).search_prompt_versions(name))


# ---- registration and aliases --------------------------------------------------------------


def test_each_template_is_a_prompt_version_with_the_environments_alias(store: str) -> None:
    client = client_for(store)
    prompts = register_prompts(client, "demo", PROMPTS, TAGS, "package.demo in dev")
    assert prompts == {"answer": "prompts:/demo.answer/1", "chat": "prompts:/demo.chat/1"}
    set_prompt_aliases(store, prompts, "dev")
    answer = client.get_prompt_version_by_alias("demo.answer", "dev")
    assert (answer.version, answer.template) == (1, "{{ system }} Q: {{ question }} A:")
    assert answer.commit_message == "Answers one question. — package.demo in dev"
    assert answer.tags[Tag.SYSTEM_PROMPT] == "Be brief."
    assert answer.tags[Tag.PROMPT_INPUTS] == '["question"]' and answer.tags[Tag.APP] == "demo"
    # the digest form a model packaged without the registry puts on its traces
    template = PROMPTS["templates"]["answer"]["template"]
    config = PromptConfig("answer", "Be brief.", template, None, ("question",))
    assert answer.tags[Tag.PROMPT_DIGEST] == prompt_version(config.to_dict())
    chat = client.get_prompt_version_by_alias("demo.chat", "dev")
    assert chat.template == PROMPTS["templates"]["chat"]["messages"]  # a chat prompt


def test_the_same_prompt_again_reuses_its_version(store: str) -> None:
    client = client_for(store)
    first = register_prompts(client, "demo", PROMPTS, TAGS)
    assert register_prompts(client, "demo", PROMPTS, {**TAGS, Tag.ENV: "staging"}) == first
    assert versions(store, "demo.answer") == versions(store, "demo.chat") == [1]


@pytest.mark.parametrize(
    ("path", "value", "moved"),
    [
        pytest.param("templates.answer.template", "Q: {{ question }}", {"answer"}, id="template"),
        pytest.param("system", "Be very brief.", {"answer", "chat"}, id="system-prompt"),
        pytest.param(
            "templates.chat.messages",
            [{"role": "user", "content": "{{ question }}?"}],
            {"chat"},
            id="messages",
        ),
        pytest.param("templates.answer.description", "Other words.", set(), id="description"),
    ],
)
def test_a_changed_prompt_is_version_2_and_the_alias_moves(
    store: str, path: str, value: Any, moved: set[str]
) -> None:
    client = client_for(store)
    set_prompt_aliases(store, register_prompts(client, "demo", PROMPTS, TAGS), "dev")
    changed = register_prompts(client, "demo", edited(path, value), TAGS)
    set_prompt_aliases(store, changed, "dev")
    for template in ("answer", "chat"):
        expected = 2 if template in moved else 1
        assert changed[template] == f"prompts:/demo.{template}/{expected}"
        assert client.get_prompt_version_by_alias(f"demo.{template}", "dev").version == expected
    # back to the first text: its version again, not a third
    assert register_prompts(client, "demo", PROMPTS, TAGS)["answer"] == "prompts:/demo.answer/1"
    assert max(versions(store, "demo.answer")) == (2 if "answer" in moved else 1)


def test_a_registry_that_cannot_hold_prompts_is_a_note_not_a_failure(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.prompt.registry_utils as registry_utils

    monkeypatch.setattr(registry_utils, "is_prompt_supported_registry", lambda uri: False)
    client = client_for(store)
    experiment = client.create_experiment("llmspec/demo/dev")
    lines: list[str] = []
    assert package_prompts(client, experiment, "demo", PROMPTS, TAGS, "m", lines.append) == {}
    (line,) = lines
    assert line.startswith("    prompts not registered (") and line.endswith("by digest")
    assert "API is not supported with the current registry" in line


def test_a_name_taken_by_a_model_is_a_note_too(store: str) -> None:
    client = client_for(store)
    client.create_registered_model("demo.answer")  # a model, not a prompt
    lines: list[str] = []
    experiment = client.create_experiment("llmspec/demo/dev")
    assert package_prompts(client, experiment, "demo", PROMPTS, TAGS, "m", lines.append) == {}
    assert "prompts not registered" in lines[0]


@pytest.mark.parametrize(
    ("registered", "template", "name"),
    [
        pytest.param("support-bot", "answer", "support-bot.answer", id="plain"),
        pytest.param(
            "team.support_bot", "short-answer", "team.support_bot.short-answer", id="dots"
        ),
        pytest.param("team/bot v2", "answer", "team-bot-v2.answer", id="refused-characters"),
    ],
)
def test_a_prompts_name_is_the_models_and_the_templates(
    registered: str, template: str, name: str
) -> None:
    assert prompt_name(registered, template) == name


def test_only_a_version_uri_names_a_version() -> None:
    assert parse_uri("prompts:/demo.answer/12") == ("demo.answer", "12")
    for other in ("prompts:/demo.answer@dev", "models:/demo/1", "prompts:/demo.answer"):
        with pytest.raises(ValueError, match="not a prompt version URI"):
            parse_uri(other)


# ---- what the package records and the model reads ------------------------------------------

RECORDED = {
    "run_id": "r1",
    "model_uri": "models:/m-1",
    "registered_name": "demo",
    "version": "3",
    "version_uri": "models:/demo/3",
    "tracking_uri": "sqlite:////repo/.llmspec/mlflow.db",
}


def test_package_outputs_keep_the_prompts_and_read_state_without_them() -> None:
    assert PackageOutputs.from_outputs(RECORDED).prompts == {}
    assert "prompts" not in PackageOutputs.from_outputs(RECORDED).to_outputs()
    with_prompts = {**RECORDED, "prompts": {"answer": "prompts:/demo.answer/2"}}
    typed = PackageOutputs.from_outputs(with_prompts)
    assert typed.prompts == {"answer": "prompts:/demo.answer/2"}
    assert typed.to_outputs() == with_prompts


def test_an_app_json_names_its_prompt_version_and_an_older_one_still_loads() -> None:
    registered = dataclasses.replace(APP, prompt=dataclasses.replace(PROMPT, uri="prompts:/d.a/1"))
    assert AppConfig.from_json(registered.to_json()) == registered
    assert "uri" not in json.loads(APP.to_json())["prompt"]  # older files keep their bytes
    assert AppConfig.from_json(APP.to_json()).prompt.uri is None


def test_the_trace_names_the_registry_version_else_the_digest_as_before() -> None:
    before = PROMPT.to_dict()  # what a model packaged without the registry carries
    digest = hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:12]
    assert prompt_version(before) == f"answer@{digest}"  # unchanged for older models
    registered = dataclasses.replace(PROMPT, uri="prompts:/demo.answer/4").to_dict()
    assert prompt_version(registered) == "prompts:/demo.answer/4"


def test_a_version_the_registry_lacks_leaves_the_trace_its_tag_alone(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from llmspec.runtime import tracing

    uri = "prompts:/elsewhere.answer/7"  # packaged against another registry
    prompt = dataclasses.replace(PROMPT, uri=uri)
    config = dataclasses.replace(APP, prompt=prompt, monitoring=MonitoringConfig(True, True, 1.0))
    monkeypatch.setenv("LLMSPEC_TRACE", "1")
    mlflow.set_experiment(experiment_id=client_for(store).create_experiment("served"))
    ids, reads = [], []
    for _ in range(2):
        with tracing.request_trace(config, {"question": "hi"}) as trace:
            ids.append(trace.trace_id)
        reads.append(tracing._READS[uri])
    mlflow.flush_trace_async_logging()
    for trace_id in ids:
        tags = mlflow.get_trace(trace_id).info.tags
        assert tags["llmspec.prompt_version"] == uri and "mlflow.linkedPrompts" not in tags
    assert uri not in tracing._HELD and reads[0] is reads[1]  # asked once, not per request


# ---- end to end: package the builtin model, serve a traced answer --------------------------

SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata:
  name: demo
model:
  source: builtin
  id: tiny-gpt2
  generation:
    max_new_tokens: {tokens}
prompts:
  system: "Be brief."
  templates:
    answer:
      template: "{template}"
serving:
  registry:
    alias: dev
environments:
  dev:
"""
FIRST = "{{ system }} Q: {{ question }} A:"


def apply(repo: Path, template: str = FIRST, tokens: int = 8) -> dict[str, Any]:
    """Apply the spec in dev; the package's outputs."""
    from llmspec import api

    spec = repo / "app.yaml"
    spec.write_text(textwrap.dedent(SPEC.format(template=template, tokens=tokens)))
    result = api.apply(str(spec), "dev")
    assert result.ok, [o.diagnostics for o in result.outcomes]
    state = api.state_show(api.open_workspace(str(spec), "dev"))
    return dict(state.resources["package.demo"].outputs)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    repo = tmp_path_factory.mktemp("repo")
    (repo / ".git").mkdir()
    with mlflow_as_it_was():  # the repository's own store
        first = apply(repo)
        again = apply(repo, tokens=12)  # packaged again: the same prompt
        changed = apply(repo, template="Q: {{ question }}", tokens=12)
    assert changed["tracking_uri"] == f"sqlite:///{repo / '.llmspec' / 'mlflow.db'}"
    return {"repo": repo, "first": first, "again": again, "changed": changed}


def test_packaging_registers_links_and_aliases_the_served_prompt(packaged: dict[str, Any]) -> None:
    import mlflow

    first = packaged["first"]
    uri = first["tracking_uri"]
    client = client_for(uri)
    assert first["prompts"] == {"answer": "prompts:/demo.answer/1"}
    model_id = first["model_uri"].removeprefix("models:/")
    linked = json.loads(client.get_logged_model(model_id).tags["mlflow.linkedPrompts"])
    assert linked == [{"name": "demo.answer", "version": "1"}]
    mlflow.set_tracking_uri(uri)
    assert mlflow.models.get_model_info(first["version_uri"]).prompts == ["prompts:/demo.answer/1"]
    assert model_prompts(uri, "demo", first["version"]) == first["prompts"]


def test_packaging_the_same_prompt_again_keeps_its_version(packaged: dict[str, Any]) -> None:
    first, again = packaged["first"], packaged["again"]
    assert again["version"] != first["version"]  # a new model version …
    assert again["prompts"] == first["prompts"]  # … serving the same prompt version


def test_a_changed_template_is_a_new_version_and_the_environments_alias_follows(
    packaged: dict[str, Any],
) -> None:
    changed = packaged["changed"]
    uri = changed["tracking_uri"]
    client = client_for(uri)
    assert changed["prompts"] == {"answer": "prompts:/demo.answer/2"}
    assert client.get_prompt_version_by_alias("demo.answer", "dev").version == 2
    # what promotion does with the registry alias it moves
    set_prompt_aliases(uri, model_prompts(uri, "demo", changed["version"]), "champion")
    assert client.get_prompt_version_by_alias("demo.answer", "champion").version == 2


def test_a_served_trace_links_and_names_its_prompt_version(
    packaged: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from llmspec.kinds.package.load import load_app_model
    from llmspec.runtime.pyfunc import bounded

    changed = packaged["changed"]
    uri = changed["tracking_uri"]
    with mlflow_as_it_was():
        model = load_app_model(changed["version_uri"], uri).unwrap_python_model()
        assert model.config.prompt.uri == "prompts:/demo.answer/2"
        monkeypatch.setenv("LLMSPEC_TRACE", "1")  # as the model server runs it
        experiment = client_for(uri).get_experiment_by_name("llmspec/demo/dev").experiment_id
        mlflow.set_experiment(experiment_id=experiment)
        settings = bounded(model.config.generation, {"max_new_tokens": 2}, model.config.limits)
        answer = model.answer({"question": "hi"}, settings)
        mlflow.flush_trace_async_logging()
        trace = mlflow.get_trace(answer["trace_id"])
        found = mlflow.search_traces(
            locations=[experiment], filter_string="prompt = 'demo.answer/2'", return_type="list"
        )
    assert trace.info.tags["llmspec.prompt_version"] == "prompts:/demo.answer/2"
    linked = json.loads(trace.info.tags["mlflow.linkedPrompts"])
    assert linked == [{"name": "demo.answer", "version": "2"}]
    assert [t.info.trace_id for t in found] == [answer["trace_id"]]  # the registry's link
