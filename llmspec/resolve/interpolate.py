"""Interpolation: ``${vars.NAME}``, ``${env:NAME}`` / ``${env:NAME:-default}``, ``${secret:NAME}``.

A value that is exactly one ``${vars...}`` keeps the variable's type; inside longer text it is
converted to text. ``${secret:NAME}`` becomes a :class:`SecretRef` and must be the whole value.
``$${`` writes a literal ``${``. The ``environments`` section is left as written: overlays have
already been merged by the time this runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from llmspec.core.diagnostics import Diagnostic, Related, Span, SpecError, did_you_mean, error
from llmspec.core.secrets import NAME, SecretRef, looks_like_credential
from llmspec.source.document import Document, Path, format_path
from llmspec.source.locate import span_in_value

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)(\}?)")
_UNSET = object()


def interpolate(doc: Document, environ: Mapping[str, str] | None = None) -> Document:
    """Resolve every interpolation in ``doc``; raises SpecError with all problems found."""
    resolver = _Resolver(doc, os.environ if environ is None else environ)
    data: dict[str, Any] = {}
    for key, value in doc.data.items():
        if key == "environments":
            data[key] = value
        elif key == "vars" and isinstance(value, dict):
            # through `variable`, so a cycle is reported once, from the first variable in it
            data[key] = {k: resolver.variable((str(k),), doc.span(("vars", k))) for k in value}
        else:
            data[key] = resolver.walk(value, (key,))
    if resolver.problems:
        raise SpecError(resolver.problems)
    return Document(doc.file, data, doc.values, doc.keys, doc.sources)


class _Resolver:
    def __init__(self, doc: Document, environ: Mapping[str, str]) -> None:
        self.doc = doc
        self.environ = environ
        self.vars = doc.data.get("vars") if isinstance(doc.data.get("vars"), dict) else {}
        self.resolved: dict[Path, Any] = {}
        self.active: list[Path] = []
        self.problems: list[Diagnostic] = []

    def walk(self, value: Any, path: Path) -> Any:
        if isinstance(value, str):
            return self.string(value, path)
        if isinstance(value, dict):
            return {k: self.walk(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v, path + (i,)) for i, v in enumerate(value)]
        return value

    def where(self, path: Path, text: str, offset: int, length: int) -> Span | None:
        span = self.doc.span(path)
        if span is None or self.doc.values.get(path) is None:
            return span
        return span_in_value(span, text, offset, length, self.doc.sources)

    def string(self, text: str, path: Path) -> Any:
        if "$" not in text:
            self.credential(text, path)
            return text
        tokens = list(_TOKEN.finditer(text))
        if not tokens:
            self.credential(text, path)
            return text
        whole = (
            len(tokens) == 1 and tokens[0].span() == (0, len(text)) and tokens[0].group(0) != "$${"
        )
        parts: list[str] = []
        last = 0
        for match in tokens:
            parts.append(text[last : match.start()])
            last = match.end()
            if match.group(0) == "$${":
                parts.append("${")
                continue
            value = self.token(match, text, path, whole)
            if whole:
                return value
            if isinstance(value, SecretRef):
                self.problems.append(
                    error(
                        "LS304",
                        "a secret reference must be the whole value, not part of a text",
                        self.where(path, text, match.start(), len(match.group(0))),
                        hint="put the whole credential in the secret, "
                        "e.g. `api_key: ${secret:API_KEY}`",
                    )
                )
                continue
            parts.append("" if value is _UNSET else _text(value))
        parts.append(text[last:])
        out = "".join(parts)
        self.credential(out, path)
        return out

    def token(self, match: re.Match[str], text: str, path: Path, whole: bool) -> Any:
        body, closed = match.group(1), match.group(2)
        span = self.where(path, text, match.start(), len(match.group(0)))
        if not closed:
            self.problems.append(
                error(
                    "LS305",
                    "unclosed `${` in value",
                    span,
                    hint="close it with `}`, or write `$${` for a literal `${`",
                )
            )
            return _UNSET
        kind, sep, rest = body.partition(":")
        if body.startswith("vars."):
            return self.variable(tuple(body[5:].split(".")), span)
        if sep and kind == "env":
            name, has_default, default = rest.partition(":-")
            if not NAME.fullmatch(name):
                self.problems.append(
                    error("LS305", f"`{name}` is not an environment variable name", span)
                )
                return _UNSET
            if name in self.environ:
                return self.environ[name]
            if has_default:
                return default
            self.problems.append(
                error(
                    "LS302",
                    f"environment variable `{name}` is not set",
                    span,
                    hint=f"set it, or give a default: `${{env:{name}:-VALUE}}`",
                )
            )
            return _UNSET
        if sep and kind == "secret":
            if not NAME.fullmatch(rest):
                self.problems.append(
                    error(
                        "LS304",
                        f"`{rest}` is not a valid secret name",
                        span,
                        hint="secret names are letters, digits and `_`, "
                        "e.g. `${secret:OPENAI_API_KEY}`",
                    )
                )
                return _UNSET
            return SecretRef(rest)
        hint = did_you_mean(kind if sep else body.split(".")[0], ["vars", "env", "secret"])
        self.problems.append(
            error(
                "LS305",
                f"`${{{body}}}` is not a known interpolation",
                span,
                hint=hint
                or "use ${vars.NAME}, ${env:NAME}, ${env:NAME:-default} or ${secret:NAME};"
                " write `$${` for a literal `${`",
            )
        )
        return _UNSET

    def variable(self, parts: tuple[str, ...], span: Span | None) -> Any:
        path: Path = ("vars",) + parts
        if path in self.resolved:
            return self.resolved[path]
        node: Any = self.vars
        for i, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                choices = list(node) if isinstance(node, dict) else []
                name = ".".join(parts[: i + 1])
                self.problems.append(
                    error(
                        "LS301",
                        f"variable `vars.{name}` is not defined",
                        span,
                        hint=did_you_mean(part, choices)
                        or (
                            f"defined variables: {', '.join(map(str, choices))}"
                            if choices
                            else "define it under `vars:`"
                        ),
                    )
                )
                return _UNSET
            node = node[part]
        if path in self.active:
            cycle = self.active[self.active.index(path) :] + [path]
            self.problems.append(
                error(
                    "LS303",
                    "variables refer to each other in a cycle: "
                    + " -> ".join(format_path(p) for p in cycle),
                    span,
                    related=[
                        Related(s, f"`{format_path(p)}` is defined here")
                        for p in cycle[:-1]
                        if (s := self.doc.span(p)) is not None
                    ],
                )
            )
            return _UNSET
        self.active.append(path)
        value = self.walk(node, path)
        self.active.pop()
        self.resolved[path] = value
        return value

    def credential(self, text: str, path: Path) -> None:
        found = looks_like_credential(text)
        if found is None:
            return
        label, start, end = found
        self.problems.append(
            error(
                "LS310",
                f"`{format_path(path)}` holds what looks like {label} in plain text",
                self.where(path, text, start, end - start),
                hint="never commit credentials: store it as a secret and write `${secret:NAME}`",
            )
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
