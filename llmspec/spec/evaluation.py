"""`evaluation`: datasets, metrics (built-in and plug-ins) and the gates that decide promotion."""

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from llmspec.spec.base import (
    Flag,
    Fraction,
    Identifier,
    Op,
    PositiveInt,
    SpecModel,
    invalid,
    section,
)
from llmspec.spec.catalog import BUILTIN_AT_K_METRICS, BUILTIN_METRICS
from llmspec.spec.model import ModelSource

PLUGIN = r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_]\w*$"
_AT_K = re.compile(r"^(" + "|".join(BUILTIN_AT_K_METRICS) + r")@([1-9][0-9]*)$")


def is_builtin_metric(name: str) -> bool:
    return name in BUILTIN_METRICS or bool(_AT_K.match(name))


def metric_k(name: str) -> int | None:
    match = _AT_K.match(name)
    return int(match.group(2)) if match else None


# Module-level functions, not lambdas, so the built validator can be cached (spec/compiled.py).
def _named(value: Any, key: str) -> Any:
    return {key: value} if isinstance(value, str) else value


def _named_path(value: Any) -> Any:
    return _named(value, "path")


def _named_name(value: Any) -> Any:
    return _named(value, "name")


def _default_metrics() -> list[str]:
    return ["rouge_l"]


class EvalDataset(SpecModel):
    path: str = Field(
        description="Records (jsonl) relative to the spec: {question, answer, relevant_docs?}.",
        examples=["data/eval.jsonl"],
    )
    question_field: str = Field("question", description="Field sent as the question.")
    answer_field: str = Field("answer", description="Field with the reference answer.")
    relevant_field: str = Field(
        "relevant_docs", description="Field listing relevant sources (for retrieval metrics)."
    )
    slice_field: str | None = Field(None, description="Field that groups records into slices.")


class Judge(SpecModel):
    model: ModelSource = Field(description="The judging model (any source).")
    rubric: str = Field(description="What the judge scores, as instructions.")
    scale: PositiveInt = Field(5, le=100, description="Scores run from 1 to `scale`.")


BleuTokenizer = Literal[
    "13a", "none", "intl", "char", "zh", "ja-mecab", "ko-mecab", "flores101", "flores200"
]
# the options of the reference implementation behind a built-in metric
METRIC_OPTIONS = {"rouge_l": ("use_stemmer",), "bleu": ("tokenize", "lowercase", "smooth_method")}


class MetricOptions(SpecModel):
    """Options passed to the library that defines a built-in metric."""

    use_stemmer: bool | None = Field(
        None, description="`rouge_l`: Porter stemming of tokens (rouge-score's `use_stemmer`)."
    )
    tokenize: BleuTokenizer | None = Field(
        None, description="`bleu`: sacrebleu's tokenizer (default `13a`)."
    )
    lowercase: bool | None = Field(None, description="`bleu`: compare lower-cased (sacrebleu).")
    smooth_method: Literal["exp", "floor", "add-k", "none"] | None = Field(
        None, description="`bleu`: sacrebleu's smoothing of zero n-gram counts (default `exp`)."
    )

    def given(self) -> dict[str, Any]:
        # Read the fields, not model_dump(): dumping a nested model builds its own serializer
        # (about 25 ms of every validate).
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return {k: v for k, v in values.items() if v is not None}


class Metric(SpecModel):
    """A metric: a built-in name, a `module:function` plug-in, or a model-judged rubric."""

    name: str = Field(
        pattern=r"^[A-Za-z_][\w@.-]*$",
        description="Metric name; built-ins: "
        + ", ".join(f"`{m}`" for m in BUILTIN_METRICS)
        + ", `retrieval_recall@K`, `mrr@K`.",
        examples=["rouge_l"],
    )
    function: str | None = Field(
        None,
        pattern=PLUGIN,
        description="A plug-in `module:function` from the spec's repository.",
        examples=["evals.custom:cites_source"],
    )
    judge: Judge | None = Field(None, description="Score with another model and a rubric.")
    options: MetricOptions = section(
        "Options of the library that defines a built-in metric: `use_stemmer` for `rouge_l` "
        "(rouge-score); `tokenize`, `lowercase`, `smooth_method` for `bleu` (sacrebleu)."
    )

    @model_validator(mode="after")
    def _known(self) -> "Metric":
        if self.function and self.judge:
            raise invalid("give either `function` or `judge`, not both", "judge")
        for option in self.options.given():
            if option not in METRIC_OPTIONS.get(self.name, ()) or self.function or self.judge:
                takes = [m for m, names in METRIC_OPTIONS.items() if option in names]
                raise invalid(f"`{option}` is an option of `{', '.join(takes)}` only", "options")
        if not self.function and not self.judge and not is_builtin_metric(self.name):
            raise PydanticCustomError(
                "unknown_choice",
                "`{value}` is not a built-in metric",
                {
                    "value": self.name,
                    "choices": list(BUILTIN_METRICS) + [f"{m}@4" for m in BUILTIN_AT_K_METRICS],
                    "extra": "add `function: module:function` for a plug-in",
                },
            )
        return self


