"""``python -m blobrl.evaluate``: duplicate-deal matches between two agent specs."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from blobrl.agents import Agent, AgentSpecError, load
from blobrl.evaluation.match import DuplicateResult, make_deals, play_duplicate
from blobrl.evaluation.parallel import play_parallel
from blobrl.game import GameError, check_deal_size
from blobrl.game.checks import SCORINGS, TRUMP_MODES

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own exit code is 2 as well; keep the message
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m blobrl.evaluate",
        description="Duplicate-deal match: the agent takes every seat of each deal in turn, the "
        "opponents' agent the others. Specs: random, heuristic, ismcts:SIMS, a checkpoint path "
        "(PATH.pt, PATH.pt@KxS, PATH.pt@KxS-puct, PATH.pt@isS, PATH.pt@raw), or "
        "package.module:factory.",
    )
    p.add_argument("--agent", required=True, metavar="SPEC")
    p.add_argument("--opponents", required=True, metavar="SPEC")
    p.add_argument("--players", type=int, default=4, metavar="N")
    p.add_argument("--cards", type=int, default=6, metavar="C")
    p.add_argument("--deals", type=int, default=200, metavar="D")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--trump-mode", choices=TRUMP_MODES, default="rotation")
    p.add_argument("--scoring", choices=sorted(SCORINGS), default="blob")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="T",
        help="torch threads (default 1: the batches of a match are small, and more threads "
        "were several times slower on a 2-core machine)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="W",
        help="processes that play the deals in parallel (default 1); each loads both agents",
    )
    return p


def format_table(result: DuplicateResult, *, header: str) -> str:
    a, o = result.agent, result.opponents
    rows = [
        header,
        "",
        f"{'side':<12}{'score/hand':>11}{'95% ±':>8}{'exact bid':>11}{'|bid-tricks|':>14}"
        f"{'hands':>8}",
    ]
    for name, s in (("agent", a), ("opponents", o)):
        rows.append(
            f"{name:<12}{s.mean_score:>11.3f}{s.ci95:>8.3f}{s.exact_rate:>11.1%}"
            f"{s.mean_bid_error:>14.3f}{s.hands:>8}"
        )
    rows.append(f"{'difference':<12}{result.diff_mean:>+11.3f}{result.diff_ci95:>8.3f}")
    rows.append("")
    rows.append(
        f"deals: agent better on {result.better}, worse on {result.worse}, tied on {result.tied}"
    )
    low, high = result.diff_mean - result.diff_ci95, result.diff_mean + result.diff_ci95
    if low > 0:
        rows.append("the agent is stronger (95% interval of the difference above 0)")
    elif high < 0:
        rows.append("the opponents are stronger (95% interval of the difference below 0)")
    else:
        rows.append("no clear difference at 95% (play more deals to separate them)")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads < 1:
        return _bad(f"--threads must be >= 1, got {args.threads}")
    import torch

    torch.set_num_threads(args.threads)
    try:
        check_deal_size(args.players, args.cards)
    except GameError as e:
        return _bad(f"--players/--cards: {e}")
    if args.deals < 1:
        return _bad(f"--deals must be >= 1, got {args.deals}")
    if args.workers < 1:
        return _bad(f"--workers must be >= 1, got {args.workers}")
    agents: dict[str, Agent] = {}
    for flag, spec in (("--agent", args.agent), ("--opponents", args.opponents)):
        try:
            agents[flag] = load(spec, seed=args.seed + len(agents))
        except AgentSpecError as e:
            return _bad(f"{flag}: {e}")
    deals = make_deals(args.players, args.cards, args.deals, seed=args.seed)
    started = time.perf_counter()
    if args.workers == 1:
        result = play_duplicate(
            agents["--agent"],
            agents["--opponents"],
            deals,
            trump_mode=args.trump_mode,
            scoring=args.scoring,
        )
    else:
        result = play_parallel(
            args.agent,
            args.opponents,
            deals,
            workers=args.workers,
            seed=args.seed,
            trump_mode=args.trump_mode,
            scoring=args.scoring,
            threads=args.threads,
        )
    seconds = time.perf_counter() - started
    if args.json:
        out = {
            "agent_spec": args.agent,
            "opponents_spec": args.opponents,
            "players": args.players,
            "cards": args.cards,
            "seed": args.seed,
            "trump_mode": args.trump_mode,
            "scoring": args.scoring,
            "seconds": round(seconds, 3),
            **result.to_dict(),
        }
        print(json.dumps(_finite(out), indent=2, allow_nan=False))
    else:
        header = (
            f"{args.agent} vs {args.opponents}: {args.players} players x {args.cards} cards, "
            f"{result.deals} deals x {args.players} seatings = {result.plays} hands played "
            f"({args.trump_mode}, {args.scoring} scoring, seed {args.seed}, {seconds:.1f} s)"
        )
        print(format_table(result, header=header))
    return EXIT_OK


def _finite(value: object) -> object:
    """JSON has no infinity: an interval that is not defined (one deal) becomes null."""
    if isinstance(value, dict):
        return {key: _finite(v) for key, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _bad(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT
