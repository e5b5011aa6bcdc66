"""Session-wide servers for the team tests (started once: the MLflow server takes seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.team.servers import S3, Tracking, mlflow_server


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory: pytest.TempPathFactory, s3: S3) -> Iterator[Tracking]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server"), s3) as server:
        yield server


# the SQL state tests' PostgreSQL server: the runners' shared state
from tests.state.conftest import fresh_postgres_url, postgres_server  # noqa: E402, F401
