"""The names of a run's Ray actors, spelled in this one place.

A run's id is ``blobrl-<config name>-<launcher pid>``; each of its actors is named
``<run_id>-<kind>`` (``<run_id>-selfplay-<i>`` for self-play actor ``i``). The composition root
names the actors with these, the launcher finds the Coordinator by them for the control API, and
the soak finds, kills and measures them. Imports nothing, so tools stay light.
"""

from __future__ import annotations

# The kinds of actor a run has, in the order a report lists them.
KINDS = ("coordinator", "selfplay", "inference", "replay", "learner", "evaluator")


def run_id_for(config_name: str, pid: int) -> str:
    """The id of the run that the launcher of process ``pid`` starts for config ``config_name``."""
    return f"blobrl-{config_name}-{pid}"


def actor_name(run_id: str, kind: str, index: int | None = None) -> str:
    """``<run_id>-<kind>``, or ``<run_id>-<kind>-<index>`` for one of many (self-play)."""
    return f"{run_id}-{kind}" if index is None else f"{run_id}-{kind}-{index}"


def local_name(run_id: str, name: str) -> str | None:
    """An actor's name without its run's id (``selfplay-3``); None for another run's actor."""
    prefix = f"{run_id}-"
    return name[len(prefix) :] if name.startswith(prefix) else None


def actor_kind(local: str) -> str:
    """The kind of a name without the run id: ``selfplay-3`` -> ``selfplay``."""
    return local.split("-", 1)[0]
