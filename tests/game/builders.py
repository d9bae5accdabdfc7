"""Small builders shared by the game tests: cards by name, bids, action lists, random play."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from blobrl.game import BID_BASE, BlobState, parse_card


def cards(text: str) -> list[int]:
    """Card ids of a space-separated list of names, e.g. ``cards("AS 10h 2c")``."""
    return [parse_card(name) for name in text.split()]


def card(name: str) -> int:
    return parse_card(name)


def bid(b: int) -> int:
    """The action id that bids ``b``."""
    return BID_BASE + b


def bids(*values: int) -> list[int]:
    return [bid(b) for b in values]


def play(state: BlobState, actions: Iterable[int | str]) -> BlobState:
    """Apply ``actions`` in order (a card may be given by name); return ``state``."""
    for action in actions:
        state.apply(parse_card(action) if isinstance(action, str) else action)
    return state


def play_randomly(state: BlobState, rng: np.random.Generator, steps: int | None = None) -> None:
    """Apply uniformly random legal actions: ``steps`` of them, or until the hand ends."""
    done = 0
    while not state.is_terminal() and (steps is None or done < steps):
        legal = state.legal_actions()
        state.apply(legal[int(rng.integers(len(legal)))])
        done += 1
