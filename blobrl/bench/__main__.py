"""``python -m blobrl.bench [--quick] [--json OUT] [--only SUITE ...]``"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from blobrl.bench.suites import SUITES, run_benchmarks


def machine() -> dict[str, object]:
    """A short description of where the numbers were taken."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blobrl.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="less work per suite, noisier")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON here")
    parser.add_argument("--only", nargs="+", choices=sorted(SUITES), help="run these suites")
    args = parser.parse_args(argv)
    info = machine()
    print(f"blobrl bench on {info['cpu']} ({info['cores']} cores), torch {info['torch']}")
    results = run_benchmarks(quick=args.quick, only=args.only)
    if args.json:
        payload = {
            **results,
            "machine": info,
            "quick": args.quick,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
