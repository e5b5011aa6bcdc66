"""The JSON Schema and the Markdown spec reference, both generated from the pydantic models."""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from llmspec.spec import Spec

SCHEMA_ID = "https://llmspec.dev/schemas/llmspec.schema.json"


INTERPOLATION = {
    "type": "string",
    "pattern": r"\$\{(vars\.|env:)[^}]+\}",
    "description": "An interpolation, `${vars.NAME}` or `${env:NAME}`, resolved before validation.",
}


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec file, for editors and `check-jsonschema`.

    The schema describes the file as written, so typed values may also be interpolations.
    """
    schema = Spec.model_json_schema(mode="validation")
    schema = _allow_interpolation(schema)
    schema.setdefault("$defs", {})["Interpolation"] = INTERPOLATION
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "llmspec LLMApp spec",
    }


def _allow_interpolation(node: Any) -> Any:
    """Let typed leaves (numbers, booleans, enums, patterned strings) be interpolations too;
    constants stay literal, since a discriminator like `source` must pick a schema as written."""
    if isinstance(node, list):
        return [_allow_interpolation(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _allow_interpolation(v) for k, v in node.items()}
    typed = (
        out.get("type") in ("integer", "number", "boolean")
        or "enum" in out
        or (out.get("type") == "string" and "pattern" in out)
    )
    if not typed or "const" in out:
        return out
    keep = {k: out.pop(k) for k in ("title", "description", "default", "examples") if k in out}
    return {**keep, "anyOf": [out, {"$ref": "#/$defs/Interpolation"}]}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


# -- Markdown reference ------------------------------------------------------------------------


def reference_markdown() -> str:
    """docs/spec-reference.md: every section, field, type, default and example."""
    out = [
        "# Spec reference",
        "",
        "Generated from the spec models by `llmspec schema --docs docs`;",
        "a test fails when this file is stale. Unknown keys are errors everywhere.",
        "",
    ]
    seen: set[type[BaseModel]] = set()
    queue: list[tuple[str, type[BaseModel]]] = [("", Spec)]
    while queue:
        where, model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        title = f"`{where}`" if where else "Top level"
        out += [f"## {title} — {model.__name__}", ""]
        doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        if doc:
            out += [doc, ""]
        out += ["| key | type | default | description |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            out.append(
                f"| `{name}` | {_type_text(field.annotation)} | {_default(field)} | "
                f"{_description(field)} |"
            )
            for child in _models_in(field.annotation):
                queue.append((f"{where}.{name}" if where else name, child))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _description(field: FieldInfo) -> str:
    text = (field.description or "").replace("|", "\\|").replace("\n", " ")
    if field.examples:
        text += " Example: `" + json.dumps(field.examples[0]).replace("|", "\\|") + "`."
    return text


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        if value == {} and field.validate_default:
            return "(section defaults)"
        return f"`{json.dumps(value)}`"
    if field.default is PydanticUndefined:
        return ""
    return f"`{json.dumps(field.default)}`"


def _type_text(tp: Any) -> str:
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is typing.Annotated:
        return _type_text(args[0])
    if origin in (Union, types.UnionType):
        parts = [_type_text(a) for a in args if a is not type(None)]
        text = " \\| ".join(parts)
        return text + (" \\| null" if type(None) in args else "")
    if origin is typing.Literal:
        return " \\| ".join(f"`{json.dumps(a)}`" for a in args)
    if origin is list:
        return f"list of {_type_text(args[0])}"
    if origin is dict:
        return f"map of {_type_text(args[1])}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp.__name__
    if tp is typing.Any:
        return "any"
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _models_in(tp: Any) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    out: list[type[BaseModel]] = []
    for arg in get_args(tp):
        out.extend(_models_in(arg))
    return out


def diagnostics_markdown() -> str:
    """docs/diagnostics.md: every diagnostic code, grouped by the stage that reports it."""
    from llmspec.core.codes import CODES, MOVED, stage_of

    out = [
        "# Diagnostic codes",
        "",
        "Generated from `llmspec/core/codes.py` by `llmspec schema --docs docs`. A code never",
        "changes meaning. `llmspec validate --format json` reports them as `code`. Codes are",
        "grouped by the room that reports them.",
        "",
    ]
    stage = None
    for code, title in CODES.items():
        if stage_of(code) != stage:
            stage = stage_of(code)
            out += ["", f"## {code[:3]}xx — {stage}", "", "| code | meaning |", "|---|---|"]
        out.append(f"| `{code}` | {title} |")
    out += [
        "",
        "## Moved codes",
        "",
        "When apply, the step kinds and the day-2 commands got rooms of their own, their codes",
        "(all LS6xx before) moved with them; the meaning of each is unchanged. Options of a",
        "command that do not go together are `LS001` everywhere (`diff` said `LS307` before).",
        "",
        "| was | now | meaning |",
        "|---|---|---|",
    ]
    out += [f"| `{old}` | `{new}` | {CODES[new]} |" for old, new in MOVED.items()]
    return "\n".join(out).replace("\n\n\n", "\n\n") + "\n"


def generated_docs() -> dict[str, str]:
    """File name (under docs/) -> content, for everything generated from the code."""
    from llmspec.authoring.cli_reference import cli_markdown

    return {
        "spec-reference.md": reference_markdown(),
        "diagnostics.md": diagnostics_markdown(),
        "cli.md": cli_markdown(),
    }
