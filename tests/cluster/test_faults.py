"""A run on a real multi-node Ray cluster (several raylets on this machine): nodes join and
leave, actors are killed, and the game counts and replay buffer stay exact."""

from __future__ import annotations

import time

import pytest
from actors.test_coordinator import tiny_config
from actors.test_resume import logged

from blobrl.actors.compose import Resources, build
from blobrl.actors.journal import RunJournalFactory
from blobrl.remote import call

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]

CAPACITY = 400_000  # replay positions: more than the run plays (its pages are touched as filled)


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


def recoveries(system) -> dict[str, int]:
    return call(system.coordinator, "metrics").result(timeout=30)["recoveries"]


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
    # A short first iteration (its training finds the killed learner), then one that no speed
    # of play finishes while the faults below are survived (the test stops it). The games
    # search enough that the first iteration takes a few rounds of the games in flight (the
    # learner is killed in the first) and a fast machine's minutes stay within the buffer.
    config = tiny_config(
        2,
        schedule={"phases": [
            {"first": 1, "last": 1, "determinizations": 2, "simulations": 24,
             "games_per_iteration": 150},
            {"first": 2, "last": 2, "determinizations": 2, "simulations": 24,
             "games_per_iteration": 10_000_000},
        ]},
        selfplay={"actors": "auto", "games_in_flight": 4},
        inference={"placement": "server", "device": "cpu"},
        replay={"capacity": CAPACITY, "min_positions_to_train": 10},  # every game stays in it
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

    # The learner killed before it trains comes back with fresh weights: the last checkpoint
    # is loaded into it before it trains iteration 1.
    ray.kill(system.learner, no_restart=False)
    wait_until(lambda: recoveries(system).get("learner", 0) >= 1, what="a learner restore")
    wait_until(lambda: status(system).trained_iterations >= 1, what="iteration 1 trained")

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
    wait_until(lambda: recoveries(system).get("inference", 0) >= 1, what="weights republished")

    # The replay buffer killed mid-run comes back empty and is rebuilt from the game log.
    played = status(system).games_played
    ray.kill(system.replay, no_restart=False)
    wait_until(lambda: recoveries(system).get("replay", 0) >= 1, what="a replay rebuild")
    wait_until(lambda: status(system).games_played > played + 10, what="play after the rebuild")

    assert status(system).trained_iterations == 1  # still in iteration 2: every fault mid-run
    call(system.coordinator, "control", "stop").result(timeout=30)
    final = running.result(timeout=120)
    metrics = call(system.coordinator, "metrics").result(timeout=30)
    replay_size = call(system.replay, "size").result(timeout=30)
    system.shutdown()
    assert final.error is None and final.trained_iterations == 1
    assert final.weights_version == 1  # trained by the restored learner
    games = logged(tmp_path)
    keys = [(it, gid) for it, gid, _ in games]
    assert len(keys) == len(set(keys)) == final.games_played  # nothing lost or counted twice
    assert sorted(gid for it, gid in keys if it == 1) == list(range(150))
    positions = sum(p for _, _, p in games)
    assert positions < CAPACITY, "the buffer overflowed: the test needs slower games"
    assert replay_size == positions
    assert metrics["recoveries"].get("selfplay", 0) >= 2
    assert metrics["recoveries"].get("inference", 0) >= 1
    assert metrics["recoveries"].get("replay", 0) >= 1
    assert metrics["recoveries"].get("learner", 0) >= 1
