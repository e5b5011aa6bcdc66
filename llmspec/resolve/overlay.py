"""Environment overlays and ``--set`` overrides, merged with their positions kept.

Order: the base spec, then ``environments.<env>`` inside it, then an overlay file
``<spec>.<env>.yaml`` beside it, then each ``--set`` in the order given. Mappings merge deeply,
lists and scalars are replaced. A mapping whose ``source`` or ``kind`` changes is replaced, not
merged, because fields of one model source (say `revision` of `hf`) mean nothing to another.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any

from llmspec.core.diagnostics import Diagnostic, Related, Span, SpecError, did_you_mean, error
from llmspec.source.document import Document, Path, format_path
from llmspec.source.loader import load_file

DISCRIMINATORS = ("source", "kind")
_MISSING = object()


def overlay_files(spec_file: str | FsPath) -> dict[str, FsPath]:
    """Overlay files beside a spec: ``app.yaml`` -> ``app.prod.yaml`` for env ``prod``."""
    spec = FsPath(spec_file)
    folder = spec.parent
    try:
        names = _listing(str(folder), os.stat(folder).st_mtime_ns)
    except OSError:
        return {}
    found: dict[str, FsPath] = {}
    prefix = spec.stem + "."
    for name in names:
        if not name.startswith(prefix) or name == spec.name:
            continue
        for suffix in (".yaml", ".yml"):
            env = name[len(prefix) : -len(suffix)] if name.endswith(suffix) else ""
            if env and "." not in env:
                found.setdefault(env, folder / name)
    return found


@lru_cache(maxsize=64)
def _listing(folder: str, mtime_ns: int) -> tuple[str, ...]:
    """A folder's file names, cached while the folder is unchanged (its mtime moves when a file
    is added or removed): validating N specs in one folder lists it once, not N times."""
    return tuple(sorted(os.listdir(folder)))


def environment_names(doc: Document, files: Mapping[str, FsPath]) -> list[str]:
    """Environments a spec declares, inline first, then those only in overlay files."""
    inline = doc.data.get("environments") if isinstance(doc.data, dict) else None
    names = [str(k) for k in inline] if isinstance(inline, dict) else []
    return names + [n for n in files if n not in names]


def select_environment(
    doc: Document, env: str, files: Mapping[str, FsPath], display: Any = str
) -> Document:
    """The base document with environment ``env`` merged on top."""
    names = environment_names(doc, files)
    if env not in names:
        span = doc.key_span(("environments",))
        hint = did_you_mean(env, names) or (
            f"declared environments: {', '.join(names)}"
            if names
            else "declare it under `environments:` or in an overlay file beside the spec"
        )
        raise SpecError(
            [error("LS306", f"environment `{env}` is not declared in this spec", span, hint=hint)]
        )
    result = doc
    inline = doc.data.get("environments") or {}
    if env in inline:
        overlay = inline[env]
        prefix = ("environments", env)
        if overlay is not None:
            if not isinstance(overlay, dict):
                raise SpecError(
                    [
                        error(
                            "LS308",
                            f"environment `{env}` must be a mapping of sections",
                            doc.span(prefix),
                        )
                    ]
                )
            result = merge(result, overlay, doc, prefix, f"environments.{env}")
    if env in files:
        name = display(files[env])
        over = load_file(files[env], name, layer=name)
        result = merge(result, over.data, over, (), name)
    _check_identity(doc, result, env)
    return result


def merge(
    base: Document, overlay: dict[str, Any], source: Document, prefix: Path, layer: str
) -> Document:
    """Deep-merge ``overlay`` (found at ``prefix`` inside ``source``) onto ``base``."""
    replaced: list[Path] = []
    data = _merge_value(base.data, overlay, (), replaced)
    n = len(prefix)
    values = _drop_under(base.values, replaced)
    keys = _drop_under(base.keys, replaced)
    for table, target in ((source.values, values), (source.keys, keys)):
        for path, span in table.items():
            if len(path) > n and path[:n] == prefix:
                target[path[n:]] = span if span.layer == layer else span.with_layer(layer)
    sources = {**base.sources, **source.sources}
    return Document(base.file, data, values, keys, sources)


def _merge_value(base: Any, over: Any, path: Path, replaced: list[Path]) -> Any:
    if isinstance(base, dict) and isinstance(over, dict) and not _switches(base, over):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge_value(base.get(key, _MISSING), value, path + (key,), replaced)
        return out
    if isinstance(base, (dict, list)):  # only collections have positions below them to drop
        replaced.append(path)
    return over


def _switches(base: dict[str, Any], over: dict[str, Any]) -> bool:
    return any(k in over and k in base and over[k] != base[k] for k in DISCRIMINATORS)


def _drop_under(table: Mapping[Path, Span], replaced: Sequence[Path]) -> dict[Path, Span]:
    if not replaced:
        return dict(table)
    gone = set(replaced)
    return {
        path: span
        for path, span in table.items()
        if not any(path[:n] in gone for n in range(1, len(path)))
    }


def _check_identity(base: Document, result: Document, env: str) -> None:
    before = base.get(("metadata", "name"))
    after = result.get(("metadata", "name"))
    if before != after:
        span = result.span(("metadata", "name"))
        first = base.span(("metadata", "name"))
        raise SpecError(
            [
                error(
                    "LS308",
                    f"environment `{env}` renames the app from `{before}` to `{after}`",
                    span,
                    hint="an app keeps one name in every environment; registry names go under "
                    "`serving.registry.name`",
                    related=[Related(first, "the app is named here")] if first else [],
                )
            ]
        )


# -- --set overrides (Hydra's override grammar) -----------------------------------------------


def apply_overrides(
    doc: Document,
    overrides: Iterable[str],
    fields: Callable[[Path, Any], list[str]] = lambda path, data: [],
) -> Document:
    """Apply ``--set`` overrides in order (Hydra's grammar).

    ``a.b=v`` changes a value, ``+a.b=v`` adds one, ``++a.b=v`` adds or changes, ``~a.b`` deletes.
    As Hydra with a structured config, ``a.b=v`` also sets a field the spec leaves to its
    default when the schema declares it: ``fields(path, data)`` names the fields declared under
    a path (the front end asks the spec models; this room knows no schema).
    """
    overrides = list(overrides)
    if not overrides:
        return doc
    from hydra.core.override_parser.overrides_parser import OverridesParser  # costs ~0.1 s

    parser = OverridesParser.create()
    problems: list[Diagnostic] = []
    for index, text in enumerate(overrides, start=1):
        name = f"--set #{index}"
        span = Span(name, 1, 1, 1, max(len(text), 1), layer="--set")
        sources = {**doc.sources, name: text}
        try:
            override = parser.parse_override(text)
        except Exception as exc:  # Hydra raises its own exception types for grammar errors
            problems.append(
                error(
                    "LS307",
                    f"cannot parse override `{text}`: {exc}",
                    span,
                    hint="use KEY=VALUE, +KEY=VALUE (add), ++KEY=VALUE (add or change)"
                    " or ~KEY (delete), as in Hydra",
                )
            )
            continue
        if override.is_sweep_override():
            problems.append(
                error(
                    "LS307",
                    f"`{text}` is a sweep; an override sets one value",
                    span,
                    hint="quote values that contain commas: key='a,b'",
                )
            )
            continue
        path = tuple(int(p) if p.isdigit() else p for p in override.key_or_group.split("."))
        kind = override.type.name
        value = None if kind == "DEL" else override.value()
        declared = str(path[-1]) in fields(path[:-1], doc.data)
        if kind == "CHANGE" and declared and doc.get(path, _MISSING) is _MISSING:
            kind = "FORCE_ADD"  # a declared field at its default: set it, parents included
        try:
            doc = _set_path(doc, path, value, kind, span, sources, fields)
        except SpecError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise SpecError(problems)
    return doc


def _set_path(
    doc: Document,
    path: Path,
    value: Any,
    kind: str,
    span: Span,
    sources: dict[str, str],
    fields: Callable[[Path, Any], list[str]],
) -> Document:
    parent = doc.get(path[:-1], _MISSING)
    last = path[-1]
    dotted = format_path(path)
    above = path[:-1]
    parent_declared = len(above) == 0 or str(above[-1]) in fields(above[:-1], doc.data)
    creatable = kind in ("ADD", "FORCE_ADD") and not any(isinstance(p, int) for p in path)
    if parent is _MISSING and creatable and parent_declared:
        parent = {}  # a declared section the spec leaves out is created, as its defaults are
    if not isinstance(parent, (dict, list)):
        raise SpecError(
            [
                error(
                    "LS307",
                    f"`{format_path(above)}` is not set in this spec",
                    span,
                    hint=f"to add it use `+{dotted}=...`"
                    if parent_declared and parent is _MISSING
                    else f"create the parent first: `+{format_path(above)}={{...}}`",
                )
            ]
        )
    exists = (
        (last in parent)
        if isinstance(parent, dict)
        else (isinstance(last, int) and 0 <= last < len(parent))
    )
    if kind == "CHANGE" and not exists:
        choices = [str(k) for k in parent] if isinstance(parent, dict) else []
        choices += fields(above, doc.data)
        raise SpecError(
            [
                error(
                    "LS307",
                    f"`{dotted}` is not set in this spec",
                    span,
                    hint=did_you_mean(str(last), choices)
                    or f"to add a new key use `+{dotted}=...`",
                )
            ]
        )
    if kind == "ADD" and exists:
        raise SpecError(
            [
                error(
                    "LS307",
                    f"`{dotted}` is already set",
                    span,
                    hint=f"to change it use `{dotted}=...`",
                )
            ]
        )
    if kind == "DEL" and not exists:
        raise SpecError([error("LS307", f"`{dotted}` is not set; nothing to delete", span)])
    if kind == "DEL":
        nested: Any = _without(doc.data, path)
        values = _drop_under({**doc.values}, [path])
        values.pop(path, None)
        keys = _drop_under({**doc.keys}, [path])
        keys.pop(path, None)
        return Document(doc.file, nested, values, keys, sources)
    wrapped: Any = value
    for part in reversed(path):
        wrapped = {part: wrapped}
    if any(isinstance(p, int) for p in path):
        data = _with_index(doc.data, path, value)
        values = _drop_under(dict(doc.values), [path])
        values[path] = span
        return Document(doc.file, data, values, dict(doc.keys), sources)
    source = Document(span.file, wrapped, _spans_for(value, path, span), {path: span}, sources)
    return merge(
        Document(doc.file, doc.data, doc.values, doc.keys, sources), wrapped, source, (), "--set"
    )


def _spans_for(value: Any, path: Path, span: Span) -> dict[Path, Span]:
    out = {path: span}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(_spans_for(v, path + (k,), span))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.update(_spans_for(v, path + (i,), span))
    return out


def _without(data: Any, path: Path) -> Any:
    if len(path) == 1:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k != path[0]}
        return [v for i, v in enumerate(data) if i != path[0]]
    head = path[0]
    if isinstance(data, dict):
        return {**data, head: _without(data[head], path[1:])}
    copy = list(data)
    copy[head] = _without(copy[head], path[1:])  # type: ignore[index]
    return copy


def _with_index(data: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    head = path[0]
    if isinstance(data, dict):
        return {**data, head: _with_index(data.get(head), path[1:], value)}
    copy = list(data)
    copy[head] = _with_index(copy[head], path[1:], value)  # type: ignore[index]
    return copy
