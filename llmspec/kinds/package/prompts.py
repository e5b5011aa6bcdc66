"""The app's prompt templates in MLflow's Prompt Registry; MLflow's prompt API in one place.

Each template of the spec is a prompt named `<registered model>.<template>` (`support-bot.answer`;
a character MLflow refuses in a prompt name becomes `-`). A version holds what the model
renders: the template as the spec writes it (text, or chat messages), with the system prompt
and the inputs as the version's tags, since they change what the template renders too. It is
identified by `<template>@<digest>` of that whole prompt (the tag `llmspec.prompt_digest`: the
form a trace of a model packaged without the registry carries), and packaging the same prompt
again reuses the newest version with that digest: a new version means the prompt changed.

Aliases say which version an environment uses. The package step points the alias named after
the environment (`dev`, `staging`, `prod`) at the versions it packaged, beside the model
version it registered; promotion points the registry alias it moves (`champion`) at the
versions of the model version it promotes:
`set_prompt_aliases(uri, model_prompts(uri, name, version), alias)`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from llmspec.integrations.mlflow import Tag, client_for
from llmspec.kinds.package.settings import prompt_config
from llmspec.runtime.contracts import PromptConfig
from llmspec.runtime.tracing import prompt_digest

REFUSED = re.compile(r"[^A-Za-z0-9_.-]")  # MLflow's prompt names: letters, digits, _ . -
URI = re.compile(r"^prompts:/(?P<name>[^/@]+)/(?P<version>[0-9]+)$")


def prompt_name(registered_name: str, template: str) -> str:
    """The registry's name of one template of an app."""
    return REFUSED.sub("-", f"{registered_name}.{template}")


def register_prompts(
    client: Any,
    registered_name: str,
    prompts: Mapping[str, Any],
    tags: Mapping[str, str],
    message: str = "",
) -> dict[str, str]:
    """Every template of a `prompts` section (dumped as JSON) as its registry version:
    template → `prompts:/<name>/<version>`. A version is registered, with ``tags`` and a
    message (the template's description, then ``message``; a new prompt's description too),
    only for a prompt no version holds yet; MlflowException where the registry refuses."""
    versions = {}
    for template, written in prompts["templates"].items():
        name = prompt_name(registered_name, template)
        said = " — ".join(t for t in (written.get("description"), message) if t)
        versions[template] = _version(client, name, prompt_config(prompts, template), tags, said)
    return versions


def set_prompt_aliases(tracking_uri: str, prompts: Mapping[str, str], alias: str) -> None:
    """Point ``alias`` of each prompt at its version in ``prompts`` (template →
    `prompts:/<name>/<version>`, as the package outputs and `model_prompts` give them), in the
    registry of ``tracking_uri`` (the tracking server's own, as promotion's client has it).
    Nothing to do for a model packaged without prompts; MlflowException where the registry
    refuses (an alias MLflow reserves, such as `latest` or `v1`)."""
    if prompts:
        _set_aliases(client_for(tracking_uri), prompts, alias)


def model_prompts(tracking_uri: str, registered_name: str, version: str) -> dict[str, str]:
    """The prompt versions a registered model version was packaged with (its `llmspec.prompts`
    tag); empty for one packaged without the registry."""
    client = client_for(tracking_uri)
    tag = client.get_model_version(registered_name, version).tags.get(Tag.PROMPTS)
    return {str(k): str(v) for k, v in json.loads(tag).items()} if tag else {}


def parse_uri(uri: str) -> tuple[str, str]:
    """(name, version) of a `prompts:/<name>/<version>` URI; ValueError for another form."""
    found = URI.match(uri)
    if found is None:
        raise ValueError(f"not a prompt version URI: {uri!r} (expected prompts:/<name>/<version>)")
    return found["name"], found["version"]


