"""``python -m blobrl.play [--model SPEC] [--players N --cards C] [--full-game]``: play Blob in a
terminal against agents (the rule-based heuristic unless ``--model`` names another)."""

from __future__ import annotations

import argparse
import sys

from blobrl.agents import AgentSpecError, load
from blobrl.agents.terminal import Quit, TerminalGame
from blobrl.game import GameError, check_deal_size


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m blobrl.play", description=__doc__)
    p.add_argument(
        "--model",
        default="heuristic",
        metavar="SPEC",
        help="opponents: random, heuristic, PATH.pt[@KxS|@KxS-puct|@raw], module:factory",
    )
    p.add_argument("--players", type=int, default=4, metavar="N")
    p.add_argument(
        "--cards",
        type=int,
        default=5,
        metavar="C",
        help="cards per hand (the most cards in a full game)",
    )
    p.add_argument("--full-game", action="store_true", help="play every round, with totals")
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)  # fmt: skip
    try:
        check_deal_size(args.players, args.cards)
        opponent = load(args.model, seed=args.seed or 0)
    except (GameError, AgentSpecError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    game = TerminalGame(opponent)
    try:
        if args.full_game:
            game.play_full(args.players, args.cards, seed=args.seed)
        else:
            game.play_single(args.players, args.cards, seed=args.seed)
    except (Quit, KeyboardInterrupt):
        print("\nGame abandoned.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
