"""What libraries print while a step runs goes to that step's log file, not the terminal.

MLflow, transformers, peft, accelerate, LanceDB, Ray and vLLM warn and log as they work;
interleaved with apply's progress they read as llmspec's own words (a `UserWarning` in the
middle of a package step looks like its problem). During a step, file descriptor 2 (where
Python's warnings, the logging handlers that write to stderr and native code such as Ray's C++
core write) points at ``.llmspec/logs/<app>/<env>/<address>.log``, and logging handlers that
write to stdout are pointed there too; llmspec's own progress goes through stdout as before.
A failed step's progress line names the file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

__all__ = ["step_log_path", "to_step_log"]


def step_log_path(home: Path, app: str, env: str, address: str) -> Path:
    return home / "logs" / app / env / f"{address}.log"


@contextlib.contextmanager
def to_step_log(path: Path, address: str) -> Iterator[Path]:
    """Library output of the block into ``path`` (appended, under a header per run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8", buffering=1) as log:
        log.write(f"==> {address} at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
        with _fd2_to(log), _stdout_handlers_to(log), _warnings_to(log):
            yield path


@contextlib.contextmanager
def _fd2_to(log: TextIO) -> Iterator[None]:
    """Descriptor 2 into the log (native writes, child processes), and the one behind
    ``sys.stderr`` where that is another (a stderr that a test runner or an embedding
    application replaced)."""
    targets = {2}
    with contextlib.suppress(AttributeError, OSError, ValueError):
        targets.add(sys.stderr.fileno())
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    saved = {}
    for fd in targets:
        with contextlib.suppress(OSError):  # a closed descriptor has nothing to redirect
            saved[fd] = os.dup(fd)
    try:
        for fd in saved:
            os.dup2(log.fileno(), fd)
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


@contextlib.contextmanager
def _stdout_handlers_to(log: TextIO) -> Iterator[None]:
    """Logging handlers of other libraries that write to stdout (vLLM's do) into the log."""
    moved: list[tuple[logging.StreamHandler[Any], Any]] = []
    loggers = [logging.getLogger()] + [
        item
        for name, item in logging.root.manager.loggerDict.items()
        if isinstance(item, logging.Logger) and not name.startswith("llmspec")
    ]
    for logger in loggers:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and stream is sys.stdout:
                moved.append((handler, handler.setStream(log)))
    try:
        yield
    finally:
        for handler, stream in moved:
            handler.setStream(stream)


@contextlib.contextmanager
def _warnings_to(log: TextIO) -> Iterator[None]:
    """Warnings written to the log whatever stream ``warnings`` was given (pytest's, a
    library's own `showwarning`)."""
    with warnings.catch_warnings():

        def show(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: TextIO | None = None,
            line: str | None = None,
        ) -> None:
            log.write(warnings.formatwarning(message, category, filename, lineno, line))

        warnings.showwarning = show
        yield
