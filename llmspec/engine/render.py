"""Deterministic rendering of artifacts from llmspec's own templates.

Same inputs, same bytes: no timestamps, mappings dumped with sorted keys, StrictUndefined so a
missing value is an error rather than an empty string. These templates are llmspec's (trusted);
user prompt templates are rendered elsewhere, in a sandbox.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from llmspec.core.layout import templates_root


def to_yaml(value: Any, indent: int = 0) -> str:
    """YAML with sorted keys, block style; ``indent`` shifts every line after the first."""
    import yaml

    text = yaml.safe_dump(
        value, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1000
    ).rstrip("\n")
    return text.replace("\n", "\n" + " " * indent)


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(templates_root() / "artifacts")),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["to_yaml"] = to_yaml
    env.filters["to_json"] = to_json
    env.filters["pyrepr"] = repr  # Python literals in rendered Python
    return env


def render_template(name: str, **context: Any) -> str:
    return str(_environment().get_template(name).render(**context))


@lru_cache(maxsize=64)
def template_digest(name: str) -> str:
    """The digest of a template's text: part of a resource's inputs, so a new llmspec whose
    templates render differently updates the resources that use them."""
    text = (templates_root() / "artifacts" / name).read_bytes()
    return "sha256:" + hashlib.sha256(text).hexdigest()


def digest_text(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_artifacts(folder: Path, files: dict[str, str]) -> dict[str, str]:
    """Write rendered files atomically; returns relative path -> content digest."""
    digests: dict[str, str] = {}
    for relative, text in sorted(files.items()):
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        digests[relative] = digest_text(text)
        if path.exists() and path.read_bytes() == data:
            continue
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return digests
