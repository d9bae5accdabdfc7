"""The game state object: :class:`BlobState`, a thin object over one ``int64[STATE_SIZE]``
vector (see :mod:`blobrl.game.core`). Hands are dealt by :mod:`blobrl.game.deal`.

Every rule lives in the numba kernels, so the Python API and the search share one
implementation. Ids follow RULES.md: card = suit * 13 + rank, action 52 + b bids b.

An agent's loop crosses into numba once per move: :meth:`BlobState.apply` returns the legal set of
the next position as one integer (:mod:`blobrl.game.legal`), which ``legal_actions()`` unpacks in
Python, and the other queries read the vector through a memoryview (Python ints, no numpy scalars).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import types

from blobrl.game import core as k
from blobrl.game import legal
from blobrl.game.checks import GameError, IllegalActionError, check_seat, is_int
from blobrl.game.names import SUIT_NAMES, action_name, card_name

_PHASES = ("bidding", "play", "terminal")  # by PHASE_* id

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
_deal_state: Callable[..., None] = k.deal_state
_bound = False
_new_state = object.__new__


def _entry(kernel: Callable[..., object], *signature: types.Type) -> Callable[..., object]:
    """``kernel``'s compiled entry point for ``signature`` (the kernel itself without numba's JIT).
    An entry point trusts its arguments' types; callers pass exactly ``signature``."""
    compile_for = getattr(kernel, "compile", None)
    return kernel if compile_for is None else compile_for(signature)


def _bind_kernels() -> None:
    global _apply_code, _legal_code, _scores, _init_state, _deal_state, _bound
    vec, floats, i64 = _VECTOR_TYPE, types.Array(types.float64, 1, "C"), types.int64
    _apply_code = _entry(legal.apply_code, vec, i64)  # type: ignore[assignment]
    _legal_code = _entry(legal.legal_code, vec)  # type: ignore[assignment]
    _scores = _entry(k.scores, vec, floats)  # type: ignore[assignment]
    _init_state = _entry(k.init_state, vec, vec, *[i64] * 6)  # type: ignore[assignment]
    _deal_state = _entry(k.deal_state, vec, vec, *[i64] * 6)  # type: ignore[assignment]
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
_HISTLEN, _PHASE, _TERMINAL, _ACTIONS = k.F_HISTLEN, k.F_PHASE, k.PHASE_TERMINAL, k.NUM_ACTIONS
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
            player = check_seat("player", player, m[k.F_N])
        return list(_VOIDS[m[k.F_VOIDS + player]])

    def hand(self, player: int) -> list[int]:
        """Cards ``player`` still holds, in increasing id order."""
        m = self._m
        if type(player) is not int or not 0 <= player < m[k.F_N]:
            player = check_seat("player", player, m[k.F_N])
        return legal.cards_of(m[k.F_HANDS + player])

    def legal_actions(self) -> list[int]:
        at = self._m[_HISTLEN]
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
        return self._m[_PHASE] == _TERMINAL

    def scores(self) -> list[int]:
        """Score of each seat (RULES.md, Scoring); running totals before the end."""
        out = np.zeros(k.MAX_PLAYERS, np.float64)
        _scores(self._s, out)
        return [int(x) for x in out[: self._m[k.F_N]].tolist()]

    def apply(self, action: int) -> None:
        """Apply ``action`` in place; raise :class:`IllegalActionError` naming why not."""
        if type(action) is not int or not 0 <= action < _ACTIONS:
            if not is_int(action):
                raise IllegalActionError(f"action must be an integer id 0..64, got {action!r}")
            if not 0 <= action < _ACTIONS:
                raise IllegalActionError(self._explain(int(action), k.ERR_RANGE))
            action = int(action)  # a numpy integer in range
        code = _apply_code(self._s, action)
        if code < 0:
            raise IllegalActionError(self._explain(action, -code))
        self._code = code
        self._at = self._m[_HISTLEN]

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


def _filled(fill: Callable[..., None], *args: object) -> BlobState:
    """A BlobState over a new vector that the kernel ``fill(vector, *args)`` writes whole."""
    vec = np.empty(k.STATE_SIZE, np.int64)
    fill(vec, *args)
    state = _new_state(BlobState)
    state._s = vec
    state._m = vec.data
    state._code = 0
    state._at = -1
    return state


def make_state(
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
    return _filled(_init_state, hands, num_players, cards, dealer, trump, turnup, scoring)


def dealt_state(
    deck: np.ndarray,
    *,
    num_players: int,
    cards: int,
    dealer: int,
    trump: int,
    turnup: int,
    scoring: int,
) -> BlobState:
    """A fresh hand dealing ``cards`` cards each from ``deck``, an ``int64[52]`` shuffled pack
    (card ids): seat ``p`` gets ``deck[p * cards : (p + 1) * cards]``."""
    if not _bound:
        _bind_kernels()
    return _filled(_deal_state, deck, num_players, cards, dealer, trump, turnup, scoring)