def package_prompts(
    client: Any,
    experiment: str,
    registered_name: str,
    prompts: Mapping[str, Any],
    tags: Mapping[str, str],
    message: str,
    log: Callable[[str], None],
) -> dict[str, str]:
    """`register_prompts` for the package step, listed under the app's experiment (MLflow
    links a prompt to the active one). Where the registry cannot hold prompts (a registry
    without MLflow's Prompt Registry, a name taken by a model), nothing is registered and the
    step log says why: the model is packaged all the same, and its traces name the prompt by
    its digest."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        mlflow.set_experiment(experiment_id=experiment)
        registered = register_prompts(client, registered_name, prompts, tags, message)
    except MlflowException as exc:
        log(f"    prompts not registered ({_first_line(exc)}): traces name them by digest")
        return {}
    for template, uri in registered.items():
        log(f"    prompt {template}: {uri}")
    return registered


def alias_prompts(
    client: Any, prompts: Mapping[str, str], alias: str, log: Callable[[str], None]
) -> None:
    """`set_prompt_aliases` for the package step, through its client: a refused alias is a
    note in the step log, not a failed package (the model version is registered by then)."""
    from mlflow.exceptions import MlflowException

    try:
        _set_aliases(client, prompts, alias)
    except MlflowException as exc:
        log(f"    prompt alias `{alias}` not set: {_first_line(exc)}")


def _set_aliases(client: Any, prompts: Mapping[str, str], alias: str) -> None:
    for uri in prompts.values():
        name, version = parse_uri(uri)
        client.set_prompt_alias(name, alias, int(version))


def _version(
    client: Any, name: str, config: PromptConfig, tags: Mapping[str, str], message: str
) -> str:
    digest = prompt_digest(config.to_dict())
    found = _newest_with(client, name, digest)
    if found is None:
        found = client.register_prompt(
            name,
            _content(config),
            commit_message=message or None,
            tags={**tags, Tag.PROMPT_DIGEST: digest},
        )
    # version tags only: a prompt's own tags take at most 5,000 characters, a system prompt more
    extra = {Tag.SYSTEM_PROMPT: config.system, Tag.PROMPT_INPUTS: json.dumps(list(config.inputs))}
    for key, value in extra.items():
        if value and found.tags.get(key) != value:  # a new version, or one left without them
            client.set_prompt_version_tag(name, found.version, key, value)
    return str(found.uri)


def _newest_with(client: Any, name: str, digest: str) -> Any:
    """The newest version of prompt ``name`` tagged with ``digest``, if any."""
    if client.get_prompt(name) is None:
        return None
    best, token = None, None
    while True:
        page = client.search_prompt_versions(name, max_results=100, page_token=token)
        for version in page:
            if version.tags.get(Tag.PROMPT_DIGEST) == digest and (
                best is None or int(version.version) > int(best.version)
            ):
                best = version
        token = page.token
        if not token:
            return best


def _content(config: PromptConfig) -> str | list[dict[str, str]]:
    """The template as MLflow holds it: text, or chat messages (MLflow renders `{{ name }}`
    itself, and a template with `{% … %}` blocks with Jinja2, as the app does)."""
    if config.template is not None:
        return config.template
    return [{"role": role, "content": content} for role, content in config.messages or ()]


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "message", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def follow_promotion(tracking_uri: str, registered_name: str, version: str, alias: str) -> str:
    """Point the registry alias of the app's prompts at those of the version ``alias`` now
    names (a promotion, a rollback, a rollout's completion); the line for the log. A registry
    that refuses does not undo the promotion: the line says so."""
    from mlflow.exceptions import MlflowException

    try:
        prompts = model_prompts(tracking_uri, registered_name, version)
        set_prompt_aliases(tracking_uri, prompts, alias)
    except MlflowException as exc:
        return f"prompt aliases not moved ({exc.message.splitlines()[0][:200]})"
    if not prompts:
        return ""
    return "prompts@" + alias + ": " + ", ".join(sorted(prompts.values()))
