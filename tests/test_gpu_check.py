"""``make gpu-check`` on a machine without CUDA: every GPU part is skipped and says why, and the
report still has every key and the machine. (The GPU parts themselves: tests/gpu, marked gpu.)"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path

import pytest
import torch

from blobrl.bench.gpu import SelfPlayOnGpu
from blobrl.bench.gpu_check import KEYS, SELFPLAY_KEYS, main, measure

ROOT = Path(__file__).resolve().parents[1]
NO_CUDA = "torch.cuda.is_available() is False"

cpu_only = pytest.mark.skipif(
    torch.cuda.is_available(), reason="this machine has CUDA: make gpu-check measures it"
)


@cpu_only
def test_without_cuda_every_gpu_key_is_null_with_its_reason(tmp_path):
    out = tmp_path / "gpu_check.json"
    assert main(["--json", str(out), "--tests", str(ROOT / "tests" / "gpu")]) == 0
    report = json.loads(out.read_text())
    for key in KEYS:
        assert key in report and report[key] is None, key
        assert NO_CUDA in report[f"{key}_skipped"], key
    tests = report["gpu_tests"]
    assert tests["ok"] and tests["exit_code"] == 0
    assert tests["failed"] == tests["errors"] == tests["passed"] == 0 and tests["skipped"] >= 4
    assert any(NO_CUDA in reason for reason in tests["skip_reasons"])
    assert "-m" in tests["command"] and "gpu" in tests["command"]
    machine = report["machine"]
    assert machine["cores"] >= 1 and machine["torch"] == torch.__version__
    assert machine["gpu"] is None and machine["gpu_count"] == 0 and "torch_cuda" in machine
    assert report["ok"] is True and report["settings"]["selfplay_seconds"] == 120.0


@cpu_only
def test_require_gpu_fails_the_check_without_cuda(tmp_path):
    out = tmp_path / "gpu_check.json"
    assert main(["--json", str(out), "--no-tests", "--require-gpu"]) == 1
    report = json.loads(out.read_text())
    assert report["ok"] is False and report["gpu_tests"] is None


def test_a_part_that_fails_leaves_each_key_null_with_the_error():
    def broken() -> dict:
        raise RuntimeError("CUDA error: out of memory")

    numbers, ran = measure(broken, ["a", "b"], skip=None)
    assert not ran
    assert numbers == {
        "a": None,
        "b": None,
        "a_error": "RuntimeError: CUDA error: out of memory",
        "b_error": "RuntimeError: CUDA error: out of memory",
    }


def test_make_gpu_check_runs_the_entry_point():
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)
    assert phony is not None and "gpu-check" in phony.group(1).split()
    dry = subprocess.run(
        ["make", "-n", "-s", "gpu-check"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert re.search(r"\S*python -m blobrl\.bench\.gpu_check --json \S+", dry.stdout), dry.stdout


def test_make_gpu_check_with_a_given_python_makes_no_venv():
    """On a GPU image (torch with CUDA already there): no venv, no pip, that interpreter."""
    dry = subprocess.run(
        ["make", "-n", "-s", "gpu-check", "PY=python3", "GPU_CHECK_JSON=out.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert dry.stdout.strip() == "python3 -m blobrl.bench.gpu_check --json out.json", dry.stdout


def test_the_self_play_record_fills_every_self_play_key():
    fields = {f"selfplay_gpu_{field.name}" for field in dataclasses.fields(SelfPlayOnGpu)}
    assert fields == set(SELFPLAY_KEYS)


def test_the_inference_sweep_runs_its_three_paths_on_the_cpu():
    """The sweep's code (float rows, packed rows, bare forward) on the CPU with a small network:
    every cell measured, as ``make gpu-check`` measures them on a GPU."""
    from blobrl.bench.gpu import inference_sweep
    from blobrl.nn import NetworkConfig

    sweep = inference_sweep(
        device="cpu", batch_sizes=[64, 128], seconds=0.05, archs={"mlp": NetworkConfig(hidden=32)}
    )
    for grid in (sweep.served, sweep.packed, sweep.forward):
        assert set(grid) == {"mlp"} and set(grid["mlp"]) == {"64", "128"}
        assert all(rate > 0 for rate in grid["mlp"].values())
