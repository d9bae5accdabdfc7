"""Numba kernels of batched determinized search: trees as arrays, one leaf per tree per pass.

A batch holds ``G`` games; each searches ``K`` sampled worlds, so there are ``T = G * K`` trees,
tree ``t`` belonging to game ``t // K``. A tree has up to ``M = simulations + 1`` nodes; node 0
is the root. A node is the state reached by its path of actions *in its world*; states are not
stored but re-simulated from the world's root during descent (a row copy and a few cheap
``apply`` calls, cheaper than keeping ``T * M`` state vectors). Chains of forced moves (one legal
action) are applied inside the edge that leads to them, so no evaluation is spent on them.

Values are vectors over absolute seats (normalized scores in [0, 1]); each node sums the
vectors backed up through it, and the player to act at a node picks the child maximising its own
entry (multi-player max^n backup). The network gives values relative to the acting seat; they
are rotated to absolute seats on expansion.

A node's edges are kept by the position of their action in the node's legal actions (the
increasing order :func:`~blobrl.game.core.legal_actions` gives, fixed for the node's state), not
by action id: ``children[t, x, j]`` and ``prior[t, x, j]`` are those of the ``j``-th legal
action, in rows of :data:`BRANCH`. A node has at most 13 legal actions of 65, so its two rows
(16-bit children while the node ids fit, float32 priors) take 96 bytes where by action id they
took 520, and the trees of the many games a self-play actor keeps in flight (behind a server,
several groups of them) a fraction of the memory: each step sweeps every tree, and once they
outgrow the cache the sweep is bound by its misses. The root's edges are mapped back to action
ids for the results (:func:`root_visits`, :func:`root_q`, :func:`root_prior`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from blobrl.data.wire import encode_wire
from blobrl.game import core as k
from blobrl.game import rng as _rng
from blobrl.game.determinize import determinize_into
from blobrl.game.encoding import encode_into

UNEXPANDED = -1  # children[t, x, j] before the edge is first taken
MAX_DEPTH = k.MAX_HISTORY + 1
BRANCH = 16  # edges a node has room for: the most legal actions (13 bids) rounded up
assert BRANCH >= k.MAX_BID + 1 and BRANCH >= k.MAX_CARDS
NO_FORCED = -1  # root_forced[t]: let PUCT choose the root action


@njit(cache=True)
def start_worlds(
    states: np.ndarray,  # int64[G, STATE_SIZE] real game states (player to act searched)
    active: np.ndarray,  # bool[G] games that search this round
    worlds: int,  # K
    rs: np.ndarray,  # uint64[G] per-game random streams
    world_roots: np.ndarray,  # int64[T, STATE_SIZE] out
    node_count: np.ndarray,  # int64[T] out: 1 (the root) for active trees, 0 otherwise
    children: np.ndarray,  # int16 or int32 [T, M, BRANCH]
    visits: np.ndarray,  # int32[T, M]
    value: np.ndarray,  # float32[T, M, P]
    expanded: np.ndarray,  # bool[T, M]
    sims_done: np.ndarray,  # int64[T] out: 0
) -> None:
    """Sample ``K`` worlds per active game and reset its trees to a bare root."""
    for g in range(states.shape[0]):
        for w in range(worlds):
            t = g * worlds + w
            sims_done[t] = 0
            if not active[g]:
                node_count[t] = 0
                continue
            determinize_into(states[g], states[g, k.F_PLAYER], rs, g, world_roots[t])
            node_count[t] = 1
            children[t, 0, :] = UNEXPANDED
            visits[t, 0] = 0
            value[t, 0, :] = 0.0
            expanded[t, 0] = False


@njit(cache=True)
def _skip_forced(state: np.ndarray, buf: np.ndarray) -> None:
    """Apply forced moves (a single legal action) until a real choice or the end."""
    while state[k.F_PHASE] != k.PHASE_TERMINAL:
        if k.legal_actions(state, buf) != 1:
            return
        k.apply_unchecked(state, buf[0])


@njit(cache=True)
def _terminal_value(state: np.ndarray, out: np.ndarray) -> None:
    """Normalized final scores by absolute seat."""
    out[:] = 0.0
    k.scores(state, out)
    scale = 1.0 / (10.0 + state[k.F_C])
    for p in range(state[k.F_N]):
        out[p] *= scale


@njit(cache=True)
def _backup(t: int, path: np.ndarray, depth: int, v: np.ndarray, visits, value, n: int) -> None:
    for i in range(depth + 1):
        x = path[t, i]
        visits[t, x] += 1
        for p in range(n):
            value[t, x, p] += v[p]


@njit(cache=True)
def select_leaves(
    world_roots: np.ndarray,  # int64[T, STATE_SIZE]
    leaf_legal: np.ndarray,  # int8[T, BRANCH] out: the legal actions at each tree's leaf
    leaf_count: np.ndarray,  # int64[T] out: how many
    leaf_player: np.ndarray,  # int64[T] out: the seat to act at each tree's leaf
    node_count: np.ndarray,  # int64[T]
    children: np.ndarray,  # int16 or int32 [T, M, BRANCH]: by legal-action position
    prior: np.ndarray,  # float32[T, M, BRANCH]
    visits: np.ndarray,  # int32[T, M]
    value: np.ndarray,  # float32[T, M, P]
    expanded: np.ndarray,  # bool[T, M]
    path: np.ndarray,  # int64[T, MAX_DEPTH]
    path_len: np.ndarray,  # int64[T]
    sims_done: np.ndarray,  # int64[T]
    sims_target: int,
    c_puct: float,
    root_forced: np.ndarray,  # int64[T]: root action to take, or NO_FORCED
    features: np.ndarray,  # float32[2T, FEATURES] out (first L rows), unless packed
    leaf_tree: np.ndarray,  # int64[T] out
    searcher_view: bool,
    own_row: np.ndarray,  # int64[T] out: leaf i's searcher-view row is L + own_row[i], or -1
    own_count: np.ndarray,  # int64[1] out: O, the number of searcher-view rows
    packed: bool,  # write the rows in wire form (bits, cont) instead of features
    bits: np.ndarray,  # uint8[2T, WIRE_BIT_BYTES] out when packed
    cont: np.ndarray,  # float32[2T, CONT] out when packed
) -> int:
    """Advance every unfinished tree to its next leaf that needs the network.

    Simulations ending at a terminal state are backed up on the spot and the tree descends again,
    so each tree contributes at most one leaf. Returns the number of leaves ``L``; row ``i`` of
    ``features`` is the information state of the player to act at leaf ``i`` of tree
    ``leaf_tree[i]``. A tree whose root is unexpanded yields its root as the leaf. With
    ``searcher_view``, a leaf where someone other than the root's player acts gets a second
    row, the root player's information state at it, after the ``L`` leaf rows (row
    ``L + own_row[i]``). With ``packed`` the rows go to ``bits`` and ``cont`` in the wire form
    (:mod:`blobrl.data.wire`) instead, as a server's client sends them.

    The descent plays out its state in one row of its own, not one per tree (a state is over a
    kilobyte, and the trees' rows were a third of what each step swept through memory): what
    :func:`expand_and_backup` needs of the leaf state, its legal actions and the seat to act,
    is kept per tree, and both rows of a leaf are encoded while it is at hand.
    """
    trees = world_roots.shape[0]
    st = np.empty(k.STATE_SIZE, np.int64)  # the state of the descent under way
    buf = np.empty(k.NUM_ACTIONS, np.int64)
    vbuf = np.zeros(value.shape[2], np.float32)
    leaves = 0
    owns = 0
    for t in range(trees):
        if node_count[t] == 0:
            continue
        while True:
            if expanded[t, 0] and sims_done[t] >= sims_target:
                break
            # The root's state up to its last action: the history past it is never read (a
            # move writes its entry before the length says it is there), and a state is over a
            # kilobyte, copied once a simulation in every tree.
            live = k.F_HIST + world_roots[t, k.F_HISTLEN]
            st[:live] = world_roots[t, :live]
            x = 0
            depth = 0
            path[t, 0] = 0
            leaf = False
            while True:
                if st[k.F_PHASE] == k.PHASE_TERMINAL:
                    break
                if not expanded[t, x]:
                    leaf = True
                    break
                player = st[k.F_PLAYER]
                count = k.legal_actions(st, buf)
                forced = root_forced[t] if depth == 0 else NO_FORCED
                best = 0  # the chosen edge: a position in buf
                if forced != NO_FORCED:
                    while best < count - 1 and buf[best] != forced:
                        best += 1
                else:
                    n_parent = visits[t, x]
                    sqrt_n = math.sqrt(max(n_parent, 1))
                    fpu = value[t, x, player] / n_parent if n_parent > 0 else 0.5
                    best_score = -1e30
                    for j in range(count):
                        y = children[t, x, j]
                        if y == UNEXPANDED or visits[t, y] == 0:
                            q = fpu
                            n_child = 0
                        else:
                            n_child = visits[t, y]
                            q = value[t, y, player] / n_child
                        score = q + c_puct * prior[t, x, j] * sqrt_n / (1.0 + n_child)
                        if score > best_score:
                            best_score = score
                            best = j
                k.apply_unchecked(st, buf[best])
                _skip_forced(st, buf)
                y = children[t, x, best]
                if y == UNEXPANDED:
                    y = node_count[t]
                    node_count[t] += 1
                    children[t, x, best] = y
                    children[t, y, :] = UNEXPANDED
                    visits[t, y] = 0
                    value[t, y, :] = 0.0
                    expanded[t, y] = False
                x = y
                depth += 1
                path[t, depth] = x
            path_len[t] = depth + 1
            if leaf:
                player = st[k.F_PLAYER]
                _write_row(st, player, leaves, features, packed, bits, cont)
                leaf_tree[leaves] = t
                leaf_player[t] = player
                count = k.legal_actions(st, buf)
                leaf_count[t] = count
                for j in range(count):
                    leaf_legal[t, j] = buf[j]
                if searcher_view and player != world_roots[t, k.F_PLAYER]:
                    # Rows from T on hold the searcher views until the leaves are counted.
                    root_player = world_roots[t, k.F_PLAYER]
                    _write_row(st, root_player, trees + owns, features, packed, bits, cont)
                    own_row[leaves] = owns
                    owns += 1
                else:
                    own_row[leaves] = -1
                leaves += 1
                break
            # Terminal: the score is known exactly; back it up and descend again.
            _terminal_value(st, vbuf)
            _backup(t, path, depth, vbuf, visits, value, st[k.F_N])
            sims_done[t] += 1
    if leaves < trees:  # the searcher views follow the leaf rows (each moves down, in order)
        for o in range(owns):
            if packed:
                bits[leaves + o] = bits[trees + o]
                cont[leaves + o] = cont[trees + o]
            else:
                features[leaves + o] = features[trees + o]
    own_count[0] = owns
    return leaves


@njit(cache=True)
def _write_row(
    state: np.ndarray,
    viewer: int,
    r: int,
    features: np.ndarray,
    packed: bool,
    bits: np.ndarray,
    cont: np.ndarray,
) -> None:
    """Row ``r`` of the leaf batch: ``viewer``'s information state at ``state``, as floats in
    ``features[r]`` or, ``packed``, in wire form in ``bits[r]`` and ``cont[r]`` (encoded
    straight into bits: no float row is written and packed)."""
    if packed:
        encode_wire(state, viewer, bits[r], cont[r])
    else:
        encode_into(state, viewer, features[r])


@njit(cache=True)
def expand_and_backup(
    leaves: int,
    leaf_tree: np.ndarray,  # int64[L]
    logits: np.ndarray,  # float32[L, A]
    values: np.ndarray,  # float32[L, P] relative to the leaf's acting seat
    own_values: np.ndarray,  # float32[O, P] relative to the root's player (searcher views)
    own_row: np.ndarray,  # int64[L] from select_leaves
    world_roots: np.ndarray,  # int64[T, STATE_SIZE]
    leaf_legal: np.ndarray,  # int8[T, BRANCH] from select_leaves
    leaf_count: np.ndarray,  # int64[T]
    leaf_player: np.ndarray,  # int64[T]
    prior: np.ndarray,  # float32[T, M, BRANCH]
    visits: np.ndarray,
    value: np.ndarray,
    expanded: np.ndarray,
    path: np.ndarray,
    path_len: np.ndarray,
    sims_done: np.ndarray,
    worlds: int,
    dirichlet_alpha: float,
    dirichlet_weight: float,
    rs: np.ndarray,  # uint64[G]
) -> None:
    """Set priors at each leaf (softmax over legal actions; Dirichlet noise at roots) and back
    the leaf's value up its path (the root player's entry from its own view when it has one)."""
    vabs = np.zeros(value.shape[2], np.float32)
    noise = np.empty(k.NUM_ACTIONS, np.float64)
    for i in range(leaves):
        t = leaf_tree[i]
        depth = path_len[t] - 1
        x = path[t, depth]
        n = world_roots[t, k.F_N]
        player = leaf_player[t]
        count = leaf_count[t]
        buf = leaf_legal[t]
        m = -1e30
        for j in range(count):
            if logits[i, buf[j]] > m:
                m = logits[i, buf[j]]
        total = 0.0
        for j in range(count):
            e = math.exp(logits[i, buf[j]] - m)
            prior[t, x, j] = e
            total += e
        for j in range(count):
            prior[t, x, j] /= total
        if x == 0 and dirichlet_weight > 0.0:
            g = t // worlds
            s = 0.0
            for j in range(count):
                noise[j] = _rng.gamma(rs, g, dirichlet_alpha)
                s += noise[j]
            for j in range(count):
                prior[t, x, j] = (1.0 - dirichlet_weight) * prior[t, x, j] + dirichlet_weight * (
                    noise[j] / s
                )
        expanded[t, x] = True
        vabs[:] = 0.0
        for r in range(n):
            vabs[(player + r) % n] = values[i, r]
        if own_row[i] >= 0:
            vabs[world_roots[t, k.F_PLAYER]] = own_values[own_row[i], 0]
        _backup(t, path, depth, vabs, visits, value, n)
        if x != 0:
            sims_done[t] += 1


@njit(cache=True)
def root_visits(
    children: np.ndarray,
    visits: np.ndarray,
    node_count: np.ndarray,
    world_roots: np.ndarray,  # int64[T, STATE_SIZE]: the roots' states, for their action ids
    worlds: int,
    out: np.ndarray,  # float64[G, A] out
) -> None:
    """Sum each game's root child visits over its worlds into ``out[G, A]``."""
    out[:] = 0.0
    buf = np.empty(k.NUM_ACTIONS, np.int64)
    for t in range(children.shape[0]):
        if node_count[t] == 0:
            continue
        g = t // worlds
        for j in range(k.legal_actions(world_roots[t], buf)):
            y = children[t, 0, j]
            if y != UNEXPANDED:
                out[g, buf[j]] += visits[t, y]


