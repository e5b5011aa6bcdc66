"""The whole spec: one model per section, composed."""

from typing import Any, Literal

from pydantic import Field

from llmspec.spec.base import SpecModel, section
from llmspec.spec.evaluation import Evaluation
from llmspec.spec.finetune import Finetune
from llmspec.spec.governance import Governance, StateConfig, Tracking
from llmspec.spec.metadata import Metadata
from llmspec.spec.model import ModelSource
from llmspec.spec.prompts import Prompts
from llmspec.spec.retrieval import Retrieval
from llmspec.spec.serving import Serving

API_VERSION = "llmspec/v1"
Section = dict[str, Any] | None


class EnvironmentOverlay(SpecModel):
    """Sections an environment may override; deep-merged onto the base before validation."""

    metadata: Section = Field(None, description="Overrides of `metadata` (not its name).")
    vars: Section = Field(None, description="Overrides of `vars`.")
    model: Section = Field(
        None,
        description="Overrides of `model`; a different `source` "
        "replaces the section instead of merging.",
    )
    prompts: Section = Field(None, description="Overrides of `prompts`.")
    retrieval: Section = Field(None, description="Overrides of `retrieval`.")
    finetune: Section = Field(None, description="Overrides of `finetune`.")
    evaluation: Section = Field(None, description="Overrides of `evaluation`.")
    serving: Section = Field(None, description="Overrides of `serving`.")
    governance: Section = Field(None, description="Overrides of `governance`.")
    tracking: Section = Field(None, description="Overrides of `tracking`.")
    state: Section = Field(None, description="Overrides of `state`.")


class Spec(SpecModel):
    """An LLM application: model, prompts, retrieval, fine-tune, evaluation, serving."""

    apiVersion: Literal["llmspec/v1"] = Field(description="Spec language version.")
    kind: Literal["LLMApp"] = Field(description="What the file describes.")
    metadata: Metadata = Field(description="Identity and registry card.")
    vars: dict[str, Any] = Field(
        default_factory=dict,
        description="Reusable values, referenced as `${vars.NAME}`.",
        examples=[{"alias": "champion"}],
    )
    model: ModelSource = Field(description="The base LLM, by `source`.")
    prompts: Prompts = Field(description="System prompt and templates.")
    retrieval: Retrieval | None = Field(None, description="The retrieval index (RAG).")
    finetune: Finetune | None = Field(None, description="The fine-tune recipe.")
    evaluation: Evaluation | None = Field(None, description="Eval datasets, metrics and gates.")
    serving: Serving = section("Registry, targets, monitoring.")
    governance: Governance = section("Policies.")
    tracking: Tracking = section("MLflow tracking.")
    state: StateConfig = section("Where apply records state and keeps built artifacts.")
    environments: dict[str, EnvironmentOverlay | None] = Field(
        default_factory=dict, description="Per-environment overlays (dev, staging, prod…)."
    )

    @property
    def registered_name(self) -> str | None:
        registry = self.serving.registry
        if registry is None:
            return None
        return registry.name or self.metadata.name
