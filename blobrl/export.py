"""Export a trained network for use outside blobrl, and check the export against PyTorch.

``python -m blobrl.export CHECKPOINT --format torchscript|onnx --out FILE`` reads a best or
iteration checkpoint, writes the network alone (no search, no game engine), then runs the
exported file and the PyTorch model on the same random inputs and fails (exit 1) unless every
output agrees within ``--atol`` (default 1e-5).

The exported function is the network's forward pass: ``features`` ``float32[B, FEATURES]`` (the
information-state encoding of :mod:`blobrl.game.encoding`, any batch size ``B``) to
``policy_logits`` ``float32[B, 65]`` (unmasked; cards 0..51, then bids 0..12) and ``values``
``float32[B, 8]`` (expected score of each relative seat, normalised to [0, 1]).

ONNX needs the optional ``onnx`` package to write and ``onnxruntime`` to check
(``pip install onnx onnxruntime``); TorchScript needs nothing beyond torch.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from blobrl.game import FEATURES
from blobrl.nn import BlobNet, NetworkConfig, build_network

FORMATS = ("torchscript", "onnx")
INPUT_NAMES = ["features"]
OUTPUT_NAMES = ["policy_logits", "values"]
ONNX_OPSET = 17
EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT = 0, 1, 2


class ExportError(RuntimeError):
    """The export cannot be written (missing optional package, bad checkpoint)."""


@dataclass(frozen=True)
class ExportCheck:
    """How closely the exported file reproduces the PyTorch model on random inputs."""

    samples: int
    max_abs_error: float  # over both outputs
    atol: float

    @property
    def ok(self) -> bool:
        return self.max_abs_error <= self.atol


def load_network(checkpoint: str | Path) -> BlobNet:
    """The network of a best or iteration checkpoint, in eval mode on the CPU."""
    from blobrl.agents.loading import AgentSpecError, read_checkpoint

    path = Path(checkpoint)
    if not path.is_file():
        raise ExportError(f"{path}: checkpoint not found")
    try:
        weights, section = read_checkpoint(path)
    except AgentSpecError as e:
        raise ExportError(str(e)) from e
    config = NetworkConfig.from_section(section, weights)
    model = build_network(config)
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise ExportError(f"{path}: the weights do not fit a {config.arch} network") from e
    return model.eval()


def sample_features(samples: int, *, seed: int = 0) -> torch.Tensor:
    """``float32[samples, FEATURES]`` random inputs: sparse 0/1 like the encoding, plus a few
    uniform values so that continuous inputs are covered too."""
    gen = torch.Generator().manual_seed(seed)
    bits = (torch.rand(samples, FEATURES, generator=gen) < 0.1).float()
    return bits * torch.rand(samples, FEATURES, generator=gen).add(0.5)


def export_torchscript(model: BlobNet, out: str | Path) -> Path:
    """Trace ``model`` (a pure tensor function: no data-dependent control flow) and save it."""
    out = Path(out)
    model = model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(model, (sample_features(4),), check_trace=False)
        traced = torch.jit.freeze(traced)
    traced.save(str(out))
    return out


def export_onnx(model: BlobNet, out: str | Path) -> Path:
    """Write ``model`` as ONNX with a dynamic batch dimension (needs the ``onnx`` package)."""
    try:
        import onnx
    except ImportError as e:
        raise ExportError("ONNX export needs the onnx package: pip install onnx onnxruntime") from e
    out = Path(out)
    batch = {0: "batch"}
    fastpath = torch.backends.mha.get_fastpath_enabled()
    # The fused inference kernel of TransformerEncoderLayer has no ONNX form: export the plain
    # operators instead.
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            # The TorchScript-based exporter: needs no onnxscript, enough for these plain nets.
            torch.onnx.export(
                model.eval(),
                (sample_features(4),),
                str(out),
                dynamo=False,
                input_names=INPUT_NAMES,
                output_names=OUTPUT_NAMES,
                dynamic_axes={name: batch for name in INPUT_NAMES + OUTPUT_NAMES},
                opset_version=ONNX_OPSET,
            )
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    onnx.checker.check_model(onnx.load(str(out)))
    return out


def run_exported(path: str | Path, fmt: str, features: np.ndarray) -> list[np.ndarray]:
    """Outputs ``[policy_logits, values]`` of the exported file at ``path`` on ``features``."""
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded = torch.jit.load(str(path), map_location="cpu")
        with torch.no_grad():
            return [t.numpy() for t in loaded(torch.from_numpy(features))]
    if fmt == "onnx":
        try:
            import onnxruntime
        except ImportError as e:
            raise ExportError("checking ONNX needs onnxruntime: pip install onnxruntime") from e
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return list(session.run(OUTPUT_NAMES, {INPUT_NAMES[0]: features}))
    raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")


def check_export(
    model: BlobNet,
    path: str | Path,
    fmt: str,
    *,
    samples: int = 512,
    atol: float = 1e-5,
    seed: int = 0,
) -> ExportCheck:
    """Largest absolute difference between the exported file and ``model`` on random inputs,
    at an odd batch size (the export was made at batch 4: this checks the batch is dynamic)."""
    features = sample_features(samples, seed=seed)
    with torch.no_grad():
        expected = [t.numpy() for t in model.eval()(features)]
    got = run_exported(path, fmt, features.numpy())
    if len(got) != len(expected):
        return ExportCheck(samples, float("inf"), atol)
    error = 0.0
    for g, e in zip(got, expected, strict=True):
        if g.shape != e.shape:
            return ExportCheck(samples, float("inf"), atol)
        error = max(error, float(np.abs(g.astype(np.float64) - e).max()))
    return ExportCheck(samples, error, atol)


def export(model: BlobNet, out: str | Path, fmt: str) -> Path:
    if fmt == "torchscript":
        return export_torchscript(model, out)
    if fmt == "onnx":
        return export_onnx(model, out)
    raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m blobrl.export",
        description="Export a checkpoint's network (features -> policy_logits, values) and "
        "check the export against PyTorch on random inputs.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="best_model.pt or iter_*.pt")
    p.add_argument("--format", choices=FORMATS, default="torchscript")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--atol", type=float, default=1e-5, help="largest allowed difference")
    p.add_argument("--samples", type=int, default=511, help="random inputs for the check")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model = load_network(args.checkpoint)
        path = export(model, args.out, args.format)
        check = check_export(model, path, args.format, samples=args.samples, atol=args.atol)
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    verdict = "matches" if check.ok else "DOES NOT MATCH"
    print(
        f"wrote {path} ({args.format}); {verdict} PyTorch on {check.samples} random inputs: "
        f"max |difference| {check.max_abs_error:.2e} (atol {check.atol:.0e})"
    )
    return EXIT_OK if check.ok else EXIT_MISMATCH


if __name__ == "__main__":
    sys.exit(main())
