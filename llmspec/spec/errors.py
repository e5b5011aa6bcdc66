"""Turn pydantic's validation errors into Diagnostics that point at the spec's own lines."""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from llmspec.core.diagnostics import Diagnostic, Span, did_you_mean, error
from llmspec.core.secrets import SecretRef
from llmspec.source.document import ABSENT, Document, Path, child, format_path

_TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "`true` or `false`",
    "string": "text",
    "str": "text",
    "dict": "a mapping",
    "list": "a list",
    "model": "a mapping",
    "model_attributes": "a mapping",
    "bytes": "text",
}
_RANGE_ERRORS = frozenset(
    {
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "multiple_of",
        "string_pattern_mismatch",
        "too_short",
        "too_long",
        "string_too_short",
        "string_too_long",
        "finite_number",
    }
)


def diagnostics_from(exc: Any, doc: Document, root: type[BaseModel]) -> list[Diagnostic]:
    """One Diagnostic per pydantic error, positioned with ``doc``'s source map."""
    out: list[Diagnostic] = []
    for err in exc.errors(include_url=False):
        out.append(_one(err, doc, root))
    return out


def _one(err: dict[str, Any], doc: Document, root: type[BaseModel]) -> Diagnostic:
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    path = _data_path(tuple(err["loc"]), doc.data)
    where = format_path(path)
    value = err.get("input")

    if kind == "extra_forbidden":
        key = str(path[-1])
        allowed = _fields_at(root, path[:-1], doc.data)
        parent = format_path(path[:-1])
        message = f"unknown key `{key}`" if len(path) == 1 else f"unknown key `{key}` in `{parent}`"
        hint = did_you_mean(key, allowed) if allowed else None
        if hint is None and allowed:
            hint = "allowed keys: " + ", ".join(f"`{k}`" for k in allowed)
        return error("LS201", message, doc.key_span(path), hint=hint)
    if kind == "missing":
        key = str(path[-1])
        parent = format_path(path[:-1])
        message = (
            f"missing required key `{key}`"
            if len(path) == 1
            else f"`{parent}` is missing required key `{key}`"
        )
        return error(
            "LS202",
            message,
            doc.key_span(path[:-1]) if path[:-1] else doc.span(()),
            hint=_field_hint(root, path, doc.data),
        )
    if kind == "union_tag_not_found":
        tag = ctx.get("discriminator", "").strip("'")
        return error(
            "LS202",
            f"`{where}` needs `{tag}` to say which kind it is",
            doc.key_span(path),
            hint=f"one of: {_choices_from(root, path, tag, doc.data)}",
        )
    if kind == "union_tag_invalid":
        tag = ctx.get("discriminator", "").strip("'")
        choices = _quoted(ctx.get("expected_tags", ""))
        return _not_one_of(f"{where}.{tag}", str(ctx.get("tag")), choices, doc.span(path + (tag,)))
    if kind in ("literal_error", "enum"):
        return _not_one_of(where, _show(value), _quoted(ctx.get("expected", "")), doc.span(path))
    if kind == "unknown_choice":
        choices = [str(c) for c in ctx.get("choices", [])]
        hint = did_you_mean(str(ctx.get("value")), choices) or ctx.get("extra")
        return error("LS204", f"`{where}`: {err['msg']}", doc.span(path), hint=hint)
    if kind == "secret_required":
        return error(
            "LS310",
            f"`{where}` must be a secret reference, not a literal value",
            doc.span(path),
            hint="store the value as a secret and write "
            "`${secret:NAME}`; it is read where it is used",
        )
    if isinstance(value, SecretRef):
        return error(
            "LS309",
            f"`{where}` cannot hold a secret reference",
            doc.span(path),
            hint="secrets are accepted only by credential fields (api_key, env, "
            "storage_options); use `${env:NAME}` for plain configuration",
        )
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "model_attributes_type":
        wanted = _TYPE_WORDS.get(
            kind.removesuffix("_type").removesuffix("_parsing"), kind.removesuffix("_type")
        )
        hint = None
        if kind == "bool_type" and isinstance(value, str):
            hint = "YAML 1.2 booleans are `true` and `false`; `yes`, `no`, `on`, `off` are text"
        elif kind in ("float_parsing", "int_parsing", "float_type", "int_type") and isinstance(
            value, str
        ):
            hint = "write the number without quotes"
        elif kind in ("string_type",) and isinstance(value, (int, float, bool)):
            hint = "quote it to keep it as text"
        return error(
            "LS203",
            f"`{where}` must be {wanted}, found {_describe(value)}",
            doc.span(path),
            hint=hint,
        )
    if kind in _RANGE_ERRORS:
        message = err["msg"][0].lower() + err["msg"][1:]
        return error(
            "LS205",
            f"`{where}`: {message} (found `{_show(value)}`)",
            doc.span(path),
            hint=_field_hint(root, path, doc.data) if path else None,
        )
    field = ctx.get("field")
    target = path + (field,) if field else path
    message = err["msg"].removeprefix("Value error, ")
    return error("LS206", f"`{where}`: {message}", doc.key_span(target))


