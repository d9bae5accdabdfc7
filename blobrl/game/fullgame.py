"""The optional full-game mode: a sequence of hands with rising and falling card counts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from blobrl.game.checks import TRUMP_MODES, GameError, check_deal_size, check_seat
from blobrl.game.deal import new_game
from blobrl.game.state import BlobState

# Full-game trump order by round number (RULES.md): spades, hearts, clubs, diamonds, no-trump.
ROTATION_ORDER: tuple[int | None, ...] = (3, 2, 0, 1, None)


@dataclass(frozen=True)
class RoundSpec:
    """One round of a full game."""

    number: int  # 0-based round number
    cards: int
    dealer: int
    trump: int | str | None  # a suit, None (no trump), or "auto" (turned up at the deal)


def round_schedule(
    num_players: int, max_cards: int, *, first_dealer: int = 0, trump_mode: str = "rotation"
) -> list[RoundSpec]:
    """Rounds C_max, C_max - 1, ..., 1, 2, ..., C_max; the dealer moves one seat each round.

    In ``rotation`` mode the trump follows spades, hearts, clubs, diamonds, no-trump by round
    number; ``turn_up`` turns a card up at each deal; ``none`` has no trump.
    """
    check_deal_size(num_players, max_cards)
    check_seat("first_dealer", first_dealer, num_players)
    if trump_mode not in TRUMP_MODES:
        raise GameError(f"trump_mode must be one of {list(TRUMP_MODES)}, got {trump_mode!r}")
    counts = list(range(max_cards, 0, -1)) + list(range(2, max_cards + 1))
    rounds = []
    for i, cards in enumerate(counts):
        trump: int | str | None
        if trump_mode == "rotation":
            trump = ROTATION_ORDER[i % len(ROTATION_ORDER)]
        elif trump_mode == "turn_up":
            trump = "auto"
        else:
            trump = None
        rounds.append(RoundSpec(i, cards, (first_dealer + i) % num_players, trump))
    return rounds


@dataclass
class FullGame:
    """Deals the rounds of a full game and adds up the scores.

    Use :meth:`next_round` to get each hand, play it to the end, then :meth:`record` it.
    """

    num_players: int
    max_cards: int
    seed: int | None = None
    first_dealer: int = 0
    trump_mode: str = "rotation"
    scoring: str = "blob"
    totals: list[int] = field(init=False)
    round_index: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.rounds = round_schedule(
            self.num_players,
            self.max_cards,
            first_dealer=self.first_dealer,
            trump_mode=self.trump_mode,
        )
        self.totals = [0] * self.num_players
        self._rng = np.random.default_rng(self.seed)

    def is_over(self) -> bool:
        return self.round_index >= len(self.rounds)

    def next_round(self) -> BlobState:
        if self.is_over():
            raise GameError("the game is over: every round has been played")
        spec = self.rounds[self.round_index]
        return new_game(
            self.num_players,
            spec.cards,
            seed=self._rng,
            dealer=spec.dealer,
            trump=spec.trump,
            trump_mode="turn_up" if spec.trump == "auto" else "rotation",
            scoring=self.scoring,
        )

    def record(self, state: BlobState) -> list[int]:
        """Add a finished round's scores to the totals; return the round's scores."""
        if not state.is_terminal():
            raise GameError("record() needs a finished hand")
        spec = self.rounds[self.round_index]
        if state.num_cards != spec.cards or state.dealer != spec.dealer:
            raise GameError(
                f"round {spec.number} is {spec.cards} cards dealt by seat {spec.dealer}; "
                f"got {state.num_cards} cards dealt by seat {state.dealer}"
            )
        got = state.scores()
        self.totals = [a + b for a, b in zip(self.totals, got, strict=True)]
        self.round_index += 1
        return got
