"""Ray, as llmspec uses it: is it installed, where is the cluster, and the jobs submitted to it.

A fine-tune goes to the cluster through Ray's job-submission API (the cluster's dashboard
address, `http://head:8265`, as `ray job submit` takes it); index builds and batch predictions
connect as a driver (`ray.init`, a node's GCS address `host:6379` or a Ray Client `ray://`
address). Both default to `RAY_ADDRESS`, which Ray's own tools read. Ray is an optional extra:
every entry point checks it first and says how to install it (LS740).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from llmspec.core.diagnostics import SpecError, error

INSTALL = "pip install 'llmspec[ray]'"
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
RETRIES = 5  # lost connections to the dashboard tolerated in a row while following a job
# where an S3-compatible store is, passed on to the cluster's processes; credentials are the
# cluster's own, never sent with a job
STORAGE_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION", "AWS_REGION")


def storage_env() -> dict[str, str]:
    return {k: os.environ[k] for k in STORAGE_ENV if k in os.environ}


def ray_missing() -> bool:
    """True when Ray (with its job-submission client) is not importable; cheap: no import."""
    return importlib.util.find_spec("ray") is None


def require_ray(what: str) -> None:
    """LS740 with the install command, before anything is started."""
    if ray_missing():
        raise SpecError(
            [
                error(
                    "LS740",
                    f"{what} runs on Ray, which is not installed in this environment",
                    hint=f"install it with `{INSTALL}`, or set the backend to `local`",
                )
            ]
        )


def address_of(configured: str | None, what: str) -> str:
    """The cluster address: the spec's, else `RAY_ADDRESS`; LS741 when neither is set."""
    address = configured or os.environ.get("RAY_ADDRESS")
    if not address:
        raise SpecError(
            [
                error(
                    "LS741",
                    f"{what} runs on Ray, but no cluster address is set",
                    hint="set `compute.ray.address` in the spec or export RAY_ADDRESS "
                    "(the dashboard's http://HEAD:8265 for jobs, HEAD:6379 for a driver)",
                )
            ]
        )
    return address


def unreachable(address: str, exc: BaseException) -> SpecError:
    return SpecError(
        [
            error(
                "LS741",
                f"the Ray cluster at {address} cannot be reached: {type(exc).__name__}: {exc}",
                hint="check that the head node runs (`ray status --address …`) and that this "
                "machine reaches its dashboard port",
            )
        ]
    )


def job_client(address: str) -> Any:
    """Ray's job-submission client of ``address`` (an `http://…:8265` dashboard, or a GCS
    `host:6379` on one of the cluster's nodes)."""
    import logging

    from ray.job_submission import JobSubmissionClient

    # Ray's INFO lines (packages uploaded, the address used) would interleave with apply's
    for name in ("ray", "ray.dashboard.modules.dashboard_sdk"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError or ValueError
        raise unreachable(address, exc) from exc


@dataclass(frozen=True)
class JobInfo:
    submission_id: str
    status: str
    message: str = ""


def jobs_named(client: Any, prefix: str) -> list[JobInfo]:
    """The cluster's jobs whose submission id starts with ``prefix``, oldest first."""
    found = [
        (job.start_time or 0, JobInfo(job.submission_id, str(job.status), job.message or ""))
        for job in client.list_jobs()
        if (job.submission_id or "").startswith(prefix)
    ]
    return [info for _, info in sorted(found, key=lambda item: item[0])]


def status(client: Any, submission_id: str) -> JobInfo | None:
    """A job's status, or None when the cluster does not know the id (a cluster restarted)."""
    try:
        info = client.get_job_info(submission_id)
    except RuntimeError as exc:  # "Job … does not exist"
        if "does not exist" in str(exc):
            return None
        raise
    return JobInfo(submission_id, str(info.status), info.message or "")


def follow(
    client: Any,
    address: str,
    submission_id: str,
    on_line: Callable[[str], None],
    poll: float = 0.5,
    done: Callable[[], bool] = lambda: False,
) -> JobInfo:
    """Feed each new line of the job's logs to ``on_line`` until the job ends, or ``done()``
    says what was wanted has come (the job's own teardown is not waited for); its last status.

    The logs are read whole and compared with what was seen (the job API has no offset): cheap
    for a fine-tune's log, whose lines are few. A dropped connection is retried; after RETRIES
    failures in a row it is LS741, and the job goes on without us."""
    seen = 0
    failures = 0
    while True:
        try:
            info = client.get_job_info(submission_id)
            text = client.get_job_logs(submission_id)
            failures = 0
        except Exception as exc:
            failures += 1
            if failures >= RETRIES:
                raise unreachable(address, exc) from exc
            time.sleep(min(2.0**failures, 10.0))
            continue
        lines = text.splitlines()
        for line in lines[seen:]:
            on_line(line)
        seen = len(lines)
        if str(info.status) in TERMINAL or done():
            return JobInfo(submission_id, str(info.status), info.message or "")
        time.sleep(poll)


def tail(client: Any, submission_id: str, lines: int = 15) -> list[str]:
    with contextlib.suppress(Exception):
        return [line for line in client.get_job_logs(submission_id).splitlines() if line][-lines:]
    return []


@contextlib.contextmanager
def driver(address: str, runtime_env: dict[str, Any]) -> Iterator[Any]:
    """This process as a driver of the cluster at ``address`` (a Ray Client `ray://…` address
    from outside the cluster); disconnected at the end."""
    if address.startswith(("http://", "https://")):
        raise SpecError(
            [
                error(
                    "LS741",
                    f"{address} is a dashboard's address, for submitting jobs; this joins the "
                    "cluster as a driver",
                    hint="give the GCS address (HEAD:6379, on one of the cluster's nodes) or Ray "
                    "Client's ray://HEAD:10001 (from outside), in the spec or in RAY_ADDRESS",
                )
            ]
        )
    import ray

    try:
        ray.init(
            address=address,
            runtime_env=runtime_env,
            logging_level=40,  # logging.ERROR
            log_to_driver=False,
            ignore_reinit_error=True,
        )
    except Exception as exc:
        raise unreachable(address, exc) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def code_package() -> str:
    """llmspec's own package folder, shipped with each job (`py_modules`) so that the cluster
    runs the code of the llmspec that submitted it."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
