"""The composition root: builds the six actors of a run, in-process or on Ray.

This is the one place that knows whether an actor is local or remote. Every service is a plain
class; :func:`spawn` wraps it in a :class:`~blobrl.remote.LocalHandle` or turns it into a
Ray actor with the placement and resources of its kind (:func:`actor_options`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from blobrl.actors.coordinator import Coordinator
from blobrl.actors.evaluator import EvaluatorService
from blobrl.actors.learner import LearnerService
from blobrl.actors.names import actor_name
from blobrl.actors.replay import ReplayService
from blobrl.actors.selfplay import SelfPlayService
from blobrl.config import Config
from blobrl.nn import NetworkConfig, TorchEvaluator, build_network
from blobrl.remote import LocalHandle
from blobrl.run.control import Journal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalNetwork:
    """Evaluator factory for inference inside the self-play actor (weights pushed later)."""

    network: NetworkConfig

    def __call__(self) -> TorchEvaluator:
        return TorchEvaluator(build_network(self.network))


@dataclass(frozen=True)
class ServerNetwork:
    """Evaluator factory for inference through the InferenceServer actor."""

    server: Any
    shared_memory: bool = True  # inference.shared_memory

    def __call__(self):
        from blobrl.actors.inference import RemoteEvaluator

        return RemoteEvaluator(self.server, channel=self.shared_memory)


@dataclass(frozen=True)
class SelfPlaySpawner:
    """Starts self-play actor number ``i`` (at the start, and later to replace lost ones or
    use new nodes)."""

    config: Config
    options: dict[str, Any]
    remote: bool
    run_id: str
    factory: Any

    def __call__(self, i: int) -> Any:
        return spawn(
            SelfPlayService,
            actor_name(self.run_id, "selfplay", i),
            self.options,
            self.remote,
            name=f"selfplay-{i}",
            evaluator_factory=self.factory,
            settings=self.config.search_at(1),
            games_in_flight=self.config.selfplay.games_in_flight,
            game_groups=self.config.selfplay.groups(server=isinstance(self.factory, ServerNetwork)),
            trump_mode=self.config.run.trump_mode,
            scoring=self.config.run.scoring,
        )


@dataclass(frozen=True)
class Resources:
    """What the cluster offers, as Ray reports it (or this machine, for a local build)."""

    cpus: float
    gpus: float

    @property
    def has_gpu(self) -> bool:
        return self.gpus >= 1


@dataclass
class System:
    """Handles to the actors of one run."""

    coordinator: Any
    selfplay: list[Any]
    replay: Any
    learner: Any
    evaluator: Any
    inference: Any | None
    placement: str
    remote: bool

    def shutdown(self) -> None:
        handles = [self.coordinator, *self.selfplay, self.replay, self.learner, self.evaluator]
        if self.inference is not None:
            handles.append(self.inference)
        for handle in handles:
            if isinstance(handle, LocalHandle):
                if isinstance(handle.obj, SelfPlayService):
                    handle.obj.stop(timeout=10)  # its playing thread, as ray.kill would
                handle.shutdown()
            elif handle is not None:
                import ray

                ray.kill(handle, no_restart=True)


def selfplay_actor_count(config: Config, resources: Resources) -> int:
    """``selfplay.actors``, or with ``auto`` one per CPU of the cluster, but for the CPU a GPU's
    InferenceServer holds (:func:`server_cpus`)."""
    if config.selfplay.actors != "auto":
        return int(config.selfplay.actors)
    cpus = resources.cpus - server_cpus(config, resources)
    return max(1, math.floor(cpus / config.selfplay.cpus_per_actor))


def server_cpus(config: Config, resources: Resources) -> int:
    """CPUs the InferenceServer holds in Ray's accounting: one for a server on a GPU, whose
    thread stages, copies and answers every actor's leaf batches (on an H200 with an actor on
    every core it waited for a core, and every actor for it: no hand finished in 130 s), so that
    neither the first actors nor those the Coordinator adds as CPUs free up take that core. None
    on CPUs alone, or with a single CPU."""
    gpu_server = inference_placement(config, resources) == "server" and resources.has_gpu
    return gpu_server_cpus(resources.cpus) if gpu_server else 0


def gpu_server_cpus(cpus: float) -> int:
    """CPUs a server on a GPU holds on a machine or cluster of ``cpus``: one, unless that is
    the only one (:func:`server_cpus`)."""
    return 1 if cpus >= 2 else 0


def inference_placement(config: Config, resources: Resources) -> str:
    """``server`` (one InferenceServer) or ``local`` (a network inside each self-play actor).

    ``auto`` picks the server when the cluster has a GPU and local inference otherwise: on CPUs
    the server costs a serialization round trip per leaf batch and a core of its own, while
    batches inside each actor are already large (games_in_flight x determinizations).
    """
    placement = config.inference.placement
    if placement == "auto":
        return "server" if resources.has_gpu else "local"
    if placement == "per_node":
        # One server per node is only worth it with a GPU per node; it runs as one server here.
        return "server"
    return placement


def actor_options(kind: str, config: Config, resources: Resources) -> dict[str, Any]:
    """Ray resources, placement and fault tolerance for each kind of actor.

    Self-play actors are not restarted by Ray: the Coordinator replays their unfinished games
    elsewhere and starts new actors where CPUs are free. The other actors are restarted, with
    calls in flight retried: the Coordinator then publishes the weights to the InferenceServer
    again, rebuilds the replay buffer from the game log, or loads the last checkpoint into the
    learner (which refuses calls that need the training state it lost); an interrupted arena is
    simply played again.

    On a cluster without a GPU, the InferenceServer, learner and evaluator stay on the node that
    launched the run, with the Coordinator (the head node, which stays while worker nodes come
    and go), so losing a worker node never restarts them; with a GPU they go where the GPU is.
    (A soft preference is not enough: Ray may restart the actor on another node.)
    """
    gpu = resources.has_gpu
    # Calls made while an actor restarts wait for it instead of failing; the learner's calls
    # that depend on its training state check that it was not restarted (LearnerRestarted).
    restart = {"max_restarts": -1, "max_task_retries": -1}
    home = {} if gpu else _here()
    if kind == "selfplay":
        return {
            "num_cpus": config.selfplay.cpus_per_actor,
            "max_concurrency": 4,
            "max_restarts": 0,
            "scheduling_strategy": "SPREAD",
        }
    if kind == "inference":
        return {"num_cpus": server_cpus(config, resources), "num_gpus": 0.5 if gpu else 0,
                "max_concurrency": 1000, **restart, **home}  # fmt: skip
    if kind == "replay":
        return {"num_cpus": 0, **restart, **_here()}
    if kind == "learner":
        return {"num_cpus": 0, "num_gpus": 0.5 if gpu else 0, **restart, **home}
    if kind == "coordinator":
        # The run directory is on the machine that launched the run: keep the journal there.
        return {"num_cpus": 0, "max_concurrency": 16, **_here()}
    return {"num_cpus": 0, **restart, **_here()}


def _here() -> dict[str, Any]:
    """Pin an actor to this process's node (when running on Ray)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    if not ray.is_initialized():
        return {}
    node = ray.get_runtime_context().get_node_id()
    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id=node, soft=False)}


