"""Export: TorchScript and ONNX files reproduce the PyTorch network; the command checks it."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

from blobrl.checkpoint import CheckpointStore
from blobrl.export import check_export, export, load_network, main, sample_features
from blobrl.nn import NetworkConfig, build_network

HAS_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime"))
FORMATS = [
    "torchscript",
    pytest.param(
        "onnx", marks=pytest.mark.skipif(not HAS_ONNX, reason="onnx/onnxruntime not installed")
    ),
]
NETWORKS = {
    "mlp": NetworkConfig(arch="mlp", hidden=16, blocks=1),
    "transformer": NetworkConfig(arch="transformer", embed=16, layers=1, heads=2, ff_mult=2),
}


def _trained_looking(config: NetworkConfig):
    """A network with every weight random (the value output layer starts at zero otherwise,
    which would make the value check trivial)."""
    torch.manual_seed(0)
    model = build_network(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


@pytest.fixture
def run_dir(tmp_path):
    model = _trained_looking(NETWORKS["mlp"])
    store = CheckpointStore(tmp_path)
    store.save_best(3, model.state_dict(), {"elo": 1000.0})
    (tmp_path / "config.json").write_text(
        json.dumps({"network": {"arch": "mlp", "hidden": 16, "blocks": 1}})
    )
    return tmp_path


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("arch", sorted(NETWORKS))
def test_exported_network_matches_pytorch_on_random_inputs(tmp_path, fmt, arch):
    model = _trained_looking(NETWORKS[arch])
    path = export(model, tmp_path / f"net.{fmt}", fmt)
    check = check_export(model, path, fmt, samples=37, atol=1e-5)
    assert check.ok, check
    assert check.max_abs_error <= 1e-5


def test_check_catches_an_export_of_different_weights(tmp_path):
    model = _trained_looking(NETWORKS["mlp"])
    path = export(model, tmp_path / "net.pt", "torchscript")
    with torch.no_grad():
        model.policy.bias.add_(1e-3)
    assert not check_export(model, path, "torchscript", samples=8).ok


@pytest.mark.parametrize("fmt", FORMATS)
def test_command_exports_a_best_model_and_reports_the_match(run_dir, tmp_path, fmt, capsys):
    out = tmp_path / f"best.{fmt}"
    best = run_dir / "checkpoints" / "best_model.pt"
    assert main([str(best), "--format", fmt, "--out", str(out), "--samples", "64"]) == 0
    assert out.is_file()
    assert "matches PyTorch" in capsys.readouterr().out
    reference = load_network(best)
    features = sample_features(5, seed=9)
    with torch.no_grad():
        want = reference(features)
    if fmt == "torchscript":
        got = torch.jit.load(str(out))(features)
        for g, w in zip(got, want, strict=True):
            torch.testing.assert_close(g, w, atol=1e-5, rtol=0)


def test_command_refuses_a_missing_checkpoint_with_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "nope.pt"), "--out", str(tmp_path / "x.pt")]) == 2
    assert "not found" in capsys.readouterr().err


def test_module_entry_point_runs():
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-m", "blobrl.export", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "torchscript" in done.stdout
