"""A rollout on KServe's canary (`traffic: kserve`): the InferenceService pinned to the
challenger's version with `canaryTrafficPercent`, valid against KServe's CRD schema, and app
servers that leave the splitting to KServe."""

from __future__ import annotations

from typing import Any

import jsonschema
import yaml

from llmspec.api import open_workspace
from llmspec.kinds.deploy.step import render_target
from tests.conftest import MINIMAL
from tests.engine.test_render import isvc_schema, unknown_fields

SPEC = (
    MINIMAL
    + """\
serving:
  registry: {alias: champion}
  targets:
    - {kind: kserve, namespace: bots, traffic: TRAFFIC}
  rollout:
    guards: [{metric: error_rate, margin: 0.01}]
"""
)


def deploy(write: Any, traffic: str) -> Any:
    path = write("app.yaml", SPEC.replace("TRAFFIC", traffic))
    graph = open_workspace(path).graph()
    return graph.resources["deploy.kserve"]


def env_of(isvc: dict[str, Any]) -> dict[str, str]:
    (app,) = isvc["spec"]["predictor"]["containers"]
    return {e["name"]: e.get("value", "") for e in app["env"]}


def test_each_step_is_an_inference_service_kserve_accepts(write: Any) -> None:
    resource = deploy(write, "kserve")
    schema = isvc_schema()
    for version, canary in (("7", 10), ("7", 50), ("7", 0), ("7", None)):
        ((path, text),) = render_target(resource, version, canary).items()
        assert path == "deploy/kserve/inferenceservice-canary.yaml"
        (isvc,) = yaml.safe_load_all(text)
        jsonschema.Draft7Validator(schema).validate(isvc)
        assert unknown_fields(isvc, schema) == []
        assert isvc["spec"]["predictor"].get("canaryTrafficPercent") == canary
        env = env_of(isvc)
        assert env["LLMSPEC_MODEL_URI"] == "models:/demo/7"
        assert env["LLMSPEC_ROLLOUT_ROUTING"] == "off"  # KServe splits, not the app server


def test_the_app_server_splits_by_default_and_the_digest_did_not_move(write: Any) -> None:
    explicit = deploy(write, "app")
    (text,) = render_target(explicit).values()
    (isvc,) = yaml.safe_load_all(text)
    assert "canaryTrafficPercent" not in isvc["spec"]["predictor"]
    assert "LLMSPEC_ROLLOUT_ROUTING" not in env_of(isvc)
    assert env_of(isvc)["LLMSPEC_MODEL_URI"] == "models:/demo@champion"
    path = write("app.yaml", SPEC.replace(", traffic: TRAFFIC", ""))
    omitted = open_workspace(path).graph().resources["deploy.kserve"]
    assert omitted.inputs_digest == explicit.inputs_digest
