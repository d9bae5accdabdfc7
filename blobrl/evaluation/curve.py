"""``python -m blobrl.evaluation.curve RUN_DIR``: strength against compute for one run.

Picks the run's iteration checkpoints written at about the given minutes of the run (the last
one written by then; minute 0 is when the launch wrote ``config.json``), plays each against
each opponent on the same fresh duplicate deals, and prints a table (``--json`` for JSON);
``--png`` draws the curve with matplotlib (``pip install blobrl[plots]``). Each point also has
its gain over the first checkpoint against the same opponent, paired deal by deal (the rise the
curve is for, with an interval much narrower than the two points' own).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from blobrl.evaluation.engine import interval95
from blobrl.evaluation.match import make_deals
from blobrl.evaluation.parallel import play_parallel

CURVE_SEED = 424_242  # the curve's deals: not the ones of any bar or gauntlet


@dataclass(frozen=True)
class CurvePoint:
    minutes: float  # of the run, when the checkpoint was written
    checkpoint: str
    opponent: str
    deals: int
    diff: float  # mean points a hand over the opponents, per deal
    diff_ci95: float
    exact_rate: float
    opponent_exact_rate: float
    gain: float = 0.0  # diff minus the first checkpoint's, paired over the same deals
    gain_ci95: float = 0.0


def checkpoints_at(run_dir: Path, minutes: list[float]) -> list[tuple[float, Path]]:
    """(minute written, path) of the last ``iter_*.pt`` written by each of ``minutes``."""
    start = (run_dir / "config.json").stat().st_mtime
    written = sorted(
        ((p.stat().st_mtime - start) / 60.0, p) for p in (run_dir / "checkpoints").glob("iter_*.pt")
    )
    if not written:
        raise SystemExit(f"error: {run_dir}/checkpoints holds no iter_*.pt")
    chosen: list[tuple[float, Path]] = []
    for target in minutes:
        before = [w for w in written if w[0] <= target + 0.5]
        pick = before[-1] if before else written[0]
        if pick not in chosen:
            chosen.append(pick)
    return chosen


def measure(
    points: list[tuple[float, Path]],
    opponents: list[str],
    *,
    players: int,
    cards: int,
    deals: int,
    workers: int,
    seed: int = CURVE_SEED,
    log=print,
) -> list[CurvePoint]:
    table = make_deals(players, cards, deals, seed=seed)
    out = []
    first: dict[str, np.ndarray] = {}  # opponent -> the first checkpoint's per-deal diffs
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        for minute, path in points:
            for opponent in opponents:
                r = play_parallel(str(path), opponent, table, workers=workers, pool=pool)
                per_deal = np.asarray(r.per_deal_diff, np.float64)
                gain = per_deal - first.setdefault(opponent, per_deal)
                point = CurvePoint(
                    minutes=round(minute, 1),
                    checkpoint=path.name,
                    opponent=opponent,
                    deals=r.deals,
                    diff=round(r.diff_mean, 3),
                    diff_ci95=round(r.diff_ci95, 3),
                    exact_rate=round(r.agent.exact_rate, 3),
                    opponent_exact_rate=round(r.opponents.exact_rate, 3),
                    gain=round(float(gain.mean()), 3),
                    gain_ci95=round(interval95(gain), 3) if gain.any() else 0.0,
                )
                log(
                    f"{point.minutes:6.1f} min  {point.checkpoint}  vs {opponent}: "
                    f"{point.diff:+.2f} ± {point.diff_ci95:.2f} "
                    f"(exact {point.exact_rate:.1%} / {point.opponent_exact_rate:.1%}), "
                    f"over the first {point.gain:+.2f} ± {point.gain_ci95:.2f}"
                )
                out.append(point)
    return out


def plot(points: list[CurvePoint], path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for opponent in dict.fromkeys(p.opponent for p in points):
        mine = [p for p in points if p.opponent == opponent]
        ax.errorbar(
            [p.minutes for p in mine],
            [p.diff for p in mine],
            yerr=[p.diff_ci95 for p in mine],
            marker="o",
            capsize=3,
            label=f"vs {opponent}",
        )
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel("minutes of training (2-core laptop)")
    ax.set_ylabel("points a hand over the opponents (95% CI)")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m blobrl.evaluation.curve", description=__doc__)
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--minutes", type=float, nargs="+", default=[10, 20, 40, 60])
    p.add_argument("--opponents", nargs="+", default=["heuristic", "ismcts:1000"])
    p.add_argument("--players", type=int, default=5)
    p.add_argument("--cards", type=int, default=7)
    p.add_argument("--deals", type=int, default=200)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=CURVE_SEED, help="of the deals")
    p.add_argument("--json", metavar="OUT", type=Path, help="also write the points as JSON")
    p.add_argument("--png", metavar="OUT", type=Path, help="draw the curve (matplotlib)")
    args = p.parse_args(argv)
    if not (args.run_dir / "config.json").is_file():
        print(f"error: {args.run_dir} is not a run directory (no config.json)", file=sys.stderr)
        return 2
    points = measure(
        checkpoints_at(args.run_dir, args.minutes),
        args.opponents,
        players=args.players,
        cards=args.cards,
        deals=args.deals,
        workers=max(1, args.workers),
        seed=args.seed,
    )
    if args.json:
        args.json.write_text(json.dumps([asdict(x) for x in points], indent=2) + "\n")
    if args.png:
        plot(points, args.png, title=f"{args.run_dir.name}: {args.players}x{args.cards}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
