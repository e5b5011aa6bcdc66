"""`llmspec predict SPEC -e ENV --input FILE --output FILE`: batch inference in process."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from llmspec.cli.common import print_diagnostics, resolve_or_report, spec_command

HELP = "run the environment's promoted model over a file of records (jsonl, parquet, csv)"
EXAMPLES = """examples:
  llmspec predict specs/app.yaml -e dev --input questions.jsonl --output answers.jsonl
  llmspec predict specs/app.yaml -e prod --input batch.parquet --output out.parquet \\
      --param max_new_tokens=64

Each record is answered on its own: one that cannot be (not JSON, a missing input field, a
model error) keeps its row with an `error`, and the command exits 1 after writing everything.
For data that outgrows one machine, a `kind: spark` serving target renders a PySpark job."""


def add_parser(sub: Any, name: str) -> None:
    parser = spec_command(sub, name, HELP, EXAMPLES)
    parser.add_argument("--input", required=True, type=Path, help="records: .jsonl, .parquet, .csv")
    parser.add_argument("--output", required=True, type=Path, help="where to write the answers")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="generation override (max_new_tokens, temperature, top_p), within the spec's limits",
    )


def run(args: argparse.Namespace) -> int:
    from llmspec.core.diagnostics import error
    from llmspec.engine.workspace import open_workspace
    from llmspec.kinds.package.load import load_app_model
    from llmspec.kinds.promote.promoted import promoted_model
    from llmspec.operate.predict import check_paths, predict_file, report_progress

    resolved = resolve_or_report(args.spec, args.env, args.overrides)
    if resolved is None:
        return 1
    params = _params(args.param)
    check_paths(args.input, args.output)
    promoted = promoted_model(open_workspace(resolved, args.state))
    model = load_app_model(promoted.uri, promoted.tracking_uri)
    result = predict_file(model, args.input, args.output, params=params, progress=report_progress)
    answered = result.records - len(result.failed)
    print(
        f"wrote {args.output}: {answered} answered, {len(result.failed)} failed, "
        f"{result.records} records in {result.seconds:.1f} s ({promoted.uri})"
    )
    if not result.failed:
        return 0
    shown = "\n".join(why for _, why in result.failed[:5])
    more = len(result.failed) - 5
    print_diagnostics(
        [
            error(
                "LS618",
                f"{len(result.failed)} of {result.records} records could not be answered",
                hint=shown
                + (f"\n… and {more} more" if more > 0 else "")
                + f"\n(each kept in {args.output} with its `error`)",
            )
        ]
    )
    return 1


def _params(pairs: list[str]) -> dict[str, Any]:
    from llmspec.core.diagnostics import SpecError, error

    allowed = {"max_new_tokens": int, "temperature": float, "top_p": float}
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        try:
            if not sep or key not in allowed:
                raise ValueError
            out[key] = allowed[key](value)
        except ValueError:
            raise SpecError(
                [
                    error(
                        "LS617",
                        f"`--param {pair}` is not a generation setting",
                        hint="use max_new_tokens=N, temperature=X or top_p=X",
                    )
                ]
            ) from None
    return out
