"""A run's actor names are built and read back by one set of functions."""

from __future__ import annotations

import pytest

from blobrl.actors.names import KINDS, actor_kind, actor_name, local_name, run_id_for


def test_run_id_names_the_config_and_the_launcher_process():
    assert run_id_for("smoke", 4321) == "blobrl-smoke-4321"


@pytest.mark.parametrize(
    ("kind", "index", "local"),
    [
        ("coordinator", None, "coordinator"),
        ("learner", None, "learner"),
        ("selfplay", 3, "selfplay-3"),
    ],
)
def test_an_actor_name_reads_back_as_its_local_name_and_kind(kind, index, local):
    run = run_id_for("soak-smoke", 77)
    name = actor_name(run, kind, index)
    assert name == f"blobrl-soak-smoke-77-{local}"
    assert local_name(run, name) == local
    assert actor_kind(local) == kind and kind in KINDS


def test_another_runs_actor_has_no_local_name():
    assert local_name("blobrl-smoke-1", "blobrl-smoke-12-learner") is None
    assert local_name("blobrl-smoke-1", actor_name("blobrl-smoke-1", "learner")) == "learner"
