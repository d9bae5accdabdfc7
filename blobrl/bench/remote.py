"""``remote_stub_vs_local_stub``: how much of a remote InferenceServer's round trip a self-play
actor hides behind its game groups.

A stand-in server (:class:`StubInferenceServer`, a Ray actor in its own process) answers the
same calls as the real server's client makes (:class:`~blobrl.actors.inference.RemoteEvaluator`:
``evaluate_packed`` on bit-packed rows, ``get_version``) with a cheap stub network, each answer
held until a fixed latency (2 ms) after its request arrived, as a GPU server's batching and
forward pass would take. One self-play actor plays 5x7 hands at 3 x 30 through it, and the same
stub network inside the actor gives the reference: their steady-state games/min ratio is
``remote_stub_vs_local_stub`` (target at least 0.8), with the groups an actor behind a server
gets by default (``selfplay.game_groups: auto``). ``remote_stub_one_group_games_per_min`` is
the same remote play with one group, the actor waiting out every round trip.
``remote_stub_512_vs_local_stub_512`` is the same ratio with 512 games a group (``selfplay.
games_in_flight: 512``): leaf batches of about 2,800 rows, each one request through Ray's object
store (:data:`~blobrl.inference.codec.SINGLE_REQUEST_ROWS`), where 128 games make about 700 rows
in three inline requests; Ray's cost per call is what a larger batch spreads.
"""

from __future__ import annotations

import asyncio
import os
import time

import numpy as np

from blobrl.bench.inference import TIMEOUT_S, _all_cores
from blobrl.data import CONT_INDEX
from blobrl.game import MAX_PLAYERS, NUM_ACTIONS
from blobrl.inference.channel import ServesChannels
from blobrl.inference.codec import check_request, unpack_request
from blobrl.mcts import Evaluator

LATENCY_MS = 2.0
IN_FLIGHT = 128  # games per group, the config default
LARGE_GROUP = 512  # games per group of the large-batch variant (a leaf batch of ~2,800 rows)
PLAYERS, CARDS = 5, 7


STUB_COLUMNS = 2 * NUM_ACTIONS + MAX_PLAYERS  # the feature columns the stub network reads
# ...all of them 0/1 features (a bit each on the wire), so the stand-in unpacks just those.
assert int(CONT_INDEX.min()) >= STUB_COLUMNS


