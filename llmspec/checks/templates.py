"""Prompt templates: Jinja2 syntax, and every variable a template reads is provided."""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Iterator
from functools import lru_cache
from importlib.util import find_spec
from typing import Any

from llmspec.checks.context import CheckContext
from llmspec.core.diagnostics import Diagnostic, Related, did_you_mean, error, warning
from llmspec.core.layout import file_key, user_cache
from llmspec.source.document import Path
from llmspec.source.locate import span_in_value


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


Analysis = tuple[frozenset[str], tuple[int, str] | None]


@lru_cache(maxsize=512)
def analyse(text: str) -> Analysis:
    """(variables the template reads, (line, message) of a syntax error or None).

    Remembered across processes in the user cache, keyed by Jinja's and this module's files and
    by the text itself: a `validate` whose templates did not change imports no Jinja (a tenth of
    its cold start).
    """
    key = _analysis_key()
    path = user_cache("templates") / f"{zlib.crc32(text.encode()):08x}{len(text):x}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored["key"] == key and stored["text"] == text:
            syntax = stored["syntax"]
            return frozenset(stored["variables"]), (syntax[0], syntax[1]) if syntax else None
    except Exception:  # missing, partial or from another version: parse it
        pass
    found = _parse(text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        record = {"key": key, "text": text, "variables": sorted(found[0]), "syntax": found[1]}
        partial.write_text(json.dumps(record), encoding="utf-8")
        os.replace(partial, path)
    except OSError:  # a read-only home: nothing is remembered
        pass
    return found


@lru_cache(maxsize=1)
def _analysis_key() -> str:
    jinja = find_spec("jinja2")
    origin = jinja.origin if jinja and jinja.origin else "absent"
    return file_key(origin, __file__) if os.path.exists(origin) else origin


def _parse(text: str) -> Analysis:
    from jinja2 import TemplateSyntaxError, meta

    env = _environment()
    try:
        # find_undeclared_variables runs Jinja's code generator, which is where unknown
        # filters and tests are reported (TemplateAssertionError, a TemplateSyntaxError)
        return frozenset(meta.find_undeclared_variables(env.parse(text))), None
    except TemplateSyntaxError as exc:
        return frozenset(), (exc.lineno or 1, exc.message or "invalid template")


def templates_of(ctx: CheckContext) -> Iterator[tuple[str, Path, str]]:
    """(template name, path of the text, text) for every template and chat message."""
    for name, tpl in ctx.spec.prompts.templates.items():
        base: Path = ("prompts", "templates", name)
        if tpl.template is not None:
            yield name, base + ("template",), tpl.template
        for i, message in enumerate(tpl.messages or []):
            yield name, base + ("messages", i, "content"), message.content


def check_templates(ctx: CheckContext) -> Iterator[Diagnostic]:
    has_retrieval = ctx.spec.retrieval is not None
    used: dict[str, set[str]] = {}
    for name, path, text in templates_of(ctx):
        tpl = ctx.spec.prompts.templates[name]
        variables, syntax = analyse(text)
        span = ctx.doc.values.get(path)
        if syntax is not None:
            line, message = syntax
            offset = _line_offset(text, line)
            where = (
                span_in_value(span, text, offset, 1, ctx.doc.sources) if span else ctx.span(*path)
            )
            yield error(
                "LS401",
                f"template `{name}`: {message}",
                where,
                hint="Jinja2 syntax: `{{ variable }}`, `{% for x in xs %}…{% endfor %}`",
            )
            continue
        provided = {"system", *tpl.inputs} | ({"context"} if has_retrieval else set())
        used.setdefault(name, set()).update(variables)
        for variable in sorted(variables - provided):
            offset = _find(text, variable)
            where = (
                span_in_value(span, text, offset, len(variable), ctx.doc.sources)
                if span and offset >= 0
                else ctx.span(*path)
            )
            if variable == "context":
                hint = "`context` holds retrieved chunks: add a `retrieval` section"
                related: list[Related] = []
            else:
                hint = did_you_mean(variable, sorted(provided)) or (
                    f"add `{variable}` to the template's `inputs`"
                )
                related = ctx.related(
                    "inputs are declared here", "prompts", "templates", name, "inputs"
                )
            yield error(
                "LS402",
                f"template `{name}` uses `{variable}`, which nothing provides",
                where,
                hint=hint,
                related=related,
            )
    for name, tpl in ctx.spec.prompts.templates.items():
        if name not in used:
            continue
        for i, field in enumerate(tpl.inputs):
            if field not in used[name]:
                yield warning(
                    "LS403",
                    f"template `{name}` declares input `{field}` but never uses it",
                    ctx.span("prompts", "templates", name, "inputs", i),
                    hint="remove it from `inputs`, or use it in the template",
                )


def _line_offset(text: str, line: int) -> int:
    offset = 0
    for _ in range(max(line - 1, 0)):
        next_break = text.find("\n", offset)
        if next_break < 0:
            break
        offset = next_break + 1
    return offset


def _find(text: str, variable: str) -> int:
    for block in re.finditer(r"\{\{.*?\}\}|\{%.*?%\}", text, re.S):
        found = re.search(rf"\b{re.escape(variable)}\b", block.group(0))
        if found:
            return block.start() + found.start()
    return -1
