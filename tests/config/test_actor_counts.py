"""How many self-play actors a run starts on the CPUs it has, and the CPU a GPU's server holds."""

from __future__ import annotations

import pytest

from blobrl.actors.compose import (
    Resources,
    actor_options,
    inference_placement,
    selfplay_actor_count,
    server_cpus,
)
from blobrl.config import config_from_dict

from .trial_configs import minimal


def config_with(**sections):
    data = minimal()
    for name, fields in sections.items():
        data[name] = {**data.get(name, {}), **fields}
    return config_from_dict(data)


@pytest.mark.parametrize(
    ("placement", "resources", "held", "actors"),
    [
        ("auto", Resources(16, 1), 1, 15),  # a GPU: a server on it, and its core
        ("server", Resources(16, 1), 1, 15),
        ("auto", Resources(16, 0), 0, 16),  # no GPU: the network inside each actor
        ("server", Resources(8, 0), 0, 8),  # a server on CPUs holds none
        ("local", Resources(8, 1), 0, 8),
        ("server", Resources(1, 1), 0, 1),  # one CPU: it stays the actor's
    ],
)
def test_auto_actors_are_one_per_cpu_but_the_one_a_gpu_server_holds(
    placement, resources, held, actors
):
    config = config_with(inference={"placement": placement})
    assert server_cpus(config, resources) == held
    assert selfplay_actor_count(config, resources) == actors
    if inference_placement(config, resources) == "server":
        # Ray's accounting holds that CPU, so the Coordinator's growth into free CPUs leaves it.
        assert actor_options("inference", config, resources)["num_cpus"] == held


def test_a_set_actor_count_and_cpus_per_actor_are_kept():
    config = config_with(selfplay={"actors": 5}, inference={"placement": "server"})
    assert selfplay_actor_count(config, Resources(16, 1)) == 5
    config = config_with(selfplay={"cpus_per_actor": 2.0}, inference={"placement": "server"})
    assert selfplay_actor_count(config, Resources(17, 1)) == 8
