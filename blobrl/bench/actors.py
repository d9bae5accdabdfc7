"""``actors_speedup``: self-play games/min with one actor per core against one actor, on Ray."""

from __future__ import annotations

import os

from blobrl.bench.inference import TIMEOUT_S, _all_cores, _SelfPlayBench


def _games_per_min(ray, actors: int, *, seconds: float, in_flight: int) -> float:
    """Steady-state games/min of ``actors`` self-play actors playing side by side for
    ``seconds`` (each keeps ``in_flight`` hands going, as in a run), after a warm-up."""
    from blobrl.nn import NetworkConfig

    actor_cls = ray.remote(num_cpus=1)(_SelfPlayBench)
    handles = [actor_cls.remote(NetworkConfig()) for _ in range(actors)]
    ray.get([h.play.remote(2, seed=700_000 + i) for i, h in enumerate(handles)], timeout=TIMEOUT_S)
    finished = ray.get(
        [h.play_for.remote(seconds, 10_000 * (i + 1), in_flight) for i, h in enumerate(handles)],
        timeout=TIMEOUT_S,
    )
    for handle in handles:
        ray.kill(handle)
    return sum(finished) / seconds * 60.0


def actors(quick: bool) -> dict[str, float]:
    """Default network in each actor, 3 x 30 search, 5x7 hands, 64 in flight per actor: the
    steady-state games/min of one actor per core against one actor."""
    import ray

    with _all_cores():
        cores = os.cpu_count() or 1
        started = not ray.is_initialized()
        if started:
            ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    seconds = 10.0 if quick else 40.0
    try:
        one = _games_per_min(ray, 1, seconds=seconds, in_flight=64)
        many = _games_per_min(ray, cores, seconds=seconds, in_flight=64)
    finally:
        if started:
            ray.shutdown()
    return {
        "actors_one_games_per_min": one,
        "actors_all_games_per_min": many,
        "actors_count": float(cores),
        "actors_speedup": many / one if one > 0 else 0.0,
    }
