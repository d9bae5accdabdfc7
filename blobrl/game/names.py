"""Names of cards, suits and actions, and card names parsed back to ids (RULES.md ids:
card = suit * 13 + rank, action 52 + b bids b)."""

from __future__ import annotations

from blobrl.game import core as k
from blobrl.game.checks import GameError

SUIT_NAMES = ("clubs", "diamonds", "hearts", "spades")
SUIT_SYMBOLS = ("♣", "♦", "♥", "♠")
RANK_NAMES = ("2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K", "A")


def card_name(card: int) -> str:
    """'A♠' style name of a card id."""
    return f"{RANK_NAMES[card % 13]}{SUIT_SYMBOLS[card // 13]}"


_SUIT_BY_NAME = {
    **{sym: i for i, sym in enumerate(SUIT_SYMBOLS)},
    **{name[0]: i for i, name in enumerate(SUIT_NAMES)},
}
_RANK_BY_NAME = {**{r: i for i, r in enumerate(RANK_NAMES)}, "T": RANK_NAMES.index("10")}


def parse_card(name: str) -> int:
    """The card id of a name such as 'A♠', 'AS', '10h', 'Td' or '2c' (the inverse of card_name)."""
    text = name.strip().upper() if isinstance(name, str) else ""
    rank = _RANK_BY_NAME.get(text[:-1])
    suit = _SUIT_BY_NAME.get(text[-1:].lower() if text[-1:].isalpha() else text[-1:])
    if rank is None or suit is None:
        raise GameError(f"not a card name: {name!r} (rank 2..10, J, Q, K, A, then a suit c d h s)")
    return suit * k.NUM_RANKS + rank


def action_name(action: int) -> str:
    """Human name of an action id: a card name or 'bid b'."""
    if 0 <= action < k.BID_BASE:
        return card_name(action)
    if k.BID_BASE <= action < k.NUM_ACTIONS:
        return f"bid {action - k.BID_BASE}"
    return f"action {action}"
