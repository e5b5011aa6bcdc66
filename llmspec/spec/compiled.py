"""The root model's validator, built once per installation and reused by every later process.

Building the :class:`~llmspec.spec.Spec` validator (pydantic's schema generation over about sixty
models) is the largest single cost of a cold `llmspec validate`: about 35 ms, where rebuilding
the same validator from its core schema takes 4. The first process that validates stores the
core schema (a pickle: it names the spec's validator functions and classes by import path) in
the user's cache (``core.layout.user_cache``); later processes load it and give the model the
validator and serializer pydantic would have built from it.

This leans on two pydantic internals, both checked by ``tests/spec/test_compiled.py``, which fails
loudly when pydantic changes them: a completed model carries ``__pydantic_core_schema__``,
``__pydantic_validator__``, ``__pydantic_serializer__`` and ``__pydantic_complete__``; and a core
schema pickles. Anything unexpected falls back to pydantic's own build. The cache key covers the
pydantic, pydantic-core and Python versions and every spec module (its size and modification
time, the key Python trusts for bytecode), so an upgrade or an edit never reads a stale
validator. A process that loads the cached validator skips pydantic's
validation plugins (they instrument validations; validating a spec file has no use for them).
"""

from __future__ import annotations

import os
import pickle
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmspec.core.layout import file_key, user_cache

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["prepare"]

_SPEC_DIR = Path(__file__).resolve().parent
_FORMAT = 1  # bump when what is stored changes


def prepare(model: type[BaseModel]) -> bool:
    """Make ``model``'s validator ready; True when it came from the cache.

    A model that is already complete is left alone; otherwise the cached validator is installed,
    or pydantic builds it (and the result is cached for the next process). Never raises for a
    cache problem: the worst case is pydantic's usual build.
    """
    if model.__dict__.get("__pydantic_complete__"):
        return False
    key = _key(model)
    path = user_cache("validators") / f"{model.__qualname__}-{zlib.crc32(key.encode()):08x}.pickle"
    try:
        stored_key, schema, config = pickle.loads(path.read_bytes())
        if stored_key == key:
            _install(model, schema, config)
            return True
    except Exception:  # a missing, partial or foreign file: build it the usual way
        pass
    model.model_rebuild()
    _store(path, key, model)
    return False


def _install(model: type[BaseModel], schema: Any, config: Any) -> None:
    """What pydantic's ``complete_model_class`` sets on a model with no computed or deprecated
    fields, from a core schema it produced earlier."""
    from pydantic_core import SchemaSerializer, SchemaValidator

    validator = SchemaValidator(schema, config)
    serializer = SchemaSerializer(schema, config)
    model.__pydantic_core_schema__ = schema
    model.__pydantic_validator__ = validator
    model.__pydantic_serializer__ = serializer
    model.__pydantic_complete__ = True


def _store(path: Path, key: str, model: type[BaseModel]) -> None:
    from pydantic._internal._config import ConfigWrapper

    try:
        config = ConfigWrapper(model.model_config).core_config(title=model.__name__)
        data = pickle.dumps((key, model.__pydantic_core_schema__, config), protocol=5)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_bytes(data)
        os.chmod(partial, 0o600)
        os.replace(partial, path)  # readers see the old file or the whole new one
    except Exception:  # a read-only home or an unpicklable validator: nothing is cached
        pass


def _key(model: type[BaseModel]) -> str:
    """The versions and spec modules the validator depends on (a stat each, no hashing)."""
    import pydantic
    import pydantic_core

    return "|".join(
        (
            str(_FORMAT),
            pydantic.VERSION,
            pydantic_core.__version__,
            sys.version,
            f"{model.__module__}.{model.__qualname__}",
            file_key(*sorted(str(p) for p in _SPEC_DIR.glob("*.py"))),
        )
    )
