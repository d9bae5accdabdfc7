"""The `ray up` configs in configs/cluster are valid for the installed Ray and set blobrl up
the way docs/cluster.md says: a GPU head, autoscaled CPU workers, blobrl installed after the
pinned torch."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs" / "cluster").glob("*.yaml"))
TORCH_PIN = "torch==2.13.0"  # the Makefile's pin


def ray_schema() -> dict:
    import ray.autoscaler

    return json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def head(config: dict) -> dict:
    return config["available_node_types"][config["head_node_type"]]


def workers(config: dict) -> list[dict]:
    types = config["available_node_types"]
    return [spec for name, spec in types.items() if name != config["head_node_type"]]


def has_gpu(config: dict) -> bool:
    node = head(config)["node_config"]
    if config["provider"]["type"] == "aws":
        return re.match(r"(g4dn|g5|g6|g6e|p3|p4d|p5)\.", node["InstanceType"]) is not None
    accelerators = node.get("guestAccelerators", [])
    return any(a.get("acceleratorCount", 0) >= 1 for a in accelerators) or node[
        "machineType"
    ].startswith(("g2-", "a2-", "a3-"))


def test_both_providers_have_a_config():
    assert {p.name for p in CONFIGS} == {"aws.yaml", "gcp.yaml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_matches_rays_cluster_schema(path):
    import jsonschema

    jsonschema.validate(load(path), ray_schema())


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_passes_rays_own_validation(path):
    """What `ray up` does first: fill in the provider's defaults, then validate."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(copy.deepcopy(load(path))))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_head_node_has_a_gpu_and_runs_the_gpu_image(path):
    config = load(path)
    assert has_gpu(config)
    assert config["docker"]["head_image"].endswith("-gpu")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_cpu_workers_autoscale_from_zero(path):
    config = load(path)
    (worker,) = workers(config)
    assert worker["min_workers"] == 0
    assert 1 <= worker["max_workers"] <= config["max_workers"]
    assert config["idle_timeout_minutes"] >= 1
    assert config["docker"]["worker_image"].endswith("-cpu")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_images_run_the_installed_ray_version(path):
    import ray

    docker = load(path)["docker"]
    for image in (docker["head_image"], docker["worker_image"]):
        assert image.startswith(f"rayproject/ray:{ray.__version__}-py311-")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_setup_installs_pinned_torch_then_the_copied_tree(path):
    config = load(path)
    commands = config["setup_commands"]
    torch = [i for i, c in enumerate(commands) if TORCH_PIN in c]
    blobrl = [i for i, c in enumerate(commands) if re.search(r"pip install .*~/blobrl", c)]
    assert torch and blobrl and torch[0] < blobrl[0]
    # The tree installed is the one copied to every node.
    assert config["file_mounts"]["~/blobrl"] == "."
    # No other command installs another torch.
    every = [*commands, *config["head_setup_commands"], *config["worker_setup_commands"]]
    assert all(TORCH_PIN in c for c in every if re.search(r"\btorch\b", c))


def test_makefile_pins_the_same_torch():
    assert f"pip install {TORCH_PIN}" in (ROOT / "Makefile").read_text()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_start_commands_follow_rays_examples(path):
    config = load(path)
    head_start = " ".join(config["head_start_ray_commands"])
    worker_start = " ".join(config["worker_start_ray_commands"])
    assert "ray start --head" in head_start
    assert "--autoscaling-config=~/ray_bootstrap_config.yaml" in head_start
    assert "RAY_JOB_STOP_WAIT_TIME_S=" in head_start  # time for a clean stop under `ray job stop`
    assert "ray start --address=$RAY_HEAD_IP:6379" in worker_start
