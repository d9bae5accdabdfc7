"""Dealing a hand: ``new_game`` (a shuffled pack, from a seed or a generator) and
``from_deal`` (explicit cards), each a fresh :class:`~blobrl.game.state.BlobState`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from blobrl.game import core as k
from blobrl.game.checks import (
    TRUMP_MODES,
    GameError,
    check_deal_size,
    check_scoring,
    check_seat,
    check_trump,
    is_int,
)
from blobrl.game.names import SUIT_NAMES, card_name
from blobrl.game.state import BlobState, dealt_state, make_state


def turn_up(deck: Sequence[int] | np.ndarray, dealt: int) -> tuple[int, int]:
    """Trump and turned-up card after ``dealt`` cards of the shuffled ``deck`` (card ids) went out:
    the next card's suit, or no trump (``NO_TRUMP``, ``NO_CARD``) when the pack is used up."""
    if dealt >= len(deck):
        return k.NO_TRUMP, k.NO_CARD
    card = int(deck[dealt])
    return card // k.NUM_RANKS, card


def new_game(
    num_players: int,
    cards: int,
    *,
    seed: int | np.random.Generator | None = None,
    dealer: int | None = None,
    trump: int | str | None = "auto",
    trump_mode: str = "rotation",
    scoring: str = "blob",
) -> BlobState:
    """Deal a fresh hand of ``cards`` cards to each of ``num_players`` players.

    ``trump="auto"`` picks the trump by ``trump_mode``: ``rotation`` draws one of the four suits or
    no-trump uniformly (single-hand training), ``turn_up`` turns up the next card of the pack (no
    trump when the pack is used up), ``none`` plays without trump. An explicit ``trump`` (suit 0..3
    or None) overrides the mode. ``dealer`` defaults to a random seat.
    """
    check_deal_size(num_players, cards)
    scoring_id = check_scoring(scoring)
    if trump_mode not in TRUMP_MODES:
        raise GameError(f"trump_mode must be one of {list(TRUMP_MODES)}, got {trump_mode!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    deck = rng.permutation(k.NUM_CARDS)
    if deck.dtype != np.int64:  # numpy's intp, int64 wherever blobrl runs; the kernel needs it
        deck = deck.astype(np.int64)
    dealt = num_players * cards
    turnup = k.NO_CARD
    if isinstance(trump, str):
        if trump != "auto":
            raise GameError(f"trump must be 'auto', a suit 0..3 or None, got {trump!r}")
        if trump_mode == "rotation":
            drawn = int(rng.integers(k.NUM_SUITS + 1))
            trump_id = drawn  # NO_TRUMP == 4 is the fifth outcome
        elif trump_mode == "turn_up":
            trump_id, turnup = turn_up(deck, dealt)
        else:
            trump_id = k.NO_TRUMP
    else:
        trump_id = check_trump(trump)
    seat = int(rng.integers(num_players)) if dealer is None else dealer
    seat = check_seat("dealer", seat, num_players)
    return dealt_state(
        deck,
        num_players=num_players,
        cards=cards,
        dealer=seat,
        trump=trump_id,
        turnup=turnup,
        scoring=scoring_id,
    )


def from_deal(
    hands: Sequence[Sequence[int]],
    *,
    dealer: int,
    trump: int | None,
    scoring: str = "blob",
    turned_up: int | None = None,
) -> BlobState:
    """A hand from explicit cards: ``hands[seat]`` lists that seat's card ids.

    ``turned_up`` optionally names the turned-up card (out of play, seen by all).
    """
    n = len(hands)
    if not (k.MIN_PLAYERS <= n <= k.MAX_PLAYERS):
        raise GameError(f"players must be 3..8, got {n} hands")
    sizes = [len(h) for h in hands]
    if len(set(sizes)) != 1:
        raise GameError(f"every hand must have the same number of cards, got sizes {sizes}")
    check_deal_size(n, sizes[0])
    seen: dict[int, int] = {}
    masks = []
    for seat, hand in enumerate(hands):
        m = 0
        for card in hand:
            if not is_int(card) or not (0 <= card < k.NUM_CARDS):
                raise GameError(f"seat {seat}: card ids are 0..51, got {card!r}")
            if int(card) in seen:
                raise GameError(
                    f"card {card} ({card_name(int(card))}) is dealt twice "
                    f"(seats {seen[int(card)]} and {seat})"
                )
            seen[int(card)] = seat
            m |= 1 << int(card)
        masks.append(m)
    turnup = k.NO_CARD
    if turned_up is not None:
        if not is_int(turned_up) or not (0 <= turned_up < k.NUM_CARDS):
            raise GameError(f"turned_up must be a card id 0..51, got {turned_up!r}")
        if int(turned_up) in seen:
            raise GameError(f"turned-up card {card_name(int(turned_up))} is also in a hand")
        turnup = int(turned_up)
        if trump != turnup // k.NUM_RANKS:
            raise GameError(
                f"turned-up card {card_name(turnup)} makes {SUIT_NAMES[turnup // k.NUM_RANKS]} "
                f"trump, got trump={trump!r}"
            )
    masks_array = np.zeros(k.MAX_PLAYERS, np.int64)
    masks_array[:n] = masks
    return make_state(
        masks_array,
        num_players=n,
        cards=sizes[0],
        dealer=check_seat("dealer", dealer, n),
        trump=check_trump(trump),
        turnup=turnup,
        scoring=check_scoring(scoring),
    )
