"""Where to look at what apply made in an environment (apply's closing lines)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path as FsPath

from llmspec.engine.workspace import Workspace


@dataclass(frozen=True)
class Locations:
    """Where to look at what apply made in an environment."""

    model_uri: str | None  # the promoted `models:/name@alias`
    version: str | None
    serve_url: str  # where `llmspec serve` listens
    tracking_uri: str | None  # the MLflow store the runs are in
    build_dir: FsPath | None  # the rendered artifacts, once written


def locations(ws: Workspace) -> Locations:
    from llmspec.kinds.promote.outputs import PromoteOutputs
    from llmspec.kinds.promote.promoted import promoted_state, recorded_tracking_uri

    promoted = PromoteOutputs.from_state_or_none(promoted_state(ws))
    target = next((t for t in ws.resolved.spec.serving.targets if t.kind == "mlflow"), None)
    url = f"http://{target.host}:{target.port}" if target else "http://127.0.0.1:5001"
    return Locations(
        promoted.uri if promoted else None,
        promoted.version if promoted else None,
        url,
        recorded_tracking_uri(ws),
        ws.build_dir if ws.build_dir.is_dir() else None,
    )