def _not_one_of(where: str, given: str, choices: list[str], span: Span | None) -> Diagnostic:
    return error(
        "LS204",
        f"`{where}` is `{given}`, which is not one of " + ", ".join(f"`{c}`" for c in choices),
        span,
        hint=did_you_mean(given, choices),
    )


def _data_path(loc: tuple[Any, ...], data: Any) -> Path:
    """Drop the parts of pydantic's ``loc`` that are not in the data (union tags, wrappers)."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        value = child(node, part)
        if value is not ABSENT:
            out.append(part)
            node = value
        elif last and isinstance(node, dict) and isinstance(part, str):
            out.append(part)  # a missing or unknown key: keep it so the message can name it
        else:
            continue  # a discriminator tag or validator name pydantic adds to the location
    return tuple(out)


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            if len(members) == 1:
                tp = members[0]
            else:
                return models or members
        else:
            return tp


def _model_at(root: type[BaseModel], path: Path, data: Any) -> type[BaseModel] | None:
    tp: Any = root
    node = data
    for part in path:
        tp = _pick(_unwrap(tp), node)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) in (list, dict):
            tp = get_args(tp)[-1]
        else:
            return None
        node = child(node, part)
    tp = _pick(_unwrap(tp), node)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _pick(tp: Any, node: Any) -> Any:
    """For a union of models, the member the data selects by `source`/`kind`."""
    if not isinstance(tp, list):
        return tp
    for member in tp:
        if not (isinstance(member, type) and issubclass(member, BaseModel)):
            continue
        for key in ("source", "kind"):
            field = member.model_fields.get(key)
            if (
                field is not None
                and isinstance(node, dict)
                and node.get(key) in get_args(_unwrap(field.annotation))
            ):
                return member
    models = [m for m in tp if isinstance(m, type) and issubclass(m, BaseModel)]
    return models[0] if len(models) == 1 else tp


def _fields_at(root: type[BaseModel], path: Path, data: Any) -> list[str]:
    model = _model_at(root, path, data)
    return list(model.model_fields) if model else []


def _field_hint(root: type[BaseModel], path: Path, data: Any) -> str | None:
    model = _model_at(root, path[:-1], data)
    if model is None:
        return None
    field = model.model_fields.get(str(path[-1]))
    if field is None or not field.description:
        return None
    example = f" (e.g. `{field.examples[0]}`)" if field.examples else ""
    return f"`{path[-1]}`: {field.description}{example}"


def _choices_from(root: type[BaseModel], path: Path, tag: str, data: Any) -> str:
    model = None
    parent = _model_at(root, path[:-1], data)
    if parent is not None:
        field = parent.model_fields.get(str(path[-1]))
        members = _unwrap(field.annotation) if field else []
        model = members if isinstance(members, list) else None
    if not model:
        return "see the spec reference"
    values: list[Any] = []
    for member in model:
        field = member.model_fields.get(tag)
        if field is not None:
            values.extend(get_args(_unwrap(field.annotation)))
    return ", ".join(f"`{v}`" for v in values)


def _quoted(text: str) -> list[str]:
    found = re.findall(r"'([^']*)'", text)
    return found or [t.strip() for t in re.split(r",| or ", text) if t.strip()]


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean `{str(value).lower()}`"
    if isinstance(value, (int, float)):
        return f"the number `{value}`"
    if isinstance(value, str):
        return f"the text `{_show(value)}`"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
