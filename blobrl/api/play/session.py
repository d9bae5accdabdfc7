"""One person's hand, or full game, against an agent in every other seat.

The model seats act as soon as it is their turn, so between requests the hand waits on the
person (or is over). Every move goes through ``BlobState.apply``: an illegal one is refused
with the engine's reason and changes nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from blobrl.agents import Agent
from blobrl.agents.heuristic import trick_winner
from blobrl.api.play.errors import Refused
from blobrl.game import BID_BASE, BlobState, FullGame, GameError, IllegalActionError, new_game


@dataclass(eq=False)
class Session:
    """``state`` is the hand now dealt; ``game`` the full game it belongs to, if any."""

    id: str
    agent: Agent
    checkpoint: str
    seat: int
    seed: int
    state: BlobState
    game: FullGame | None = None
    # full game: (trump, scores) of each finished round
    results: list[tuple[int | None, list[int]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _recorded: bool = False  # this hand's scores are in the game's totals

    @classmethod
    def deal(
        cls,
        session_id: str,
        agent: Agent,
        *,
        checkpoint: str,
        players: int,
        cards: int,
        seat: int,
        seed: int,
        full_game: bool,
    ) -> Session:
        """A new session, played up to the person's first decision."""
        if full_game:
            game = FullGame(players, cards, seed=seed, first_dealer=seed % players)
            state = game.next_round()
        else:
            game, state = None, new_game(players, cards, seed=seed)
        session = cls(session_id, agent, checkpoint, seat, seed, state, game)
        session._advance()
        return session

    # ---- the person ---------------------------------------------------------------------------
    def play(self, action: int) -> None:
        """Apply the person's ``action``, then the model seats' replies up to the person's
        next decision or the end of the hand; :class:`Refused` with the engine's reason (and
        nothing changed) when the action is not legal now."""
        self._advance()  # a no-op, unless a model seat failed to move in an earlier request
        try:
            self.state.apply(action)  # unchanged when it raises
        except IllegalActionError as e:
            raise Refused(str(e)) from None
        self._advance()

    def next_round(self) -> None:
        """Deal the next round of a full game."""
        if self.game is None:
            raise Refused("a single hand has no next round: start a new session")
        if not self.state.is_terminal():
            raise Refused(
                f"round {self.game.round_index + 1} of {len(self.game.rounds)} is still being "
                "played"
            )
        try:
            self.state = self.game.next_round()
        except GameError as e:
            raise Refused(str(e)) from None
        self._recorded = False
        self._advance()

    # ---- the model seats ----------------------------------------------------------------------
    def _advance(self) -> None:
        state = self.state
        while not state.is_terminal() and state.current_player != self.seat:
            state.apply(int(self.agent.act(state.clone())))
        if state.is_terminal() and self.game is not None and not self._recorded:
            self.results.append((state.trump, self.game.record(state)))
            self._recorded = True

    # ---- what happened ------------------------------------------------------------------------
    @property
    def round_number(self) -> int:
        """1-based round of the hand now dealt (1 for a single hand)."""
        if self.game is None:
            return 1
        return self.game.round_index + (0 if self._recorded else 1)


@dataclass(frozen=True)
class TrickRecord:
    number: int  # 1-based
    leader: int
    cards: tuple[tuple[int, int], ...]  # (seat, card) in the order played
    winner: int | None  # None while in progress


def replay(state: BlobState) -> tuple[list[tuple[int, int]], list[TrickRecord]]:
    """``(moves, tricks)`` of a hand from its history: every action with the seat that took
    it, and every trick (the last one in progress unless the hand is over)."""
    n = state.num_players
    seat = (state.dealer + 1) % n  # eldest bids first and leads the first trick
    moves: list[tuple[int, int]] = []
    tricks: list[TrickRecord] = []
    trick: list[tuple[int, int]] = []
    leader = seat
    for action in state.history:
        moves.append((seat, action))
        if action >= BID_BASE:
            seat = (seat + 1) % n
            continue
        trick.append((seat, action))
        if len(trick) == n:
            won = trick_winner(tuple(trick), state.trump)
            assert won is not None
            tricks.append(TrickRecord(len(tricks) + 1, leader, tuple(trick), won[0]))
            seat = leader = won[0]
            trick = []
        else:
            seat = (seat + 1) % n
    if trick:
        tricks.append(TrickRecord(len(tricks) + 1, leader, tuple(trick), None))
    return moves, tricks
