"""The public game API: ``new_game``, ``from_deal`` and :class:`BlobState`.

``BlobState`` is a thin object over one ``int64[STATE_SIZE]`` vector (see :mod:`blobrl.game.core`);
every rule lives in the numba kernels there, so the Python API and the search share one
implementation. Ids follow RULES.md: card = suit * 13 + rank, action 52 + b bids b.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from blobrl.game import core as k

SUIT_NAMES = ("clubs", "diamonds", "hearts", "spades")
SUIT_SYMBOLS = ("♣", "♦", "♥", "♠")
RANK_NAMES = ("2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K", "A")
TRUMP_MODES = ("rotation", "turn_up", "none")
SCORINGS = {"blob": k.SCORING_BLOB, "oh_hell": k.SCORING_OH_HELL}

# Full-game trump order by round number (RULES.md): spades, hearts, clubs, diamonds, no-trump.
ROTATION_ORDER: tuple[int | None, ...] = (3, 2, 0, 1, None)


class GameError(ValueError):
    """Bad input to the game API (a deal that does not fit, a seat out of range, ...)."""


class IllegalActionError(GameError):
    """An action that is not legal in the current state."""


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


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def action_name(action: int) -> str:
    """Human name of an action id: a card name or 'bid b'."""
    if 0 <= action < k.BID_BASE:
        return card_name(action)
    if k.BID_BASE <= action < k.NUM_ACTIONS:
        return f"bid {action - k.BID_BASE}"
    return f"action {action}"


def check_deal_size(num_players: int, cards: int) -> None:
    """Raise :class:`GameError` unless N players x C cards is a playable hand."""
    if not _is_int(num_players) or not (k.MIN_PLAYERS <= num_players <= k.MAX_PLAYERS):
        raise GameError(f"players must be 3..8, got {num_players!r}")
    if not _is_int(cards) or cards < 1:
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


def _check_seat(name: str, seat: int, num_players: int) -> int:
    if not _is_int(seat) or not (0 <= seat < num_players):
        raise GameError(f"{name} must be a seat 0..{num_players - 1}, got {seat!r}")
    return int(seat)


def _check_trump(trump: int | None) -> int:
    if trump is None:
        return k.NO_TRUMP
    if not _is_int(trump) or not (0 <= trump < k.NUM_SUITS):
        raise GameError(f"trump must be a suit 0..3 or None, got {trump!r}")
    return int(trump)


def _check_scoring(scoring: str) -> int:
    if scoring not in SCORINGS:
        raise GameError(f"scoring must be one of {sorted(SCORINGS)}, got {scoring!r}")
    return SCORINGS[scoring]


_ERROR_REASONS = {
    k.ERR_RANGE: "action ids are 0..64",
}


class BlobState:
    """One hand of Blob. Mutated in place by :meth:`apply`; :meth:`clone` is a cheap copy."""

    __slots__ = ("_s",)

    def __init__(self, vector: np.ndarray):
        self._s = vector

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_vector(cls, vector: np.ndarray) -> BlobState:
        """Wrap a state vector (copied) produced by the kernels."""
        return cls(np.array(vector, dtype=np.int64, copy=True))

    @property
    def vector(self) -> np.ndarray:
        """The underlying ``int64[STATE_SIZE]`` vector (shared, not copied)."""
        return self._s

    def clone(self) -> BlobState:
        return BlobState(self._s.copy())

    # ---- the public API -------------------------------------------------------------------
    @property
    def num_players(self) -> int:
        return int(self._s[k.F_N])

    @property
    def num_cards(self) -> int:
        return int(self._s[k.F_C])

    @property
    def dealer(self) -> int:
        return int(self._s[k.F_DEALER])

    @property
    def trump(self) -> int | None:
        t = int(self._s[k.F_TRUMP])
        return None if t == k.NO_TRUMP else t

    @property
    def turned_up(self) -> int | None:
        """The turned-up card (turn_up mode), seen by everyone and out of play."""
        c = int(self._s[k.F_TURNUP])
        return None if c == k.NO_CARD else c

    @property
    def scoring(self) -> str:
        return "oh_hell" if self._s[k.F_SCORING] == k.SCORING_OH_HELL else "blob"

    @property
    def current_player(self) -> int:
        """Seat to act; -1 once the hand is over."""
        return int(self._s[k.F_PLAYER])

    @property
    def phase(self) -> str:
        return ("bidding", "play", "terminal")[int(self._s[k.F_PHASE])]

    @property
    def history(self) -> list[int]:
        return self._s[k.F_HIST : k.F_HIST + self._s[k.F_HISTLEN]].tolist()

    @property
    def bids(self) -> list[int | None]:
        n = self.num_players
        return [None if b < 0 else int(b) for b in self._s[k.F_BIDS : k.F_BIDS + n]]

    @property
    def tricks_won(self) -> list[int]:
        return self._s[k.F_TRICKS : k.F_TRICKS + self.num_players].tolist()

    @property
    def trick_leader(self) -> int:
        """Seat that led (or will lead) the current trick."""
        return int(self._s[k.F_LEADER])

    @property
    def current_trick(self) -> list[tuple[int, int]]:
        """(seat, card) pairs of the trick in progress, in play order."""
        n, lead = self.num_players, self.trick_leader
        return [((lead + i) % n, int(self._s[k.F_TRICK + i])) for i in range(self._s[k.F_NTRICK])]

    @property
    def led_suit(self) -> int | None:
        led = int(self._s[k.F_LED])
        return None if led < 0 else led

    @property
    def tricks_played(self) -> int:
        return int(self._s[k.F_TRICKNO])

    def known_voids(self, player: int) -> list[int]:
        """Suits ``player`` has shown (by not following) that they hold none of."""
        m = int(self._s[k.F_VOIDS + _check_seat("player", player, self.num_players)])
        return [s for s in range(k.NUM_SUITS) if m >> s & 1]

    def hand(self, player: int) -> list[int]:
        """Cards ``player`` still holds, in increasing id order."""
        m = int(self._s[k.F_HANDS + _check_seat("player", player, self.num_players)])
        return [c for c in range(k.NUM_CARDS) if m >> c & 1]

    def legal_actions(self) -> list[int]:
        buf = np.empty(k.NUM_ACTIONS, np.int64)
        return buf[: k.legal_actions(self._s, buf)].tolist()

    def legal_mask(self) -> np.ndarray:
        """``bool[65]`` mask of legal actions."""
        out = np.zeros(k.NUM_ACTIONS, np.bool_)
        k.legal_mask(self._s, out)
        return out

    def is_terminal(self) -> bool:
        return bool(self._s[k.F_PHASE] == k.PHASE_TERMINAL)

    def scores(self) -> list[int]:
        """Score of each seat (RULES.md, Scoring); running totals before the end."""
        out = np.zeros(k.MAX_PLAYERS, np.float64)
        k.scores(self._s, out)
        return [int(x) for x in out[: self.num_players]]

    def apply(self, action: int) -> None:
        """Apply ``action`` in place; raise :class:`IllegalActionError` naming why not."""
        if not _is_int(action):
            raise IllegalActionError(f"action must be an integer id 0..64, got {action!r}")
        err = k.ERR_RANGE if not 0 <= action < k.NUM_ACTIONS else k.apply_action(self._s, action)
        if err != k.OK:
            raise IllegalActionError(self._explain(int(action), err))

    def _explain(self, action: int, err: int) -> str:
        who = self.current_player
        if err == k.ERR_TERMINAL:
            return f"illegal action {action} ({action_name(action)}): the hand is over"
        head = f"illegal action {action} ({action_name(action)}) for player {who}: "
        if err in _ERROR_REASONS:
            return head + _ERROR_REASONS[err]
        if err == k.ERR_BID_IN_PLAY:
            return head + "bidding is over; play a card"
        if err == k.ERR_CARD_IN_BIDDING:
            return head + "cards are played only after everyone has bid"
        if err == k.ERR_BID_TOO_HIGH:
            return head + f"bids are 0..{self.num_cards} in a {self.num_cards}-card hand"
        if err == k.ERR_HOOK:
            total = int(self._s[k.F_BIDSUM])
            return head + (
                f"the dealer may not bid {action - k.BID_BASE}: the bids would sum to "
                f"{self.num_cards}, the number of cards (earlier bids sum to {total})"
            )
        if err == k.ERR_NOT_IN_HAND:
            return head + f"player {who} does not hold {card_name(action)}"
        if err == k.ERR_MUST_FOLLOW:
            led = SUIT_NAMES[int(self._s[k.F_LED])]
            return head + f"player {who} must follow {led}"
        return head + f"error code {err}"

    def __repr__(self) -> str:
        trump = "no trump" if self.trump is None else SUIT_NAMES[self.trump]
        return (
            f"BlobState({self.num_players}x{self.num_cards}, {trump}, dealer {self.dealer}, "
            f"{self.phase}, to act {self.current_player})"
        )


def _make_state(
    masks: Sequence[int],
    *,
    cards: int,
    dealer: int,
    trump: int,
    turnup: int,
    scoring: int,
) -> BlobState:
    n = len(masks)
    hands = np.zeros(k.MAX_PLAYERS, np.int64)
    hands[:n] = masks
    vec = np.zeros(k.STATE_SIZE, np.int64)
    k.init_state(vec, hands, n, cards, dealer, trump, turnup, scoring)
    return BlobState(vec)


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
    scoring_id = _check_scoring(scoring)
    if trump_mode not in TRUMP_MODES:
        raise GameError(f"trump_mode must be one of {list(TRUMP_MODES)}, got {trump_mode!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    deck = rng.permutation(k.NUM_CARDS)
    dealt = num_players * cards
    masks = [
        sum(1 << int(c) for c in deck[p * cards : (p + 1) * cards]) for p in range(num_players)
    ]
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
        trump_id = _check_trump(trump)
    seat = int(rng.integers(num_players)) if dealer is None else dealer
    seat = _check_seat("dealer", seat, num_players)
    return _make_state(
        masks, cards=cards, dealer=seat, trump=trump_id, turnup=turnup, scoring=scoring_id
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
            if not _is_int(card) or not (0 <= card < k.NUM_CARDS):
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
        if not _is_int(turned_up) or not (0 <= turned_up < k.NUM_CARDS):
            raise GameError(f"turned_up must be a card id 0..51, got {turned_up!r}")
        if int(turned_up) in seen:
            raise GameError(f"turned-up card {card_name(int(turned_up))} is also in a hand")
        turnup = int(turned_up)
        if trump != turnup // k.NUM_RANKS:
            raise GameError(
                f"turned-up card {card_name(turnup)} makes {SUIT_NAMES[turnup // k.NUM_RANKS]} "
                f"trump, got trump={trump!r}"
            )
    return _make_state(
        masks,
        cards=sizes[0],
        dealer=_check_seat("dealer", dealer, n),
        trump=_check_trump(trump),
        turnup=turnup,
        scoring=_check_scoring(scoring),
    )
