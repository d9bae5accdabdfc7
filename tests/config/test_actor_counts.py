"""How many self-play actors a run starts on the CPUs it has."""

from __future__ import annotations

import pytest

from blobrl.actors.compose import Resources, inference_placement, selfplay_actor_count
from blobrl.config import config_from_dict

from .trial_configs import minimal


def config_with(**sections):
    data = minimal()
    for name, fields in sections.items():
        data[name] = {**data.get(name, {}), **fields}
    return config_from_dict(data)


@pytest.mark.parametrize(
    ("placement", "resources", "expected"),
    [
        ("auto", Resources(16, 1), 15),  # a GPU: a server, and its core
        ("auto", Resources(16, 0), 16),  # no GPU: the network inside each actor
        ("server", Resources(8, 0), 7),
        ("local", Resources(8, 1), 8),
        ("server", Resources(1, 1), 1),  # at least one actor
    ],
)
def test_auto_actors_are_one_per_cpu_less_one_for_a_server(placement, resources, expected):
    config = config_with(inference={"placement": placement})
    server = inference_placement(config, resources) == "server"
    assert server == (placement == "server" or (placement == "auto" and resources.has_gpu))
    assert selfplay_actor_count(config, resources) == expected


def test_a_set_actor_count_and_cpus_per_actor_are_kept():
    config = config_with(selfplay={"actors": 5}, inference={"placement": "server"})
    assert selfplay_actor_count(config, Resources(16, 1)) == 5
    config = config_with(selfplay={"cpus_per_actor": 2.0}, inference={"placement": "server"})
    assert selfplay_actor_count(config, Resources(17, 1)) == 8
