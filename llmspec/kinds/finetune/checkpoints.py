"""Fine-tune checkpoints mirrored to the build store's bucket, so that a run interrupted on one CI
runner resumes on another.

With ``state.artifacts: s3://…``, the work folder's ``checkpoints/checkpoint-N`` (once the trainer
has written its ``trainer_state.json``, the last file of a checkpoint) and ``mlflow-run.json``
are uploaded while training runs, under ``<store>/<app>/finetune/<folder>/``, each checkpoint
closed by a ``.complete`` marker uploaded last. A runner that starts the same fine-tune with no
checkpoint of its own first downloads the newest complete one: the trainer resumes from it and
the MLflow run continues. Uploads run in a thread beside the trainer; a failed upload only
means a resume from an older checkpoint.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

__all__ = ["SharedCheckpoints"]

MARKER = ".complete"
RUN_FILE = "mlflow-run.json"
POLL_SECONDS = 2.0


class SharedCheckpoints:
    def __init__(self, work: Path, remote: str) -> None:
        self.work = work
        self.bucket, _, self.prefix = remote.removeprefix("s3://").partition("/")
        self.uploaded: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from llmspec.engine.build_store import s3_client

            self._client = s3_client()
        return self._client

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def restore(self) -> str | None:
        """The newest complete remote checkpoint into an empty local folder; its name."""
        local = self.work / "checkpoints"
        if local.is_dir() and any(local.glob("checkpoint-*")):
            return None  # this runner's own checkpoints come first
        pages = self.client.get_paginator("list_objects_v2")
        keys = [
            item["Key"]
            for page in pages.paginate(Bucket=self.bucket, Prefix=self._key(""))
            for item in page.get("Contents", [])
        ]
        complete = sorted(
            (k.rsplit("/", 2)[-2] for k in keys if k.endswith(f"/{MARKER}")),
            key=lambda name: int(name.rsplit("-", 1)[-1]),
        )
        if not complete:
            return None
        newest = str(complete[-1])
        for key in keys:
            relative = key[len(self._key("")) :]
            if relative.startswith(f"checkpoints/{newest}/") or relative == RUN_FILE:
                target = self.work / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                self.client.download_file(self.bucket, key, str(target))
        (self.work / "checkpoints" / newest / MARKER).unlink(missing_ok=True)
        self.uploaded.add(newest)
        return newest

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="checkpoint-upload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.sync()

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.sync()

    def sync(self) -> None:
        """Upload the run file and every complete checkpoint not uploaded yet."""
        with contextlib.suppress(Exception):  # a resume from an older checkpoint, at worst
            run_file = self.work / RUN_FILE
            if run_file.is_file():
                self.client.upload_file(str(run_file), self.bucket, self._key(RUN_FILE))
            for folder in sorted((self.work / "checkpoints").glob("checkpoint-*")):
                if folder.name in self.uploaded or not (folder / "trainer_state.json").is_file():
                    continue
                for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                    relative = path.relative_to(self.work).as_posix()
                    self.client.upload_file(str(path), self.bucket, self._key(relative))
                marker = self._key(f"checkpoints/{folder.name}/{MARKER}")
                self.client.put_object(Bucket=self.bucket, Key=marker, Body=b"")
                self.uploaded.add(folder.name)
