"""The index built on Ray Data (two actors on the two-node cluster) is the local build's table,
row for row, vectors included, and stays incremental: an edit embeds only its changed chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmspec.api import resolve
from llmspec.engine.apply import apply
from llmspec.engine.workspace import open_workspace
from tests.index.test_index import SPEC as INDEX_SPEC
from tests.index.test_index import make_project
from tests.ray.conftest import Cluster

pytestmark = pytest.mark.slow
pytest.importorskip("lancedb")

# the index tests' spec, built on Ray or locally
SPEC = INDEX_SPEC.replace("FULL_TEXT", "false").replace(
    "  top_k: 4\n", "  top_k: 4\n  compute: {backend: BACKEND, ray: {workers: 2, batch_size: 3}}\n"
)


assert "compute: {backend: BACKEND" in SPEC  # the layout above found its place


def project(root: Path, backend: str) -> Path:
    make_project(root)
    (root / "app.yaml").write_text(SPEC.replace("BACKEND", backend))
    return root / "app.yaml"


def build(spec: Path) -> dict[str, Any]:
    ws = open_workspace(resolve(spec, "dev", []))
    result = apply(ws, targets=["index.docs"])
    assert result.ok, [d.message for d in result.diagnostics]
    return dict(ws.backend.read("helpdesk", "dev").resources["index.docs"].outputs)


def rows(outputs: dict[str, Any]) -> list[dict[str, Any]]:
    import lancedb

    table = lancedb.connect(outputs["uri"]).open_table(outputs["table"])
    return list(table.to_arrow().to_pylist())


def test_a_ray_data_build_is_the_local_build_row_for_row_and_stays_incremental(
    ray_cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = build(project(tmp_path / "local", "local"))
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster.gcs)  # a driver on one of the cluster's nodes
    on_ray_spec = project(tmp_path / "ray", "ray")
    on_ray = build(on_ray_spec)
    assert on_ray["rows"] == local["rows"] == on_ray["embedded"] > 10

    mine, theirs = rows(on_ray), rows(local)
    assert [r["id"] for r in mine] == [r["id"] for r in theirs]  # same rows, same order
    for a, b in zip(mine, theirs, strict=True):
        assert {k: v for k, v in a.items() if k != "vector"} == {
            k: v for k, v in b.items() if k != "vector"
        }
        np.testing.assert_allclose(a["vector"], b["vector"], atol=1e-6)

    # one document edited: its chunks are embedded again, on Ray, and nothing else
    doc = on_ray_spec.parent / "docs" / "refunds.md"
    doc.write_text(doc.read_text() + "\nRefunds for annual plans are prorated by month.\n")
    again = build(on_ray_spec)
    assert 0 < again["embedded"] <= 3 and again["rows"] >= on_ray["rows"]
    assert not again["full_rebuild"]
