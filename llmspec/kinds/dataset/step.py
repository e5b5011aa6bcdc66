"""`dataset.*`: digest a training or evaluation file and validate every record in it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from llmspec.core.diagnostics import Diagnostic, Span, error
from llmspec.engine.step import DeclareContext, Resource, ResourceDecl, RunContext, Step, StepFailed
from llmspec.kinds.dataset.outputs import DatasetOutputs
from llmspec.plans.address import Address
from llmspec.runtime.sft_data import check_record

MAX_REPORTED = 20


class DatasetStep(Step):
    kind = "dataset"
    reusable = True

    def declare(self, ctx: DeclareContext) -> Iterator[ResourceDecl]:
        spec = ctx.spec
        if spec.finetune is not None:
            data = spec.finetune.dataset
            fields = data.fields.model_dump(mode="json")
            shape = {"role": "train", "format": data.format, "fields": fields}
            yield ResourceDecl(
                self.kind, "train", shape, (data.train,), estimate=_lines(ctx, data.train)
            )
            if data.validation:
                yield ResourceDecl(
                    self.kind,
                    "validation",
                    {**shape, "role": "validation"},
                    (data.validation,),
                    estimate=_lines(ctx, data.validation),
                )
            preference = spec.finetune.preference
            if preference is not None:
                pairs = preference.dataset
                shape = {
                    "role": "preference",
                    "format": pairs.format,
                    "method": preference.method,
                    "fields": pairs.fields.model_dump(mode="json"),
                }
                for role, path in (("train", pairs.train), ("validation", pairs.validation)):
                    if path:
                        yield ResourceDecl(
                            self.kind,
                            Address.preference_dataset(role).name,
                            {**shape, "split": role},
                            (path,),
                            estimate=_lines(ctx, path),
                        )
        if spec.evaluation is not None:
            for name, dataset in spec.evaluation.datasets.items():
                shape = {"role": "eval", **dataset.model_dump(mode="json", exclude={"path"})}
                yield ResourceDecl(
                    self.kind,
                    Address.eval_dataset(name).name,
                    shape,
                    (dataset.path,),
                    estimate=_lines(ctx, dataset.path),
                )

    def run(self, resource: Resource, ctx: RunContext) -> dict[str, Any]:
        (path,) = resource.files
        problems: list[Diagnostic] = []
        records = 0
        with open(ctx.spec_dir / path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                records += 1
                problem = _check_record(line, resource.config)
                if problem and len(problems) < MAX_REPORTED:
                    problems.append(
                        error(
                            "LS701",
                            f"{path}:{number}: {problem}",
                            Span(str(ctx.spec_dir / path), number, 1),
                        )
                    )
        if problems:
            raise StepFailed(problems)
        if records == 0:
            raise StepFailed(
                [error("LS701", f"`{path}` holds no records", Span(str(ctx.spec_dir / path), 1, 1))]
            )
        return DatasetOutputs(records, resource.file_digests[path]).to_outputs()


def _lines(ctx: DeclareContext, path: str) -> str | None:
    try:
        with open(ctx.spec_dir / path, "rb") as handle:
            return f"{sum(1 for line in handle if line.strip())} records to check"
    except OSError:
        return None


def _check_record(line: str, config: Any) -> str | None:
    """Why one line cannot be used: the fine-tune's own record check for training and
    preference data, the question field for eval data."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg} at column {exc.colno})"
    if config.get("role") == "preference":
        from llmspec.runtime.preference_data import check_record as check_preference

        return check_preference(record, config.get("fields"), config.get("method", "dpo"))
    if config.get("role") != "eval":
        return check_record(record, config.get("format", "chat"), config.get("fields"))
    if not isinstance(record, dict):
        return "a record must be a JSON object"
    field = config.get("question_field", "question")
    return None if field in record else f"missing field `{field}`"
