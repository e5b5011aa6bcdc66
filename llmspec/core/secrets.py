"""Secret references: ``${secret:NAME}`` stays a reference until the process that needs it."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from pydantic_core import PydanticCustomError, core_schema

if TYPE_CHECKING:  # pydantic.json_schema costs ~15 ms to import; validation never needs it
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
REFERENCE = re.compile(r"\$\{secret:([A-Za-z_][A-Za-z0-9_]*)\}")


class SecretRef:
    """A reference to a secret by name. Its text form is the reference, never the value."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not NAME.fullmatch(name):
            raise ValueError(f"invalid secret name {name!r}")
        self.name = name

    def __repr__(self) -> str:
        return f"SecretRef({self.name!r})"

    def __str__(self) -> str:
        return "${secret:" + self.name + "}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretRef) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("secret", self.name))

    @classmethod
    def parse(cls, value: Any) -> SecretRef:
        """The reference written as ``${secret:NAME}`` (or already a reference)."""
        return _validate(value)

    def resolve(self, environ: dict[str, str] | None = None) -> str:
        """The secret's value, read from the environment of the process that needs it."""
        env = os.environ if environ is None else environ
        try:
            return env[self.name]
        except KeyError:
            raise LookupError(f"secret {self.name} is not set in this environment") from None

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": r"^\$\{secret:[A-Za-z_][A-Za-z0-9_]*\}$",
            "description": "A secret reference, `${secret:NAME}`; the value is read from the "
            "environment of the process that uses it and never written down.",
            "examples": ["${secret:PROVIDER_API_KEY}"],
        }


def _validate(value: Any) -> SecretRef:
    if isinstance(value, SecretRef):
        return value
    if isinstance(value, str):
        match = REFERENCE.fullmatch(value)
        if match:
            return SecretRef(match.group(1))
    raise PydanticCustomError(
        "secret_required", "must be a secret reference such as `${{secret:API_KEY}}`"
    )


# Shapes of real credentials; a literal like these anywhere in a spec is an error.
CREDENTIAL_SHAPES: dict[str, tuple[str, str]] = {
    "openai": ("an OpenAI-style API key", r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"),
    "aws": ("an AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "github": ("a GitHub token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}"),
    "huggingface": ("a Hugging Face token", r"\bhf_[A-Za-z0-9]{30,}"),
    "google": ("a Google API key", r"\bAIza[0-9A-Za-z_-]{35}"),
    "slack": ("a Slack token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "private_key": ("a private key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
# One alternation, so every string of a spec is scanned once rather than once per shape.
_CREDENTIAL = re.compile("|".join(f"(?P<{k}>{p})" for k, (_, p) in CREDENTIAL_SHAPES.items()))


def looks_like_credential(text: str) -> tuple[str, int, int] | None:
    """(what it looks like, start, end) for the first credential-shaped part of ``text``."""
    if len(text) < 20:
        return None
    match = _CREDENTIAL.search(text)
    if match is None or match.lastgroup is None:
        return None
    return CREDENTIAL_SHAPES[match.lastgroup][0], match.start(), match.end()
