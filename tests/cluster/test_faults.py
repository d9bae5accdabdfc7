"""A run on a real multi-node Ray cluster (several raylets on this machine): nodes join and
leave, actors are killed, and the game counts and replay buffer stay exact."""

from __future__ import annotations

import time

import pytest
from actors.test_coordinator import tiny_config
from actors.test_resume import logged

from blobrl.actors.compose import Resources, build
from blobrl.actors.handles import call
from blobrl.actors.journal import RunJournalFactory

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]


@pytest.fixture
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield cluster, workers
    finally:
        ray.shutdown()
        cluster.shutdown()


def status(system):
    return call(system.coordinator, "status").result(timeout=30)


def alive(handle) -> bool:
    try:
        call(handle, "status").result(timeout=10)
    except Exception:  # the actor or its node is gone
        return False
    return True


def wait_until(predicate, timeout=180.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_run_survives_nodes_joining_and_leaving_and_actors_dying(tmp_path, cluster):
    import ray

    cl, workers = cluster
    config = tiny_config(
        3,
        schedule={"phases": [{"first": 1, "last": 3, "determinizations": 1, "simulations": 3,
                              "games_per_iteration": 80}]},
        selfplay={"actors": "auto", "games_in_flight": 4},
        inference={"placement": "server", "device": "cpu"},
    )  # fmt: skip
    free = ray.available_resources().get("CPU", 0)
    system = build(
        config,
        RunJournalFactory(str(tmp_path), fsync_interval_s=0.2, keep_all=True),
        remote=True,
        resources=Resources(free, 0),
        run_id="faults",
    )
    assert len(system.selfplay) == 3  # one per free CPU of the three nodes
    running = call(system.coordinator, "run")
    wait_until(lambda: status(system).games_played >= 15, what="first games")
    nodes = {call(h, "status").result(timeout=30).node_id for h in system.selfplay}
    assert len(nodes) == 3  # spread over the three nodes

    # A node joins: it gets a self-play actor.
    cl.add_node(num_cpus=1)
    wait_until(lambda: status(system).actors == 4, what="an actor on the new node")

    # A worker node leaves (its processes are killed): its actor's games are played elsewhere.
    played = status(system).games_played
    cl.remove_node(workers[0])
    wait_until(lambda: status(system).games_played > played + 10, what="play after node loss")

    # A self-play actor killed outright is replaced on the CPU it freed. The victim must be one
    # still alive: the actor of the removed node is already gone.
    before = status(system).actors
    victim = next(h for h in system.selfplay if h is not None and alive(h))
    ray.kill(victim, no_restart=True)
    wait_until(lambda: status(system).actors == before, timeout=60, what="a replacement actor")

    # The InferenceServer killed mid-iteration is restarted; self-play continues.
    played = status(system).games_played
    ray.kill(system.inference, no_restart=False)
    wait_until(lambda: status(system).games_played > played + 10, what="play after restart")

    final = running.result(timeout=400)
    metrics = call(system.coordinator, "metrics").result(timeout=30)
    replay_size = call(system.replay, "size").result(timeout=30)
    system.shutdown()
    assert final.error is None and final.trained_iterations == 3
    games = logged(tmp_path)
    keys = [(it, gid) for it, gid, _ in games]
    assert len(keys) == len(set(keys)) == 240  # nothing lost, nothing counted twice
    assert final.games_played == 240
    assert replay_size == sum(p for _, _, p in games)
    assert metrics["recoveries"].get("selfplay", 0) >= 2
    assert metrics["recoveries"].get("inference", 0) >= 1
