"""Which dotted paths the schema declares, for `--set` (as Hydra does with a structured config):
a declared field may be set with plain `key=value` even where the spec leaves it to its default;
`+` stays for what the schema does not declare (`vars`, a new dataset or template name,
plug-in settings)."""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

Path = tuple[str | int, ...]


def declared(path: Path, data: Any) -> bool:
    """Whether ``path`` names a field of the schema for a spec holding ``data``: model fields
    by name; the keys of a mapping and the items of a list only where ``data`` has them;
    a union (a model `source`, a target `kind`) by the member ``data`` selects."""
    from llmspec.spec.root import Spec

    return _declares(Spec, path, data)


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


def _declares(annotation: Any, path: Path, data: Any) -> bool:
    if not path:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _declares(get_args(annotation)[0], path, data)
    if origin in (Union, types.UnionType):
        members = [m for m in get_args(annotation) if m is not type(None)]
        chosen = [m for m in members if _selected(m, data)] or members
        return any(_declares(m, path, data) for m in chosen)
    head, rest = path[0], path[1:]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(head))
        inner = data.get(head) if isinstance(data, dict) else None
        return field is not None and _declares(field.annotation, rest, inner)
    if origin is dict and isinstance(data, dict) and head in data:
        return _declares(get_args(annotation)[1], rest, data[head])
    if origin is list and isinstance(data, list) and isinstance(head, int) and head < len(data):
        return _declares(get_args(annotation)[0], rest, data[head])
    return False


def _selected(member: Any, data: Any) -> bool:
    """A union member the data's discriminator (`source`, `kind`) names."""
    if not (isinstance(member, type) and issubclass(member, BaseModel) and isinstance(data, dict)):
        return False
    for key in ("source", "kind"):
        field = member.model_fields.get(key)
        if field is not None and key in data and get_origin(field.annotation) is Literal:
            return data[key] in get_args(field.annotation)
    return False
