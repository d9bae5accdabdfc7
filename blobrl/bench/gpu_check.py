"""``python -m blobrl.bench.gpu_check [--json OUT] [--selfplay-seconds S] [--actors N] ...``

The GPU path in one command (``make gpu-check``): the ``gpu`` tests, then the GPU numbers of
:mod:`blobrl.bench.gpu` (inference by architecture and batch size, learner samples/s, self-play
of one actor per core but one against one GPU InferenceServer), written as one JSON file with the
machine they were taken on. Under 8 minutes with the defaults on a 16-core machine with one GPU.

Without CUDA every GPU part is skipped and says why: each of its keys is present with the value
null, next to ``<key>_skipped`` holding the reason; a part that fails leaves ``<key>_error``
instead. The exit status is 0 when the ``gpu`` tests passed (or were skipped) and no part
failed, else 1 (also 1 without CUDA under ``--require-gpu``). docs/design.md lists the keys.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from blobrl.bench import gpu

INFERENCE_KEYS = (
    "gpu_inference_evals_per_s",
    "gpu_inference_packed_evals_per_s",
    "gpu_forward_evals_per_s",
)
LEARNER_KEYS = ("learner_samples_per_s", "learner_amp_dtype", "learner_batch_size")
SELFPLAY_KEYS = (
    "selfplay_gpu_games_per_min",
    "selfplay_gpu_games_finished",
    "selfplay_gpu_decisions_per_game",
    "selfplay_gpu_actors",
    "selfplay_gpu_seconds",
    "selfplay_gpu_mean_batch_rows",
    "selfplay_gpu_evals_per_s",
    "selfplay_gpu_busy_share",
    "selfplay_gpu_busy_method",
    "selfplay_gpu_shared_memory_channels",
)
KEYS = (*INFERENCE_KEYS, *LEARNER_KEYS, *SELFPLAY_KEYS)
DEFAULT_TESTS = ("tests/gpu",)  # where every gpu test lives: a GPU image needs only their imports
TESTS_TIMEOUT_S = 300.0

Part = Callable[[], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class GpuTestRun:
    """What ``pytest -m gpu`` did (counts from its JUnit XML report)."""

    command: list[str]
    exit_code: int  # pytest's: 0 passed (skips included), 1 failures, 5 nothing collected ...
    passed: int
    failed: int
    errors: int
    skipped: int
    skip_reasons: list[str]  # each distinct reason once
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def no_cuda_reason() -> str | None:
    """Why the GPU parts cannot run here, or None when they can."""
    import torch

    if torch.version.cuda is None:
        return (
            f"no CUDA device: torch.cuda.is_available() is False "
            f"(torch {torch.__version__} is a build without CUDA)"
        )
    if not torch.cuda.is_available():
        return (
            f"no CUDA device: torch.cuda.is_available() is False "
            f"(torch {torch.__version__}, CUDA {torch.version.cuda}; no GPU or driver visible)"
        )
    return None


def run_gpu_tests(paths: Sequence[str], *, timeout_s: float = TESTS_TIMEOUT_S) -> GpuTestRun:
    """``pytest -m gpu`` over ``paths`` in a subprocess (the later ``-m`` replaces the default
    run's ``not slow and not gpu``)."""
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        report = Path(tmp) / "junit.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "gpu",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            *paths,
        ]
        start = time.perf_counter()
        try:
            done = subprocess.run(command, timeout=timeout_s, check=False)
            code = done.returncode
        except subprocess.TimeoutExpired:
            code = -1
        seconds = time.perf_counter() - start
        counts, reasons = _junit_counts(report)
    shown = [arg for arg in command if not arg.startswith("--junitxml=")]
    return GpuTestRun(
        command=shown, exit_code=code, **counts, skip_reasons=reasons, seconds=seconds
    )


def _junit_counts(report: Path) -> tuple[dict[str, int], list[str]]:
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    reasons: list[str] = []
    if not report.exists():
        return counts, reasons
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome = next(
            (child for child in case if child.tag in ("failure", "error", "skipped")), None
        )
        if outcome is None:
            counts["passed"] += 1
            continue
        key = {"failure": "failed", "error": "errors", "skipped": "skipped"}[outcome.tag]
        counts[key] += 1
        message = outcome.get("message", "")
        if key == "skipped" and message not in reasons:
            reasons.append(message)
    return counts, reasons


def gpu_machine() -> dict[str, Any]:
    """Where the numbers were taken: CPU, cores, Python, torch, and the GPU side."""
    import torch

    from blobrl.bench.__main__ import machine

    info = machine()
    info.pop("cuda", None)  # there the GPU's name; here "gpu", and "cuda" is not ambiguous
    cuda = torch.cuda.is_available()
    props = torch.cuda.get_device_properties(0) if cuda else None
    info.update(
        gpu=props.name if props else None,
        gpu_count=torch.cuda.device_count() if cuda else 0,
        gpu_memory_bytes=int(props.total_memory) if props else None,
        gpu_capability=f"{props.major}.{props.minor}" if props else None,
        bf16_supported=bool(torch.cuda.is_bf16_supported()) if cuda else None,
        torch_cuda=torch.version.cuda,
        cudnn=torch.backends.cudnn.version() if cuda else None,
    )
    return info