@njit(cache=True)
def root_q(
    children: np.ndarray,
    visits: np.ndarray,
    value: np.ndarray,
    node_count: np.ndarray,
    world_roots: np.ndarray,  # int64[T, STATE_SIZE]
    worlds: int,
    q_sum: np.ndarray,  # float64[G, A] out: sum over worlds of Q(root, a) for the acting seat
    q_cnt: np.ndarray,  # float64[G, A] out: worlds in which the action was visited
) -> None:
    """Per game and root action: Q values of the acting player, summed over worlds."""
    q_sum[:] = 0.0
    q_cnt[:] = 0.0
    buf = np.empty(k.NUM_ACTIONS, np.int64)
    for t in range(children.shape[0]):
        if node_count[t] == 0:
            continue
        g = t // worlds
        root = world_roots[t]
        player = root[k.F_PLAYER]
        for j in range(k.legal_actions(root, buf)):
            y = children[t, 0, j]
            if y != UNEXPANDED and visits[t, y] > 0:
                q_sum[g, buf[j]] += value[t, y, player] / visits[t, y]
                q_cnt[g, buf[j]] += 1.0


@njit(cache=True)
def root_prior(
    prior: np.ndarray,  # float32[T, M, BRANCH]
    node_count: np.ndarray,
    world_roots: np.ndarray,  # int64[T, STATE_SIZE]
    worlds: int,
    out: np.ndarray,  # float64[G, A] out: the priors of each game's first world, by action id
) -> None:
    """The root priors of each game's first world (every world of a game shares the root
    information state, so its priors are the game's) by action id; 0 off the legal actions."""
    out[:] = 0.0
    buf = np.empty(k.NUM_ACTIONS, np.int64)
    for t in range(0, prior.shape[0], worlds):
        if node_count[t] == 0:
            continue
        for j in range(k.legal_actions(world_roots[t], buf)):
            out[t // worlds, buf[j]] = prior[t, 0, j]


@njit(cache=True)
def sample_actions(
    weights: np.ndarray,  # float64[G, A] non-negative (visit counts or a policy)
    temperature: np.ndarray,  # float64[G]; 0 = argmax
    active: np.ndarray,  # bool[G]
    rs: np.ndarray,  # uint64[G]
    out: np.ndarray,  # int64[G] out (-1 for inactive games)
) -> None:
    """Draw one action per game from ``weights ** (1 / temperature)``."""
    for g in range(weights.shape[0]):
        out[g] = -1
        if not active[g]:
            continue
        best = -1
        best_w = -1.0
        for a in range(weights.shape[1]):
            if weights[g, a] > best_w:
                best_w = weights[g, a]
                best = a
        temp = temperature[g]
        if temp <= 0.0:
            out[g] = best
            continue
        inv = 1.0 / temp
        total = 0.0
        for a in range(weights.shape[1]):
            if weights[g, a] > 0.0:
                total += (weights[g, a] / best_w) ** inv
        r = _rng.uniform(rs, g) * total
        out[g] = best
        for a in range(weights.shape[1]):
            if weights[g, a] > 0.0:
                r -= (weights[g, a] / best_w) ** inv
                if r <= 0.0:
                    out[g] = a
                    break
