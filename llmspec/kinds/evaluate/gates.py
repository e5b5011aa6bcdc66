"""Gates: thresholds on a metric's estimate (point or confidence bound, per slice, with a
minimum number of examples), pass rates over repeated samples, and comparisons with the version
an alias points at (the paired difference on the same examples). All must hold before
promotion."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmspec.kinds.evaluate.stats import (
    Estimate,
    aggregate_of,
    bootstrap,
    in_order,
    paired_difference,
)

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


@dataclass(frozen=True)
class GateResult:
    gate: str  # as written: "rouge_l >= 0.3", "rouge_l vs champion (max regression 0.02)"
    value: float | None  # what was compared: the point estimate or the confidence bound
    threshold: str
    passed: bool
    note: str = ""


@dataclass(frozen=True)
class Scores:
    """Per-example scores of one model version: metric -> example id -> value (the mean over
    its samples), each example's slice values (record field -> value), and, when the evaluation
    sampled each example more than once, every sample's value."""

    values: Mapping[str, Mapping[str, float]]
    slices: Mapping[str, Mapping[str, str]]
    samples: Mapping[str, Mapping[str, Sequence[float]]] = field(default_factory=dict)


def check(
    gate: Mapping[str, Any],
    scores: Scores,
    champion: Scores | None,
    *,
    samples: int = 1000,
    seed: int = 0,
) -> GateResult:
    metric = gate["metric"]
    per_example = dict(scores.values.get(metric, {}))
    if gate.get("dataset"):  # example ids are `<dataset>:<line>`
        per_example = {k: v for k, v in per_example.items() if k.startswith(gate["dataset"] + ":")}
    if gate.get("compare"):
        return _compare(gate, per_example, champion, samples, seed)
    op, threshold = gate["op"], float(gate["value"])
    label = f"{metric} {op} {threshold:g}" + (
        f" (by {gate['slice_by']})" if gate.get("slice_by") else ""
    )
    repeats = int(gate.get("repeats", 1))
    if repeats > 1:  # each example's share of samples that hold, against the pass rate
        required = float(gate["pass_rate"] if gate.get("pass_rate") is not None else 1.0)
        drawn = scores.samples.get(metric, {})
        per_example = {
            k: sum(OPS[op](v, threshold) for v in drawn[k][:repeats]) / len(drawn[k][:repeats])
            for k in per_example
            if drawn.get(k)
        }
        label += f", pass rate over {repeats} samples"
        op, threshold, metric = ">=", required, "pass_rate"
    groups = {"": per_example}
    if gate.get("slice_by"):
        groups = {}
        for example, value in per_example.items():
            key = scores.slices.get(example, {}).get(gate["slice_by"], "(none)")
            groups.setdefault(key, {})[example] = value
    worst: GateResult | None = None
    for name, values in sorted(groups.items()):
        result = _threshold(
            gate, metric, in_order(values), op, threshold, label, name, samples, seed
        )
        if worst is None or (worst.passed and not result.passed):
            worst = result
    assert worst is not None
    return worst


def _threshold(
    gate: Mapping[str, Any],
    metric: str,
    values: Sequence[float],
    op: str,
    threshold: float,
    label: str,
    slice_name: str,
    samples: int,
    seed: int,
) -> GateResult:
    where = f" in slice {slice_name!r}" if slice_name else ""
    minimum = int(gate.get("min_examples", 1))
    if len(values) < minimum:
        return GateResult(
            label,
            None,
            f"{op} {threshold:g}",
            False,
            f"{len(values)} example(s){where}, fewer than {minimum}",
        )
    estimate = bootstrap(
        values,
        aggregate_of(metric),
        confidence=float(gate.get("confidence", 0.95)),
        samples=samples,
        seed=seed,
    )
    value, how = _bound(estimate, op, gate.get("bound", "point"))
    passed = not math.isnan(value) and OPS[op](value, threshold)
    note = (
        f"{how}{where}; point {estimate.value:.4g}, "
        f"CI [{estimate.low:.4g}, {estimate.high:.4g}], n={estimate.n}"
    )
    return GateResult(label, value, f"{op} {threshold:g}", passed, note)


def _bound(estimate: Estimate, op: str, bound: str) -> tuple[float, str]:
    """The estimate a threshold is held against: the point, or the confidence bound on the
    side that must clear it (lower for > and >=, upper for < and <=)."""
    if bound != "ci" or op == "==":
        return estimate.value, "point estimate"
    if op in (">", ">="):
        return estimate.low, "lower confidence bound"
    return estimate.high, "upper confidence bound"


def _compare(
    gate: Mapping[str, Any],
    per_example: dict[str, float],
    champion: Scores | None,
    samples: int,
    seed: int,
) -> GateResult:
    metric, alias = gate["metric"], gate["compare"]
    allowed = float(gate.get("max_regression") or 0.0)
    label = f"{metric} vs {alias} (max regression {allowed:g})"
    if champion is None:
        return GateResult(
            label, None, f"≥ -{allowed:g}", True, f"skipped: `{alias}` points at no version yet"
        )
    old = dict(champion.values.get(metric, {}))
    diff = paired_difference(
        per_example, old, confidence=float(gate.get("confidence", 0.95)), samples=samples, seed=seed
    )
    if diff.n == 0:
        return GateResult(
            label,
            None,
            f"≥ -{allowed:g}",
            False,
            f"no example scored by both this version and `{alias}`",
        )
    higher = bool(gate.get("higher_is_better", True))
    if gate.get("bound") == "ci":
        value, how = (diff.low, "lower bound") if higher else (diff.high, "upper bound")
    else:
        value, how = diff.value, "mean"
    passed = value >= -allowed if higher else value <= allowed
    threshold = f"≥ -{allowed:g}" if higher else f"≤ {allowed:g}"
    note = (
        f"paired difference ({how}) over {diff.n} shared examples; "
        f"CI [{diff.low:.4g}, {diff.high:.4g}]"
    )
    return GateResult(label, value, threshold, passed, note)


def table(results: Sequence[GateResult]) -> str:
    """The gate table apply prints: gate, value, threshold, pass/fail, and how it was judged."""
    rows = [("gate", "value", "threshold", "result", "")] + [
        (
            r.gate,
            "—" if r.value is None else f"{r.value:.4g}",
            r.threshold,
            "pass" if r.passed else "FAIL",
            r.note,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4]))
        + ("  " + row[4] if row[4] else "")
        for row in rows
    ).rstrip()