def measure(part: Part, keys: Sequence[str], *, skip: str | None) -> tuple[dict[str, Any], bool]:
    """``part``'s keys, or every key null with ``<key>_skipped`` (``skip``) or ``<key>_error``
    (what ``part`` raised); and whether it ran without an error."""
    if skip is not None:
        return {**dict.fromkeys(keys), **{f"{k}_skipped": skip for k in keys}}, True
    try:
        return part(), True
    except Exception as exc:
        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}"
        return {**dict.fromkeys(keys), **{f"{k}_error": error for k in keys}}, False


def _inference(args: argparse.Namespace) -> dict[str, Any]:
    sweep = gpu.inference_sweep(batch_sizes=args.batch_sizes, seconds=args.inference_seconds)
    return {
        "gpu_inference_evals_per_s": sweep.served,
        "gpu_inference_packed_evals_per_s": sweep.packed,
        "gpu_forward_evals_per_s": sweep.forward,
    }


def _learner(args: argparse.Namespace) -> dict[str, Any]:
    rates = gpu.learner_rates(seconds=args.learner_seconds)
    return {
        "learner_samples_per_s": rates.samples_per_s,
        "learner_amp_dtype": rates.amp_dtype,
        "learner_batch_size": rates.batch_size,
    }


def _selfplay(args: argparse.Namespace) -> dict[str, Any]:
    run = gpu.selfplay_on_server(seconds=args.selfplay_seconds, actors=args.actors)
    out = {f"selfplay_gpu_{k}": v for k, v in dataclasses.asdict(run).items()}
    if run.busy_share is None:
        out["selfplay_gpu_busy_share_skipped"] = run.busy_method
        out["selfplay_gpu_busy_method"] = None
    return out


def gpu_check(args: argparse.Namespace, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole report (see the module doc); ``report["ok"]`` is the check's verdict."""
    started = time.perf_counter()
    report: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    ok = True
    if args.no_tests:
        report["gpu_tests"] = None
        report["gpu_tests_skipped"] = "--no-tests"
    else:
        log(f"gpu-check: pytest -m gpu {' '.join(args.tests)}")
        tests = run_gpu_tests(args.tests)
        report["gpu_tests"] = {**dataclasses.asdict(tests), "ok": tests.ok}
        seconds["gpu_tests"] = tests.seconds
        ok = ok and tests.ok
    skip = no_cuda_reason()
    if skip is not None:
        log(f"gpu-check: skipping the GPU measurements: {skip}")
    parts: list[tuple[str, Part, Sequence[str]]] = [
        ("inference", lambda: _inference(args), INFERENCE_KEYS),
        ("learner", lambda: _learner(args), LEARNER_KEYS),
        ("selfplay", lambda: _selfplay(args), SELFPLAY_KEYS),
    ]
    for name, part, keys in parts:
        start = time.perf_counter()
        numbers, ran = measure(part, keys, skip=skip)
        seconds[name] = time.perf_counter() - start
        report.update(numbers)
        ok = ok and ran
        if skip is None:
            log(
                f"gpu-check: {name} ({seconds[name]:.0f} s): "
                + json.dumps({k: numbers.get(k) for k in keys})
            )
    if args.require_gpu and skip is not None:
        ok = False
    report.update(
        machine=gpu_machine(),
        settings={
            "batch_sizes": list(args.batch_sizes),
            "inference_seconds": args.inference_seconds,
            "learner_seconds": args.learner_seconds,
            "selfplay_seconds": args.selfplay_seconds,
            "selfplay_actors": args.actors,  # null: one per core
            "selfplay_deal": f"{gpu.PLAYERS}x{gpu.CARDS}",
            "selfplay_search": f"{gpu.DETERMINIZATIONS}x{gpu.SIMULATIONS}",
        },
        part_seconds=seconds,
        seconds=time.perf_counter() - started,
        ok=ok,
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    return report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m blobrl.bench.gpu_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", metavar="OUT", default="gpu_check.json", help="the report's path")
    p.add_argument(
        "--selfplay-seconds",
        type=float,
        default=120.0,
        metavar="S",
        help="timed self-play window (default 120)",
    )
    p.add_argument(
        "--actors",
        type=int,
        default=None,
        metavar="N",
        help="self-play actors (default: one per core)",
    )
    p.add_argument(
        "--batch-sizes",
        type=int,
        nargs="+",
        default=list(gpu.BATCH_SIZES),
        metavar="B",
        help="inference batch sizes (default 256 .. 8192)",
    )
    p.add_argument(
        "--inference-seconds",
        type=float,
        default=1.0,
        metavar="S",
        help="timed seconds per architecture, batch size and path",
    )
    p.add_argument(
        "--learner-seconds",
        type=float,
        default=3.0,
        metavar="S",
        help="timed training seconds per architecture",
    )
    p.add_argument(
        "--tests",
        nargs="+",
        default=list(DEFAULT_TESTS),
        metavar="PATH",
        help="where pytest looks for the gpu tests (default: tests/gpu)",
    )
    p.add_argument("--no-tests", action="store_true", help="measure only")
    p.add_argument("--require-gpu", action="store_true", help="exit 1 without a CUDA device")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.actors is not None and args.actors < 1:
        parser().error(f"--actors must be >= 1, got {args.actors}")
    if args.selfplay_seconds <= 0:
        parser().error(f"--selfplay-seconds must be > 0, got {args.selfplay_seconds}")
    report = gpu_check(args)
    out = Path(args.json)
    out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    verdict = "ok" if report["ok"] else "FAILED"
    print(f"gpu-check: wrote {out} in {report['seconds']:.0f} s ({verdict})")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
