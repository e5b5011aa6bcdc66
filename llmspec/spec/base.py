"""The base every spec model shares, and small reusable field types.

Spec modules do not use ``from __future__ import annotations``: pydantic would then evaluate
every string annotation when the classes are created, about 20 ms of every `llmspec validate`.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

# A YAML boolean only (`true`/`false`): `yes`/`on` are text in YAML 1.2 and are not coerced.
Flag = Annotated[bool, Field(strict=True)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", max_length=63)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")]
Op = Literal[">=", ">", "<=", "<", "=="]  # comparisons of gates and alerts
Quantity = Annotated[
    str,
    Field(
        pattern=r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$", examples=["24Gi", "500m"]
    ),
]


class SpecModel(BaseModel):
    """Unknown keys are errors; values are immutable once validated.

    ``defer_build`` lets only the root model build a validator (once, on first use) instead of
    every nested model building its own at import: it halves the cost of `import llmspec`.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        defer_build=True,
        coerce_numbers_to_str=True,
        validate_default=False,
    )


def section(description: str) -> Any:
    """A sub-section with its own defaults (``serving: {}`` when omitted).

    Built by validating ``{}`` inside the root validator rather than by calling the sub-model:
    a model instantiated in a default factory builds its own validator, which doubled the cost
    of the first validation.
    """
    return Field(default_factory=dict, validate_default=True, description=description)


def invalid(message: str, field: str | None = None) -> PydanticCustomError:
    """A validation error from a model validator, optionally pinned to one of its fields."""
    return PydanticCustomError(
        "invalid_value",
        message.replace("{", "{{").replace("}", "}}"),
        {"field": field} if field else None,
    )
