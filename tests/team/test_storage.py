"""LanceDB on S3 as the standard variables describe it (runtime/storage.py), against moto's real
S3 API: a table created, merged into and searched at ``s3://`` with no llmspec variable."""

from __future__ import annotations

import pytest

from llmspec.runtime.storage import lance_options
from tests.team.servers import S3


def test_the_standard_variables_name_the_endpoint_and_region() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_REGION": "eu-west-1"}
    assert lance_options("s3://b/t", environ=env) == {
        "endpoint": "http://127.0.0.1:9000",
        "allow_http": "true",
        "region": "eu-west-1",
    }
    specific = {**env, "AWS_ENDPOINT_URL_S3": "https://s3.internal"}
    assert lance_options("s3://b/t", environ=specific)["endpoint"] == "https://s3.internal"
    assert "allow_http" not in lance_options("s3://b/t", environ=specific)
    given = {"region": "us-east-2"}
    assert lance_options("s3://b/t", given, environ=env)["region"] == "us-east-2"
    assert lance_options("/tmp/local", environ=env) == {}
    assert lance_options("gs://b/t", {"x": "y"}, environ=env) == {"x": "y"}


def test_a_table_on_s3_is_created_merged_and_searched(
    s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lancedb
    import pyarrow as pa

    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    uri = f"s3://{s3.bucket}/tables/storage-test"
    db = lancedb.connect(uri, storage_options=lance_options(uri))
    rows = pa.table({"id": ["a", "b"], "vector": [[1.0, 0.0], [0.0, 1.0]]})
    table = db.create_table("chunks", rows, mode="overwrite")
    update = pa.table({"id": ["b", "c"], "vector": [[0.5, 0.5], [0.1, 0.9]]})
    table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(update)
    again = lancedb.connect(uri, storage_options=lance_options(uri)).open_table("chunks")
    assert again.count_rows() == 3
    assert again.search([0.0, 1.0]).limit(1).to_list()[0]["id"] == "c"
    assert any(k.startswith("tables/storage-test/chunks.lance/") for k in s3.keys("tables/"))
