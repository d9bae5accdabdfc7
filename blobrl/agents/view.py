"""What the player to act may know (RULES.md, Information), as one plain record.

Rule-based agents read a :class:`PlayerView`, never the state itself, so that hidden hands cannot
leak into a decision by accident: the view holds the acting seat's own cards and public facts only.
"""

from __future__ import annotations

from dataclasses import dataclass

from blobrl.game import BID_BASE, BlobState
from blobrl.game import core as k

NUM_RANKS = k.NUM_RANKS
NUM_SUITS = k.NUM_SUITS


def suit_of(card: int) -> int:
    return card // NUM_RANKS


def rank_of(card: int) -> int:
    return card % NUM_RANKS


@dataclass(frozen=True)
class PlayerView:
    """The acting seat's information state."""

    seat: int
    num_players: int
    num_cards: int
    dealer: int
    trump: int | None
    turned_up: int | None
    hand: tuple[int, ...]  # own cards, increasing ids
    legal: tuple[int, ...]  # legal action ids
    bids: tuple[int | None, ...]  # per seat; None before it bids
    tricks_won: tuple[int, ...]
    tricks_played: int
    trick: tuple[tuple[int, int], ...]  # (seat, card) of the trick in progress
    led_suit: int | None
    played: frozenset[int]  # every card played so far, current trick included
    voids: tuple[frozenset[int], ...]  # suits each seat has shown it lacks

    @property
    def bidding(self) -> bool:
        return bool(self.legal) and self.legal[0] >= BID_BASE

    @property
    def tricks_left(self) -> int:
        return self.num_cards - self.tricks_played

    @property
    def seats_after_me(self) -> list[int]:
        """Seats still to play to the current trick after this one, in order."""
        left = self.num_players - len(self.trick) - 1
        return [(self.seat + i) % self.num_players for i in range(1, left + 1)]

    def unseen(self) -> set[int]:
        """Cards this seat cannot see: in the other hands (or undealt)."""
        seen = set(self.hand) | set(self.played)
        if self.turned_up is not None:
            seen.add(self.turned_up)
        return set(range(k.NUM_CARDS)) - seen


def observe(state: BlobState) -> PlayerView:
    """The view of the seat to act in ``state``."""
    seat = state.current_player
    if seat < 0:
        raise ValueError("the hand is over: nobody is to act")
    history = state.history
    n = state.num_players
    played = frozenset(a for a in history if a < BID_BASE)
    return PlayerView(
        seat=seat,
        num_players=n,
        num_cards=state.num_cards,
        dealer=state.dealer,
        trump=state.trump,
        turned_up=state.turned_up,
        hand=tuple(state.hand(seat)),
        legal=tuple(state.legal_actions()),
        bids=tuple(state.bids),
        tricks_won=tuple(state.tricks_won),
        tricks_played=state.tricks_played,
        trick=tuple(state.current_trick),
        led_suit=state.led_suit,
        played=played,
        voids=tuple(frozenset(state.known_voids(p)) for p in range(n)),
    )