def stub_network(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``float32[B, FEATURES]`` (or just its first ``STUB_COLUMNS``) -> (``float32[B, 65]``
    logits, ``float32[B, 8]`` values in [0, 1]): a fixed function of each row, elementwise, so
    that a row gets the same answer in any batch and the searches are not all alike; costs
    next to nothing."""
    f = np.asarray(features, np.float32)
    logits = f[:, :NUM_ACTIONS] - f[:, NUM_ACTIONS : 2 * NUM_ACTIONS]
    values = np.clip(0.25 + 0.5 * f[:, 2 * NUM_ACTIONS : STUB_COLUMNS], 0, 1)
    return logits, values


def stub_network_packed(bits: np.ndarray, cont: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stub_network` of the rows of a packed request (shapes checked as the server
    checks them), unpacking only the columns it reads: the stand-in's own CPU stays small, as a
    GPU server's is not the self-play actor's."""
    check_request(bits, cont)
    return stub_network(np.unpackbits(bits, axis=1, count=STUB_COLUMNS).astype(np.float32))


class StubInferenceServer(ServesChannels):
    """Answers leaf batches as the InferenceServer does, from ``network``, each ``latency_ms``
    after its request arrived (longer only if the stub itself takes longer).

    Async: as an actor (:func:`start_stub_server`) it holds many requests at once, each delayed
    on its own, so the latency is added to every round trip and never queues behind another.
    """

    def __init__(
        self, *, latency_ms: float = LATENCY_MS, network: Evaluator = stub_network, version: int = 0
    ) -> None:
        if latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {latency_ms}")
        self.latency_s = latency_ms / 1000.0
        self._network = network
        self._version = version
        self.requests = 0
        self.rows = 0

    def get_version(self) -> int:
        return self._version

    async def evaluate_packed(
        self, bits: np.ndarray, cont: np.ndarray, model: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """As :meth:`InferenceServer.evaluate_packed` (``model`` is ignored): the answer to
        the rows of ``pack_rows`` and the version."""
        arrived = time.perf_counter()
        if self._network is stub_network:
            logits, values = stub_network_packed(bits, cont)
        else:
            logits, values = self._network(unpack_request(bits, cont))
        self.requests += 1
        self.rows += logits.shape[0]
        remaining = self.latency_s - (time.perf_counter() - arrived)
        if remaining > 0:
            await asyncio.sleep(remaining)
        return logits, values, self._version

    def counts(self) -> tuple[int, int]:
        """(requests, rows) answered or being answered."""
        return self.requests, self.rows


def start_stub_server(ray, cls: type = StubInferenceServer, **kwargs):
    """``cls`` (a :class:`StubInferenceServer`) as an async Ray actor of its own, started."""
    from blobrl.actors.inference import MAX_CONCURRENCY

    actor_cls = ray.remote(num_cpus=0, max_concurrency=MAX_CONCURRENCY)(cls)
    handle = actor_cls.remote(**kwargs)
    ray.get(handle.get_version.remote(), timeout=TIMEOUT_S)
    return handle


class _StubSelfPlay:
    """A self-play actor over the stub network: in-process, or through a server handle."""

    def __init__(self, server, groups: int, in_flight: int) -> None:
        from blobrl.actors.inference import RemoteEvaluator
        from blobrl.mcts import SearchSettings
        from blobrl.selfplay import SelfPlayWorker

        evaluator = stub_network if server is None else RemoteEvaluator(server)
        self.evaluator = evaluator
        self.worker = SelfPlayWorker(
            evaluator,
            settings=SearchSettings(determinizations=3, simulations=30),
            games_in_flight=in_flight,
            game_groups=groups,
        )

    def decisions(self, warm_s: float, seconds: float, seed: int) -> tuple[int, int, int]:
        """The decisions searched in ``seconds`` after ``warm_s``, and the games finished and
        their decisions over the whole play (:func:`blobrl.bench.window.play_window`)."""
        from blobrl.bench.window import play_window

        searched, _, games, positions = play_window(
            self.worker, warm_s, seconds, seed, players=PLAYERS, cards=CARDS
        )
        return searched, games, positions

    def shared_share(self) -> float:
        """Share of this actor's requests that went through shared memory (0 in-process)."""
        link = getattr(self.evaluator, "link", None)
        shared, fell_back = getattr(link, "shared", 0), getattr(link, "fell_back", 0)
        return shared / (shared + fell_back) if shared + fell_back else 0.0


def _decisions(ray, server, *, groups: int, warm_s: float, seconds: float, in_flight: int):
    actor = ray.remote(num_cpus=1)(_StubSelfPlay).remote(server, groups, in_flight)
    try:
        ray.get(actor.decisions.remote(0.0, 1.0, 900_000), timeout=TIMEOUT_S)  # compile
        played = ray.get(actor.decisions.remote(warm_s, seconds, 0), timeout=TIMEOUT_S)
        return (*played, ray.get(actor.shared_share.remote(), timeout=TIMEOUT_S))
    finally:
        ray.kill(actor)


def remote(quick: bool) -> dict[str, float]:
    """One self-play actor through a 2 ms stand-in server against the same stub network in the
    actor; see the module doc. Games/min in the steady state: decisions searched per minute
    over a window (every group is full from the start, and a game lives longer than a short
    window) over the decisions a 5x7 game takes. Rounds interleave the three, best of each
    (other load on the machine hits them alike)."""
    import ray

    from blobrl.config.sections import SERVER_GAME_GROUPS

    with _all_cores():
        started = not ray.is_initialized()
        if started:
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    rounds, warm_s, seconds = (1, 1.0, 4.0) if quick else (2, 3.0, 15.0)
    best = {"local": 0.0, "one": 0.0, "grouped": 0.0, "local_large": 0.0, "grouped_large": 0.0}
    games = positions = 0
    shared = 1.0  # the least share of requests through shared memory over the remote plays
    try:
        server = start_stub_server(ray, latency_ms=LATENCY_MS)
        for _ in range(rounds):
            for name, handle, groups, in_flight in (
                ("local", None, 1, IN_FLIGHT),
                ("one", server, 1, IN_FLIGHT),
                ("grouped", server, SERVER_GAME_GROUPS, IN_FLIGHT),
                ("local_large", None, 1, LARGE_GROUP),
                ("grouped_large", server, SERVER_GAME_GROUPS, LARGE_GROUP),
            ):
                searched, finished, played, share = _decisions(
                    ray, handle, groups=groups, warm_s=warm_s, seconds=seconds, in_flight=in_flight
                )
                if handle is not None:
                    shared = min(shared, share)
                best[name] = max(best[name], searched / seconds * 60.0)
                games, positions = games + finished, positions + played
        ray.kill(server)
    finally:
        if started:
            ray.shutdown()
    per_game = positions / games  # the local plays finish many
    best = {name: rate / per_game for name, rate in best.items()}
    return {
        "remote_stub_local_games_per_min": best["local"],
        "remote_stub_one_group_games_per_min": best["one"],
        "remote_stub_games_per_min": best["grouped"],
        "remote_stub_groups": float(SERVER_GAME_GROUPS),
        "remote_stub_latency_ms": LATENCY_MS,
        "remote_stub_shared_memory_share": shared,
        "remote_stub_vs_local_stub": best["grouped"] / best["local"] if best["local"] else 0.0,
        "remote_stub_512_vs_local_stub_512": (
            best["grouped_large"] / best["local_large"] if best["local_large"] else 0.0
        ),
    }
