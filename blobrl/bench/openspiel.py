"""The per-move API against OpenSpiel's C++ ``oh_hell`` driven from Python the same way.

Both drivers play random hands of N players x C cards one move at a time with one
``random.Random.choice`` a move: blobrl through :func:`~blobrl.game.new_game`,
``legal_actions()`` and ``apply()``; OpenSpiel through ``new_initial_state()``,
``legal_actions()`` and ``apply_action()``, its chance moves (the deal, the trump card, the
dealer) drawn the same way as the players' moves, since OpenSpiel deals card by card. The two are
timed in alternating windows of the same run, so the ratio survives a shared machine's swings.
OpenSpiel is the ``open_spiel`` package (in the dev extra where a wheel exists); without it the
comparison is skipped with the reason.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from blobrl.bench.window import timed
from blobrl.game import new_game

Hand = Callable[[], None]


def blobrl_hand(players: int, cards: int, seed: int = 0) -> Hand:
    """A function that plays one random hand through the public per-move API."""
    rng = np.random.default_rng(seed)
    pick = random.Random(seed).choice

    def hand() -> None:
        state = new_game(players, cards, seed=rng)
        while not state.is_terminal():
            state.apply(pick(state.legal_actions()))

    return hand


def openspiel_game(players: int, cards: int) -> Any:
    """OpenSpiel's ``oh_hell`` with a fixed hand size, or raise ImportError naming why not."""
    try:
        import pyspiel
    except ImportError as err:
        raise ImportError(
            f"OpenSpiel is not installed ({err}); `pip install open_spiel` to compare with it"
        ) from err
    return pyspiel.load_game("oh_hell", {"players": players, "num_tricks_fixed": cards})


def openspiel_hand(game: Any, seed: int = 0) -> Hand:
    """A function that plays one random hand of ``game`` from Python, chance moves included."""
    pick = random.Random(seed).choice

    def hand() -> None:
        state = game.new_initial_state()
        while not state.is_terminal():
            state.apply_action(pick(state.legal_actions()))

    return hand


def hands_per_s(hand: Hand, seconds: float) -> tuple[int, float]:
    """(hands played, seconds taken) playing ``hand`` for at least ``seconds``."""

    def one() -> int:
        hand()
        return 1

    return timed(one, seconds)


def compare(
    players: int, cards: int, *, rounds: int, seconds: float
) -> dict[str, float | str | None]:
    """``engine_api_games_per_s`` and, where OpenSpiel is installed, ``openspiel_api_games_per_s``
    and ``engine_api_vs_openspiel`` (their ratio), from ``rounds`` alternating windows of
    ``seconds`` each; without OpenSpiel those two are None and ``openspiel_skipped`` says why."""
    ours = blobrl_hand(players, cards)
    try:
        theirs: Hand | None = openspiel_hand(openspiel_game(players, cards))
        skipped = None
    except ImportError as err:
        theirs, skipped = None, str(err)
    played = {"ours": 0, "theirs": 0}
    took = {"ours": 0.0, "theirs": 0.0}
    for hand in (ours, theirs):  # warm-up: numba's entry points, OpenSpiel's first states
        if hand is not None:
            hands_per_s(hand, 0.2)
    for _ in range(rounds):
        for name, hand in (("ours", ours), ("theirs", theirs)):
            if hand is not None:
                done, elapsed = hands_per_s(hand, seconds)
                played[name] += done
                took[name] += elapsed
    rate = {name: played[name] / took[name] if took[name] else None for name in played}
    out: dict[str, float | str | None] = {
        "engine_api_games_per_s": rate["ours"],
        "openspiel_api_games_per_s": rate["theirs"],
        "engine_api_vs_openspiel": (
            rate["ours"] / rate["theirs"] if rate["ours"] and rate["theirs"] else None
        ),
    }
    if skipped:
        out["openspiel_skipped"] = skipped
    return out
