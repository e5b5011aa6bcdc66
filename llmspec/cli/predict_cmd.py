"""`llmspec predict SPEC -e ENV --input FILE --output FILE`: batch inference in process."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llmspec.cli.common import (
    Done,
    Status,
    spec_command,
)
from llmspec.core.diagnostics import SpecError, error

HELP = "run the environment's promoted model over a file of records (jsonl, parquet, csv)"
EXAMPLES = """examples:
  llmspec predict specs/app.yaml -e dev --input questions.jsonl --output answers.jsonl
  llmspec predict specs/app.yaml -e prod --input batch.parquet --output out.parquet \\
      --param max_new_tokens=64
  RAY_ADDRESS=ray://head:10001 llmspec predict specs/app.yaml -e prod --backend ray

Each record is answered on its own: one that cannot be (not JSON, a missing input field, a
model error) keeps its row with an `error`, and the command exits 1 after writing everything.
For data that outgrows one machine, `--backend ray` answers on Ray Data (a `kind: ray` target
sets the pool and default paths, also in object storage), and a `kind: spark` target renders a
PySpark job."""


def add_parser(sub: Any, name: str) -> None:
    parser = spec_command(sub, name, HELP, EXAMPLES)
    parser.add_argument(
        "--input", help="records: .jsonl, .parquet, .csv (s3:// on Ray; default the target's)"
    )
    parser.add_argument("--output", help="where to write the answers (default the target's)")
    parser.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="`ray`: on Ray Data, with the `kind: ray` target's pool (RAY_ADDRESS: the cluster)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="generation override (max_new_tokens, temperature, top_p), within the spec's limits",
    )


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    result = api.predict(
        args.spec, args.env, args.overrides, input=args.input, output=args.output,
        params=_params(args.param), state=args.state, progress=report_progress,
        backend=args.backend,
    )  # fmt: skip
    answered = result.records - len(result.failed)
    print(
        f"wrote {result.output}: {answered} answered, {len(result.failed)} failed, "
        f"{result.records} records in {result.seconds:.1f} s ({result.model_uri})"
    )
    if not result.failed:
        return Done()
    shown = "\n".join(why for _, why in result.failed[:5])
    more = len(result.failed) - 5
    failed = error(
        "LS821",
        f"{len(result.failed)} of {result.records} records could not be answered",
        hint=shown
        + (f"\n… and {more} more" if more > 0 else "")
        + f"\n(each kept in {result.output} with its `error`)",
    )
    return Done(Status.FAILED, [failed])


def _params(pairs: list[str]) -> dict[str, Any]:

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
                        "LS820",
                        f"`--param {pair}` is not a generation setting",
                        hint="use max_new_tokens=N, temperature=X or top_p=X",
                    )
                ]
            ) from None
    return out


def report_progress(done: int, total: int) -> None:
    """A line per tenth of the batch on stderr (a log, not a terminal animation)."""
    step = max(1, total // 10)
    if done == total or done % step == 0:
        print(f"predict: {done}/{total} records", file=sys.stderr, flush=True)
