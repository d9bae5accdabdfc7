"""The public game API: ``new_game``, ``from_deal`` and :class:`BlobState`.

``BlobState`` is a thin object over one ``int64[STATE_SIZE]`` vector (see :mod:`blobrl.game.core`);
every rule lives in the numba kernels there, so the Python API and the search share one
implementation. Ids follow RULES.md: card = suit * 13 + rank, action 52 + b bids b.

An agent's loop crosses into numba once per move: :meth:`BlobState.apply` returns the legal set of
the next position as one integer (:mod:`blobrl.game.legal`), which ``legal_actions()`` unpacks in
Python, and the other queries read the vector through a memoryview (Python ints, no numpy scalars).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
from numba import types

from blobrl.game import core as k
from blobrl.game import legal

SUIT_NAMES = ("clubs", "diamonds", "hearts", "spades")
SUIT_SYMBOLS = ("♣", "♦", "♥", "♠")
RANK_NAMES = ("2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K", "A")
TRUMP_MODES = ("rotation", "turn_up", "none")
SCORINGS = {"blob": k.SCORING_BLOB, "oh_hell": k.SCORING_OH_HELL}

# Full-game trump order by round number (RULES.md): spades, hearts, clubs, diamonds, no-trump.
ROTATION_ORDER: tuple[int | None, ...] = (3, 2, 0, 1, None)
_PHASES = ("bidding", "play", "terminal")  # by PHASE_* id


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
    if type(value) is int:
        return True
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

# The kernels BlobState calls once per move. ``_bind_kernels`` swaps numba's dispatchers for the
# compiled entry points of the one signature a BlobState passes (its vector is always a writable,
# C-contiguous int64[STATE_SIZE], see ``_check_vector``): that skips numba's per-call argument
# typing, most of the cost of a call this small.
_VECTOR_TYPE = types.Array(types.int64, 1, "C")
_apply_code: Callable[[np.ndarray, int], int] = legal.apply_code
_legal_code: Callable[[np.ndarray], int] = legal.legal_code
_scores: Callable[[np.ndarray, np.ndarray], None] = k.scores
_init_state: Callable[..., None] = k.init_state
_bound = False
_new_state = object.__new__


def _entry(kernel: Callable[..., object], *signature: types.Type) -> Callable[..., object]:
    """``kernel``'s compiled entry point for ``signature`` (the kernel itself without numba's JIT).
    An entry point trusts its arguments' types; callers pass exactly ``signature``."""
    compile_for = getattr(kernel, "compile", None)
    return kernel if compile_for is None else compile_for(signature)


def _bind_kernels() -> None:
    global _apply_code, _legal_code, _scores, _init_state, _bound
    vec, floats, i64 = _VECTOR_TYPE, types.Array(types.float64, 1, "C"), types.int64
    _apply_code = _entry(legal.apply_code, vec, i64)  # type: ignore[assignment]
    _legal_code = _entry(legal.legal_code, vec)  # type: ignore[assignment]
    _scores = _entry(k.scores, vec, floats)  # type: ignore[assignment]
    _init_state = _entry(k.init_state, vec, vec, *[i64] * 6)  # type: ignore[assignment]
    _bound = True


def _check_vector(vector: object) -> np.ndarray:
    """``vector`` if it is a state vector the compiled entry points may be given, else an error."""
    if not isinstance(vector, np.ndarray):
        raise GameError(f"a state vector is an int64[{k.STATE_SIZE}] array, got {vector!r}")
    flags = vector.flags
    faults = [
        *([] if vector.dtype == np.int64 else [f"dtype {vector.dtype}"]),
        *([] if vector.shape == (k.STATE_SIZE,) else [f"shape {vector.shape}"]),
        *([] if flags.c_contiguous and flags.aligned else ["not contiguous"]),
        *([] if flags.writeable else ["read-only"]),
    ]
    if faults:
        raise GameError(
            f"a state vector is a writable, contiguous int64[{k.STATE_SIZE}], got "
            + ", ".join(faults)
        )
    return vector


_S0, _S1, _S2, _S3 = legal.SUIT_IDS
_BID_IDS, _BIDDING, _CHUNK = legal.BID_IDS, legal.BIDDING, legal.CHUNK
_VOIDS = tuple(tuple(s for s in range(k.NUM_SUITS) if m >> s & 1) for m in range(16))


