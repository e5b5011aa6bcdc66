"""A resume on Ray reads only checkpoints whose upload is whole: a worker killed while Ray Train
copied a checkpoint to the storage leaves truncated files that are non-empty, so each checkpoint
carries a seal of its files' sizes and the restore passes over any that does not match it."""

from __future__ import annotations

from pathlib import Path

from pyarrow import fs

from llmspec.runtime.ray_train import SEAL, _complete_step, _restore, seal


def _checkpoint(folder: Path, step: int) -> Path:
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(f'{{"global_step": {step}}}')
    for name, size in (("optimizer.pt", 4096), ("scheduler.pt", 512)):
        (folder / name).write_bytes(b"x" * size)
    (folder / "adapter_model.safetensors").write_bytes(b"w" * 2048)
    seal(folder, step)
    return folder


def test_a_sealed_whole_checkpoint_is_complete(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "c", 3)
    local = fs.LocalFileSystem()
    assert _complete_step(local, str(folder)) == 3
    (folder / "rng_state_1.pth").write_bytes(b"r")  # another rank's part joins the folder
    assert _complete_step(local, str(folder)) == 3


def test_a_truncated_or_unsealed_checkpoint_is_passed_over(tmp_path: Path) -> None:
    local = fs.LocalFileSystem()
    cut = _checkpoint(tmp_path / "cut", 3)
    with (cut / "optimizer.pt").open("r+b") as f:
        f.truncate(1000)  # non-empty, as an upload cut short leaves it
    assert _complete_step(local, str(cut)) is None
    unsealed = _checkpoint(tmp_path / "unsealed", 3)
    (unsealed / SEAL).unlink()
    assert _complete_step(local, str(unsealed)) is None
    missing = _checkpoint(tmp_path / "missing", 3)
    (missing / "scheduler.pt").unlink()
    assert _complete_step(local, str(missing)) is None
    garbled = _checkpoint(tmp_path / "garbled", 3)
    (garbled / SEAL).write_text("{not json")
    assert _complete_step(local, str(garbled)) is None


def test_the_restore_takes_the_newest_whole_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "storage" / "job"
    _checkpoint(run / "checkpoint_2026-01-01_00-00-01" / "checkpoint", 2)
    newest = _checkpoint(run / "checkpoint_2026-01-01_00-00-02" / "checkpoint", 4)
    with (newest / "optimizer.pt").open("r+b") as f:
        f.truncate(10)
    into = tmp_path / "worker" / "checkpoints"
    restored = _restore(str(tmp_path / "storage"), "job", into)
    assert restored is not None and restored.endswith("00-00-01/checkpoint")
    assert [p.name for p in into.iterdir()] == ["checkpoint-2"]
    assert (into / "checkpoint-2" / "optimizer.pt").stat().st_size == 4096
