"""The soak's command line: ``python -m blobrl.soak`` (see :mod:`blobrl.soak`)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from blobrl.tools.soak.driver import Soak, SoakOptions


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m blobrl.soak",
        description="Run training on a local Ray head for a while, killing self-play actors, "
        "then check exit code, game log, resume consistency and memory.",
    )
    p.add_argument("--config", type=Path, default=Path("configs/smoke.yaml"))
    p.add_argument("--minutes", type=float, default=20.0, help="how long the run goes on")
    p.add_argument(
        "--kill-every", type=float, default=60.0, metavar="S", help="seconds between kills"
    )
    p.add_argument("--run-dir", type=Path, help="run directory (default: a new temporary one)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the report as JSON here")
    p.add_argument(
        "--sample-every", type=float, default=60.0, metavar="S", help="seconds between RSS samples"
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=60.0,
        metavar="S",
        help="memory baseline: the first sample at least this many seconds in",
    )
    p.add_argument("--seed", type=int, default=0, help="which actors are killed")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Exit codes: 0 every check passed; 1 a check failed; 2 bad arguments."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    if not args.config.is_file():
        print(f"error: {args.config}: config file not found", file=sys.stderr)
        return 2
    if args.minutes <= 0 or args.kill_every <= 0 or args.sample_every <= 0:
        print("error: --minutes, --kill-every and --sample-every must be > 0", file=sys.stderr)
        return 2
    options = SoakOptions(
        config=args.config,
        minutes=args.minutes,
        kill_every=args.kill_every,
        run_dir=args.run_dir,
        sample_every=args.sample_every,
        warmup_s=args.warmup,
        seed=args.seed,
    )
    report = Soak(options).run()
    print(report.render(), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), indent=2))
        print(f"report written to {args.json}")
    return 0 if report.ok else 1
