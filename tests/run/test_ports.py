"""Every service implements the interface the run calls it through: each method of each port
exists on the service with the same parameters (names, kinds, defaults), so a call that type
checks against the port is a call the actor accepts."""

from __future__ import annotations

import inspect

import pytest

from blobrl.actors.coordinator import Coordinator
from blobrl.actors.evaluator import EvaluatorService
from blobrl.actors.learner import LearnerService
from blobrl.actors.replay import ReplayService
from blobrl.actors.selfplay import SelfPlayService
from blobrl.inference import InferenceServer
from blobrl.run import (
    CoordinatorPort,
    EvaluatorPort,
    InferencePort,
    LearnerPort,
    ReplayPort,
    SelfPlayPort,
)


def _port_methods(port: type) -> list[str]:
    return [n for n, v in vars(port).items() if inspect.isfunction(v) and not n.startswith("_")]


def _parameters(fn) -> list[tuple[str, object, object]]:
    params = list(inspect.signature(fn).parameters.values())[1:]  # without self
    # Ray adds a tracing keyword to the methods of a class it has made an actor of.
    return [(p.name, p.kind, p.default) for p in params if p.name != "_ray_trace_ctx"]


@pytest.mark.parametrize(
    "port, service",
    [
        (SelfPlayPort, SelfPlayService),
        (LearnerPort, LearnerService),
        (ReplayPort, ReplayService),
        (EvaluatorPort, EvaluatorService),
        (InferencePort, InferenceServer),
        (CoordinatorPort, Coordinator),
    ],
    ids=lambda x: x.__name__,
)
def test_the_service_has_every_method_of_its_port_with_the_same_parameters(port, service):
    names = _port_methods(port)
    assert names, f"{port.__name__} names no methods"
    for name in names:
        assert hasattr(service, name), f"{service.__name__} has no {name}()"
        assert _parameters(getattr(service, name)) == _parameters(getattr(port, name)), name
