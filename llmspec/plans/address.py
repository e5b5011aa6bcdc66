"""Resource addresses as a type: `kind.name`, parsed once and built by named constructors.

State, plans and the build store keep addresses as strings (their JSON formats are fixed), so an
:class:`Address` crosses into them as ``str(address)``; what reads one back parses it. The
constructors for the built-in kinds are the one place their names are spelled, so no module
builds ``f"promote.{app}@{alias}"`` by hand (Terraform's ``addrs`` package, in small).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Address"]

# a kind is an identifier; a name is anything printable without blanks (a table name may hold
# dots, a promotion `app@alias`), so the first dot separates the two
_KIND = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
EVAL_DATASET_PREFIX = "eval-"


def _name_ok(name: str) -> bool:
    return bool(name) and name.isprintable() and not any(ch.isspace() for ch in name)


@dataclass(frozen=True, order=True)
class Address:
    """A resource's address: its step kind and its name within the kind."""

    kind: str
    name: str

    def __post_init__(self) -> None:
        if not _KIND.fullmatch(self.kind):
            raise ValueError(f"`{self.kind}` is not a resource kind (letters, digits, _ and -)")
        if not _name_ok(self.name):
            raise ValueError(f"`{self.name}` is not a resource name (printable, no blanks)")

    def __str__(self) -> str:
        return f"{self.kind}.{self.name}"

    @classmethod
    def parse(cls, text: str) -> Address:
        """``kind.name`` back into an address; ValueError when it is not one."""
        kind, dot, name = text.partition(".")
        if not dot:
            raise ValueError(f"`{text}` is not a resource address (`kind.name`)")
        return cls(kind, name)

    # the built-in kinds' addresses, named as the kinds declare them

    @classmethod
    def dataset(cls, name: str) -> Address:
        """``dataset.<name>``: ``train`` and ``validation`` for the fine-tune's data."""
        return cls("dataset", name)

    @classmethod
    def preference_dataset(cls, split: str) -> Address:
        """``dataset.preference-<split>``: the preference stage's ``train`` or ``validation``."""
        return cls("dataset", f"preference-{split}")

    @classmethod
    def eval_dataset(cls, name: str) -> Address:
        """``dataset.eval-<name>``: an evaluation dataset."""
        return cls("dataset", EVAL_DATASET_PREFIX + name)

    @classmethod
    def index(cls, table: str) -> Address:
        """``index.<table>``: the retrieval index."""
        return cls("index", table)

    @classmethod
    def finetune(cls, app: str) -> Address:
        return cls("finetune", app)

    @classmethod
    def preference(cls, app: str) -> Address:
        """``finetune.<app>.preference``: the preference stage that follows the fine-tune."""
        return cls("finetune", f"{app}.preference")

    @classmethod
    def tuned(cls, app: str, preference: bool) -> Address:
        """The fine-tune whose result is packaged: the preference stage when there is one."""
        return cls.preference(app) if preference else cls.finetune(app)

    @classmethod
    def package(cls, app: str) -> Address:
        return cls("package", app)

    @classmethod
    def eval(cls, app: str) -> Address:
        return cls("eval", app)

    @classmethod
    def promote(cls, app: str, alias: str) -> Address:
        """``promote.<app>@<alias>``: the move of an environment's registry alias."""
        return cls("promote", f"{app}@{alias}")

    @classmethod
    def deploy(cls, target: str) -> Address:
        """``deploy.<target>``: a serving target (``kubernetes``, ``kserve-2`` …)."""
        return cls("deploy", target)
