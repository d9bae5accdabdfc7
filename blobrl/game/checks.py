"""The game API's errors, and the checks of its inputs: deal sizes, seats, trump, scoring."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from blobrl.game import core as k

TRUMP_MODES = ("rotation", "turn_up", "none")
SCORINGS = {"blob": k.SCORING_BLOB, "oh_hell": k.SCORING_OH_HELL}


class GameError(ValueError):
    """Bad input to the game API (a deal that does not fit, a seat out of range, ...)."""


class IllegalActionError(GameError):
    """An action that is not legal in the current state."""


def is_int(value: object) -> bool:
    """Whether ``value`` is an integer, Python or numpy (bools are not)."""
    if type(value) is int:
        return True
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_deal_size(num_players: int, cards: int) -> None:
    """Raise :class:`GameError` unless N players x C cards is a playable hand."""
    if not is_int(num_players) or not (k.MIN_PLAYERS <= num_players <= k.MAX_PLAYERS):
        raise GameError(f"players must be 3..8, got {num_players!r}")
    if not is_int(cards) or cards < 1:
        raise GameError(f"cards must be a positive integer, got {cards!r}")
    if num_players * cards > k.NUM_CARDS:
        raise GameError(
            f"{num_players} players x {cards} cards needs {num_players * cards} cards; "
            f"a pack has {k.NUM_CARDS}"
        )
    if cards > k.MAX_CARDS:
        raise GameError(
            f"{num_players} players x {cards} cards: at most {k.MAX_CARDS} cards per hand "
            f"(bids 0..{k.MAX_BID} are the only bid actions)"
        )


def feasible_deals(
    players: Iterable[int] = range(3, 9), cards: Iterable[int] = range(1, 13)
) -> list[tuple[int, int]]:
    """Every (N, C) pair of the given ranges that fits a pack and the bid actions."""
    out = []
    for n in players:
        for c in cards:
            try:
                check_deal_size(n, c)
            except GameError:
                continue
            out.append((n, c))
    return out


def check_seat(name: str, seat: int, num_players: int) -> int:
    if not is_int(seat) or not (0 <= seat < num_players):
        raise GameError(f"{name} must be a seat 0..{num_players - 1}, got {seat!r}")
    return int(seat)


def check_trump(trump: int | None) -> int:
    if trump is None:
        return k.NO_TRUMP
    if not is_int(trump) or not (0 <= trump < k.NUM_SUITS):
        raise GameError(f"trump must be a suit 0..3 or None, got {trump!r}")
    return int(trump)


def check_scoring(scoring: str) -> int:
    if scoring not in SCORINGS:
        raise GameError(f"scoring must be one of {sorted(SCORINGS)}, got {scoring!r}")
    return SCORINGS[scoring]