class BlobState:
    """One hand of Blob. Mutated in place by :meth:`apply`; :meth:`clone` is a cheap copy.

    The vector is the whole state. Alongside it the object keeps a memoryview of it (its reads
    are Python ints, no numpy scalars) and the legal code (:mod:`blobrl.game.legal`) of the
    position at history length ``_at``, which :meth:`apply` refreshes. A move made on the shared
    vector by the kernels directly advances the history, so it is noticed; code that rewrites the
    vector wholesale in place (``init_state``, a copy of another position) wraps it anew.
    """

    __slots__ = ("_at", "_code", "_m", "_s")

    _s: np.ndarray  # int64[STATE_SIZE]
    _m: memoryview  # of _s
    _code: int  # legal code of the position with history length _at
    _at: int  # -1: not known

    def __init__(self, vector: np.ndarray):
        """Wrap ``vector`` (shared, not copied): a writable, C-contiguous ``int64[STATE_SIZE]``."""
        if not _bound:
            _bind_kernels()
        self._s = _check_vector(vector)
        self._m = vector.data
        self._code = 0
        self._at = -1

    def __reduce__(self) -> tuple[type[BlobState], tuple[np.ndarray]]:
        return BlobState, (self._s,)

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
        new = _new_state(BlobState)
        s = self._s.copy()
        new._s = s
        new._m = s.data
        new._code = self._code
        new._at = self._at
        return new

    # ---- the public API -------------------------------------------------------------------
    @property
    def num_players(self) -> int:
        return self._m[k.F_N]

    @property
    def num_cards(self) -> int:
        return self._m[k.F_C]

    @property
    def dealer(self) -> int:
        return self._m[k.F_DEALER]

    @property
    def trump(self) -> int | None:
        t = self._m[k.F_TRUMP]
        return None if t == k.NO_TRUMP else t

    @property
    def turned_up(self) -> int | None:
        """The turned-up card (turn_up mode), seen by everyone and out of play."""
        c = self._m[k.F_TURNUP]
        return None if c == k.NO_CARD else c

    @property
    def scoring(self) -> str:
        return "oh_hell" if self._m[k.F_SCORING] == k.SCORING_OH_HELL else "blob"

    @property
    def current_player(self) -> int:
        """Seat to act; -1 once the hand is over."""
        return self._m[k.F_PLAYER]

    @property
    def phase(self) -> str:
        return _PHASES[self._m[k.F_PHASE]]

    @property
    def history(self) -> list[int]:
        return self._m[k.F_HIST : k.F_HIST + self._m[k.F_HISTLEN]].tolist()

    @property
    def bids(self) -> list[int | None]:
        m = self._m
        return [None if b < 0 else b for b in m[k.F_BIDS : k.F_BIDS + m[k.F_N]]]

    @property
    def tricks_won(self) -> list[int]:
        m = self._m
        return m[k.F_TRICKS : k.F_TRICKS + m[k.F_N]].tolist()

    @property
    def trick_leader(self) -> int:
        """Seat that led (or will lead) the current trick."""
        return self._m[k.F_LEADER]

    @property
    def current_trick(self) -> list[tuple[int, int]]:
        """(seat, card) pairs of the trick in progress, in play order."""
        m = self._m
        n, lead = m[k.F_N], m[k.F_LEADER]
        return [((lead + i) % n, m[k.F_TRICK + i]) for i in range(m[k.F_NTRICK])]

    @property
    def led_suit(self) -> int | None:
        led = self._m[k.F_LED]
        return None if led < 0 else led

    @property
    def tricks_played(self) -> int:
        return self._m[k.F_TRICKNO]

    def known_voids(self, player: int) -> list[int]:
        """Suits ``player`` has shown (by not following) that they hold none of."""
        m = self._m
        if type(player) is not int or not 0 <= player < m[k.F_N]:
            player = _check_seat("player", player, m[k.F_N])
        return list(_VOIDS[m[k.F_VOIDS + player]])

    def hand(self, player: int) -> list[int]:
        """Cards ``player`` still holds, in increasing id order."""
        m = self._m
        if type(player) is not int or not 0 <= player < m[k.F_N]:
            player = _check_seat("player", player, m[k.F_N])
        return legal.cards_of(m[k.F_HANDS + player])

    def legal_actions(self) -> list[int]:
        at = self._m[k.F_HISTLEN]
        if at != self._at:
            self._code = _legal_code(self._s)
            self._at = at
        code = self._code
        # The legal code unpacked (legal.cards_of, inlined: the hottest call of an agent's loop).
        if code >= _BIDDING:
            return list(_BID_IDS[code & _CHUNK])
        return [
            *_S0[code & _CHUNK],
            *_S1[code >> 13 & _CHUNK],
            *_S2[code >> 26 & _CHUNK],
            *_S3[code >> 39],
        ]

    def legal_mask(self) -> np.ndarray:
        """``bool[65]`` mask of legal actions."""
        out = np.zeros(k.NUM_ACTIONS, np.bool_)
        k.legal_mask(self._s, out)
        return out

    def is_terminal(self) -> bool:
        return self._m[k.F_PHASE] == k.PHASE_TERMINAL

    def scores(self) -> list[int]:
        """Score of each seat (RULES.md, Scoring); running totals before the end."""
        out = np.zeros(k.MAX_PLAYERS, np.float64)
        _scores(self._s, out)
        return [int(x) for x in out[: self._m[k.F_N]].tolist()]

    def apply(self, action: int) -> None:
        """Apply ``action`` in place; raise :class:`IllegalActionError` naming why not."""
        if type(action) is not int and not _is_int(action):
            raise IllegalActionError(f"action must be an integer id 0..64, got {action!r}")
        if not 0 <= action < k.NUM_ACTIONS:
            raise IllegalActionError(self._explain(int(action), k.ERR_RANGE))
        code = _apply_code(self._s, action)
        if code < 0:
            raise IllegalActionError(self._explain(int(action), -code))
        self._code = code
        self._at = self._m[k.F_HISTLEN]

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
    hands: np.ndarray,
    *,
    num_players: int,
    cards: int,
    dealer: int,
    trump: int,
    turnup: int,
    scoring: int,
) -> BlobState:
    """A fresh hand; ``hands`` is ``int64[MAX_PLAYERS]``, the card mask of each seat."""
    if not _bound:
        _bind_kernels()
    vec = np.zeros(k.STATE_SIZE, np.int64)
    _init_state(vec, hands, num_players, cards, dealer, trump, turnup, scoring)
    state = _new_state(BlobState)
    state._s = vec
    state._m = vec.data
    state._code = 0
    state._at = -1
    return state


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
    hands = np.zeros(k.MAX_PLAYERS, np.int64)
    k.deal_masks(deck, num_players, cards, hands)
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
        hands,
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
    masks_array = np.zeros(k.MAX_PLAYERS, np.int64)
    masks_array[:n] = masks
    return _make_state(
        masks_array,
        num_players=n,
        cards=sizes[0],
        dealer=_check_seat("dealer", dealer, n),
        trump=_check_trump(trump),
        turnup=turnup,
        scoring=_check_scoring(scoring),
    )
