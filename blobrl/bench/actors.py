"""``actors_speedup``: self-play games/min with one actor per core against one actor, on Ray."""

from __future__ import annotations

import os
import time

from blobrl.bench.inference import TIMEOUT_S, _all_cores, _SelfPlayBench


def _games_per_min(ray, actors: int, *, games: int) -> float:
    from blobrl.nn import NetworkConfig

    actor_cls = ray.remote(num_cpus=1)(_SelfPlayBench)
    handles = [actor_cls.remote(NetworkConfig()) for _ in range(actors)]
    ray.get([h.play.remote(2, seed=700_000 + i) for i, h in enumerate(handles)], timeout=TIMEOUT_S)
    start = time.perf_counter()
    ray.get(
        [h.play.remote(games, seed=10_000 * (i + 1)) for i, h in enumerate(handles)],
        timeout=TIMEOUT_S,
    )
    elapsed = time.perf_counter() - start
    for handle in handles:
        ray.kill(handle)
    return actors * games / elapsed * 60.0


def actors(quick: bool) -> dict[str, float]:
    """Default network in each actor, 3 x 30 search, 5x7 hands; all cores against one."""
    import ray

    with _all_cores():
        cores = os.cpu_count() or 1
        started = not ray.is_initialized()
        if started:
            ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    games = 16 if quick else 48
    try:
        one = _games_per_min(ray, 1, games=games)
        many = _games_per_min(ray, cores, games=games)
    finally:
        if started:
            ray.shutdown()
    return {
        "actors_one_games_per_min": one,
        "actors_all_games_per_min": many,
        "actors_count": float(cores),
        "actors_speedup": many / one if one > 0 else 0.0,
    }
