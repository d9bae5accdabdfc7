"""How busy the GPUs are while something runs: NVML's utilization counter, sampled.

NVML's ``utilization.gpu`` is the share of its last sample period (1/6 s to 1 s, by product) in
which at least one kernel ran on the device. :class:`BusySampler` reads it every ``period_s`` on
a thread of its own, for every GPU the driver sees, through ``pynvml`` when that is installed
and else through the driver's own ``nvidia-smi`` (no Python dependency), and reports the mean of
the busiest GPU: on a machine that runs one InferenceServer, the server's GPU. Every process on
the device counts, so it is only the server's share while nothing else uses the GPU.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable

Reader = Callable[[], list[float]]  # utilization of each GPU, in [0, 1]


def _nvml_reader() -> Reader | None:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # no driver or no device: let nvidia-smi say so, or the caller
        return None

    def read() -> list[float]:
        return [pynvml.nvmlDeviceGetUtilizationRates(h).gpu / 100.0 for h in handles]

    return read


def _smi_reader() -> Reader | None:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    command = [smi, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]

    def read() -> list[float]:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10, check=True)
        return [float(line) / 100.0 for line in out.stdout.split()]

    try:
        read()
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return read


def find_reader() -> tuple[Reader | None, str]:
    """(reader, method) for the first way of reading utilization that works here ("nvml" or
    "nvidia-smi"), else (None, why there is none)."""
    reader = _nvml_reader()
    if reader is not None:
        return reader, "nvml"
    reader = _smi_reader()
    if reader is not None:
        return reader, "nvidia-smi"
    return None, (
        "no way to read GPU utilization: pynvml is not installed and nvidia-smi is missing "
        "or failed"
    )


class BusySampler:
    """Samples ``reader`` every ``period_s`` between :meth:`start` and :meth:`stop`."""

    def __init__(self, reader: Reader, *, period_s: float = 0.25) -> None:
        self._reader = reader
        self._period_s = period_s
        self._samples: list[list[float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpu-busy", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> float | None:
        """Stop sampling; the mean utilization of the busiest GPU (None without samples)."""
        self._stop.set()
        self._thread.join()
        if not self._samples:
            return None
        gpus = len(self._samples[0])
        means = [sum(s[i] for s in self._samples) / len(self._samples) for i in range(gpus)]
        return max(means) if means else None

    @property
    def samples(self) -> int:
        return len(self._samples)

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                self._samples.append(self._reader())
            except Exception:  # a missed sample is not worth ending the measurement for
                continue
