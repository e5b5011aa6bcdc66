"""The fields the schema declares under a dotted path, for `--set` (Hydra's structured-config rule):
a declared field may be set with plain `key=value` even where the spec leaves it to its default;
`+` stays for what the schema does not declare (`vars`, a new dataset or template name, plug-in
settings)."""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

Path = tuple[str | int, ...]


def field_names(path: Path, data: Any) -> list[str]:
    """The fields the schema declares directly under ``path`` (for a did-you-mean); none where
    ``path`` is a mapping of the user's own keys or a value."""
    from llmspec.spec.root import Spec

    return sorted(_names(Spec, path, data))


def _names(annotation: Any, path: Path, data: Any) -> set[str]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _names(get_args(annotation)[0], path, data)
    if origin in (Union, types.UnionType):
        members = [m for m in get_args(annotation) if m is not type(None)]
        chosen = [m for m in members if _selected(m, data)] or members
        return set().union(*(_names(m, path, data) for m in chosen))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not path:
            return set(annotation.model_fields)
        field = annotation.model_fields.get(str(path[0]))
        inner = data.get(path[0]) if isinstance(data, dict) else None
        return _names(field.annotation, path[1:], inner) if field is not None else set()
    if path and origin is dict and isinstance(data, dict) and path[0] in data:
        return _names(get_args(annotation)[1], path[1:], data[path[0]])
    if path and origin is list and isinstance(data, list) and isinstance(path[0], int):
        inside = path[0] < len(data)
        return _names(get_args(annotation)[0], path[1:], data[path[0]]) if inside else set()
    return set()


def _selected(member: Any, data: Any) -> bool:
    """A union member the data's discriminator (`source`, `kind`) names."""
    if not (isinstance(member, type) and issubclass(member, BaseModel) and isinstance(data, dict)):
        return False
    for key in ("source", "kind"):
        field = member.model_fields.get(key)
        if field is not None and key in data and get_origin(field.annotation) is Literal:
            return data[key] in get_args(field.annotation)
    return False