def spawn(cls: type, actor_name: str, options: dict[str, Any], remote: bool, **kwargs: Any) -> Any:
    """Create ``cls(**kwargs)`` as a local handle or a named Ray actor."""
    if not remote:
        return LocalHandle(cls(**kwargs), actor_name)
    import ray

    from blobrl.actors.supervise import supervised

    actor_cls: Any = ray.remote(supervised(cls, actor_name))
    return actor_cls.options(name=actor_name, **options).remote(**kwargs)


def build(
    config: Config,
    journal: Journal | Callable[[], Journal],
    *,
    remote: bool,
    resources: Resources,
    resume: bool = False,
    start_paused: bool = False,
    stop_after: int | None = None,
    run_id: str = "blobrl",
    tensorboard: Callable[[], Any] | None = None,
) -> System:
    """Create every actor of a run and the Coordinator that drives them. ``tensorboard`` opens
    the run's TensorBoard log where the Coordinator runs (None: no TensorBoard files)."""
    placement = inference_placement(config, resources)
    device = config.inference.device
    if device == "auto":
        device = "cuda" if resources.has_gpu else "cpu"

    def opts(kind: str) -> dict[str, Any]:
        return actor_options(kind, config, resources)

    replay = spawn(
        ReplayService,
        actor_name(run_id, "replay"),
        opts("replay"),
        remote,
        capacity=config.replay.capacity,
        seed=config.run.seed,
        card_decisions=config.learner.rollout_decisions if config.learns_rollout else 0,
        trump_mode=config.run.trump_mode,
    )
    learner = spawn(
        LearnerService,
        actor_name(run_id, "learner"),
        opts("learner"),
        remote,
        network=config.network,
        config=config.learner,
        total_iterations=config.iterations,
        replay=replay,
        min_positions=config.replay.min_positions_to_train,
        fit_rollout=config.learns_rollout,
        device=device,
        seed=config.run.seed,
        torch_threads=None if device == "cuda" else max(1, int(resources.cpus) // 8),
    )
    inference = None
    if placement == "server":
        from blobrl.inference import InferenceServer

        inference = spawn(
            InferenceServer,
            actor_name(run_id, "inference"),
            opts("inference"),
            remote,
            **_inference_kwargs(config, device),
        )
        factory: Any = ServerNetwork(inference, config.inference.shared_memory)
    else:
        factory = LocalNetwork(config.network)
    count = selfplay_actor_count(config, resources)
    spawner = SelfPlaySpawner(
        config=config,
        options=opts("selfplay"),
        remote=remote,
        run_id=run_id,
        factory=factory,
    )
    selfplay = [spawner(i) for i in range(count)]
    evaluator = spawn(
        EvaluatorService,
        actor_name(run_id, "evaluator"),
        opts("evaluator"),
        remote,
        network=config.network,
        settings=config.evaluation_search,
        deals=[(e.players, e.cards) for e in config.game_mix],
        weights=[e.weight for e in config.game_mix],
        arena_deals=config.evaluation.arena_deals,
        main_deal=max(config.game_mix, key=lambda e: e.weight).deal,
        gauntlet_deals=config.evaluation.gauntlet_deals,
        gauntlet_ismcts=config.evaluation.gauntlet_ismcts,
        trump_mode=config.run.trump_mode,
        scoring=config.run.scoring,
        # Arenas through the server when there is one (its GPU); Ray handles only.
        server=inference if remote else None,
        shared_memory=config.inference.shared_memory,
    )
    coordinator = spawn(
        Coordinator,
        actor_name(run_id, "coordinator"),
        opts("coordinator"),
        remote,
        config=config,
        selfplay=selfplay,
        replay=replay,
        learner=learner,
        evaluator=evaluator,
        inference=inference,
        journal=journal,
        resume=resume,
        start_paused=start_paused,
        stop_after=stop_after,
        spawn_selfplay=spawner if remote else None,
        target_actors=count,
        tensorboard=tensorboard,
    )
    log.info(
        "built %d self-play actors, inference %s on %s, %s",
        count,
        placement,
        device,
        "on Ray" if remote else "in-process",
    )
    return System(coordinator, selfplay, replay, learner, evaluator, inference, placement, remote)


def _inference_kwargs(config: Config, device: str) -> dict[str, Any]:
    return {
        "network": config.network,
        # -1: no published weights yet. A restarted server comes back this way too and holds
        # its callers until the Coordinator (which sees a new instance) publishes again.
        "version": -1,
        "wait_for_weights": True,
        "device": device,
        "max_batch": config.inference.batch_rows(device),
        "max_wait_ms": config.inference.max_wait_ms,
    }