class Gate(SpecModel):
    """A threshold (`op` + `value`) or a comparison with an alias (`compare` + `max_regression`)."""

    metric: str = Field(
        description="A metric listed in `evaluation.metrics`.", examples=["rouge_l"]
    )
    op: Op | None = Field(None, description="Threshold comparison.")
    value: float | None = Field(None, description="Threshold.")
    compare: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Registry alias "
        "to compare against (the current champion); skipped while it "
        "points nowhere.",
        examples=["champion"],
    )
    max_regression: float | None = Field(
        None,
        ge=0.0,
        description="With `compare`: largest "
        "allowed drop (paired difference on the same examples).",
    )
    higher_is_better: Flag = Field(True, description="With `compare`: direction of improvement.")
    dataset: Identifier | None = Field(None, description="Dataset it applies to (default: all).")
    bound: Literal["point", "ci"] = Field(
        "point",
        description="`ci` compares the bootstrap confidence bound (lower for `>`/`>=`, "
        "upper for `<`/`<=`) instead of the point estimate.",
    )
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level for `ci`.")
    min_examples: PositiveInt = Field(1, description="Fail when fewer examples were scored.")
    slice_by: str | None = Field(
        None, description="Every slice (values of this record field) must hold the threshold."
    )
    repeats: PositiveInt = Field(
        1,
        le=100,
        description="Samples per example for sampled "
        "generation; the gate uses the pass rate over them.",
    )
    pass_rate: Fraction | None = Field(
        None,
        description="With `repeats`: share of an example's samples that must hold the "
        "threshold, on average over the examples (default 1: all).",
    )

    @model_validator(mode="after")
    def _one_form(self) -> "Gate":
        if self.compare is None:
            if self.op is None or self.value is None:
                raise invalid(
                    "a gate needs `op` and `value`, or `compare` (an alias) and `max_regression`"
                )
            if self.max_regression is not None:
                raise invalid("`max_regression` only applies with `compare`", "max_regression")
            if self.pass_rate is not None and self.repeats == 1:
                raise invalid("`pass_rate` applies with `repeats` above 1", "pass_rate")
        elif self.op is not None or self.value is not None:
            raise invalid(
                "a `compare` gate takes `max_regression`, not `op`/`value`",
                "op" if self.op is not None else "value",
            )
        return self


class Bootstrap(SpecModel):
    samples: PositiveInt = Field(1000, le=100_000, description="Bootstrap resamples.")
    seed: int = Field(0, description="Resampling seed.")


class Evaluation(SpecModel):
    datasets: dict[
        Identifier,
        Annotated[
            EvalDataset,
            BeforeValidator(_named_path, json_schema_input_type=str | EvalDataset),
        ],
    ] = Field(
        min_length=1,
        description="Named eval datasets: a path, or {path, fields…}.",
        examples=[{"golden": "data/eval.jsonl"}],
    )
    metrics: list[
        Annotated[
            Metric,
            BeforeValidator(_named_name, json_schema_input_type=str | Metric),
        ]
    ] = Field(
        default_factory=_default_metrics,
        validate_default=True,
        description="Metrics to compute: names, or {name, function} / {name, judge}.",
        examples=[
            [
                "exact_match",
                "rouge_l",
                "retrieval_recall@4",
                {"name": "cites_source", "function": "evals.custom:cites_source"},
            ]
        ],
    )
    gates: list[Gate] = Field(default_factory=list, description="All must hold before promotion.")
    bootstrap: Bootstrap = section("Confidence intervals.")

    @field_validator("metrics")
    @classmethod
    def _unique(cls, metrics: list[Metric]) -> list[Metric]:
        seen: set[str] = set()
        for metric in metrics:
            if metric.name in seen:
                raise invalid(f"metric `{metric.name}` is listed twice")
            seen.add(metric.name)
        return metrics
