"""``load(spec)``: an agent from a short text, for the command line and the Python API.

Specs:

* ``random`` (``random@SEED`` for another seed), ``heuristic``;
* ``ismcts:SIMS`` (``ismcts:SIMS@SEED``): information-set MCTS with SIMS random-rollout
  simulations per decision and no network, the search baseline;
* a checkpoint path (``best_model.pt`` or ``iter_*.pt``), optionally with ``@KxS`` (search with K
  determinizations x S simulations per decision), ``@KxS-puct`` (the same with a PUCT root
  instead of the default Gumbel root), ``@isS`` (information-set search of S simulations with
  worlds weighted by the network's reading of the bids) or ``@raw`` (the argmax of the
  network's policy, no search). Without a suffix a checkpoint plays the evaluation search of the
  run that trained it when that run searched information sets (``search.tree:
  information_set``), else 3x30 with a Gumbel root;
* ``package.module:factory``: ``factory()`` returns an object with ``act(state)``.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from blobrl.agents.base import Agent, RandomAgent
from blobrl.agents.heuristic import HeuristicAgent
from blobrl.agents.ismcts import IsmctsAgent, ismcts_settings
from blobrl.agents.model import ModelAgent, play_settings
from blobrl.mcts import SearchSettings

DEFAULT_DETERMINIZATIONS = 3
DEFAULT_SIMULATIONS = 30
# At a few dozen simulations per world, Gumbel sequential halving at the root plays clearly
# better than PUCT with the same network (docs/strength.md).
DEFAULT_ROOT = "gumbel"
_FACTORY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_ISMCTS_RE = re.compile(r"^ismcts:(\d+)(?:@(\d+))?$")
_IS_RE = re.compile(r"^is(\d+)$")
_SEARCH_RE = re.compile(r"^(\d+)x(\d+)(?:-(puct|gumbel))?$")


class AgentSpecError(ValueError):
    """A spec that names no agent, or whose checkpoint or factory cannot be loaded."""


def load(spec: str, *, seed: int = 0, device: str = "cpu") -> Agent:
    """The agent named by ``spec`` (see the module docstring)."""
    text = spec.strip()
    if not text:
        raise AgentSpecError("empty agent spec")
    if text == "heuristic":
        return HeuristicAgent()
    if text == "random" or text.startswith("random@"):
        suffix = text.partition("@")[2]
        if suffix and not suffix.isdigit():
            raise AgentSpecError(f"{spec!r}: random@SEED needs an integer seed")
        return RandomAgent(int(suffix) if suffix else seed)
    if text.startswith("ismcts:"):
        return _ismcts(spec, text, seed)
    if _FACTORY_RE.match(text) and not text.endswith(".pt"):
        return _from_factory(text)
    path_text, at, suffix = text.rpartition("@") if "@" in text else (text, "", "")
    path = Path(path_text)
    if path.suffix != ".pt" and not path.is_file():
        raise AgentSpecError(
            f"unknown agent spec {spec!r}: expected random, heuristic, ismcts:SIMS, a checkpoint "
            "path "
            "(.pt, optionally @KxS or @raw) or package.module:factory"
        )
    evaluator, config = _checkpoint_evaluator(path, device=device)
    settings = _search_suffix(spec, suffix if at else "", config)
    name = path.name + (f"@{suffix}" if at else "")
    return ModelAgent(evaluator, settings=settings, seed=seed, name=name)


def _ismcts(spec: str, text: str, seed: int) -> Agent:
    match = _ISMCTS_RE.match(text)
    if not match or int(match[1]) < 1:
        raise AgentSpecError(
            f"{spec!r}: expected ismcts:SIMS with SIMS >= 1 simulations per decision "
            "(optionally @SEED), e.g. ismcts:1000"
        )
    return IsmctsAgent(int(match[1]), seed=int(match[2]) if match[2] else seed)


def _search_suffix(spec: str, suffix: str, config: dict[str, Any] | None):
    trained = _trained_play_search(config)
    if not suffix:
        if trained is not None and trained.tree == "information_set":
            return trained
        return play_settings(DEFAULT_DETERMINIZATIONS, DEFAULT_SIMULATIONS, root=DEFAULT_ROOT)
    if suffix == "raw":
        return None
    information_set = _IS_RE.match(suffix)
    if information_set and int(information_set[1]) >= 1:
        base = trained if trained is not None and trained.tree == "information_set" else None
        sims = int(information_set[1])
        return ismcts_settings(sims) if base is None else replace(base, simulations=sims)
    match = _SEARCH_RE.match(suffix)
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise AgentSpecError(
            f"{spec!r}: the suffix after '@' must be KxS (determinizations x simulations, "
            f"both >= 1, e.g. @3x30; @3x30-puct for a PUCT root), isS (information-set search "
            f"of S >= 1 simulations, e.g. @is2000) or raw, got {suffix!r}"
        )
    return play_settings(int(match[1]), int(match[2]), root=match[3] or DEFAULT_ROOT)


def _trained_play_search(config: dict[str, Any] | None) -> SearchSettings | None:
    """The evaluation search of the run that wrote a checkpoint (its ``search`` section, then
    the evaluation defaults, then ``evaluation.search``), played for strength; None when the
    checkpoint carries no config or the config does not give valid settings."""
    if not isinstance(config, dict) or not isinstance(config.get("search"), dict):
        return None
    from blobrl.config.sections import EVAL_SEARCH_BASE

    evaluation = config.get("evaluation")
    overrides = evaluation.get("search") if isinstance(evaluation, dict) else None
    merged = {**config["search"], **EVAL_SEARCH_BASE, **(overrides or {})}
    known = {f.name for f in fields(SearchSettings)}
    try:
        settings = SearchSettings(**{k: v for k, v in merged.items() if k in known})
    except (TypeError, ValueError):
        return None
    return replace(settings, dirichlet_weight=0.0, temperature=0.0, final_temperature=0.0)


def _from_factory(text: str) -> Agent:
    module_name, _, attr = text.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise AgentSpecError(f"{text!r}: cannot import module {module_name!r} ({e})") from e
    except Exception as e:  # the user's module fails as it runs: a bad spec, not our crash
        raise AgentSpecError(
            f"{text!r}: importing module {module_name!r} raised {_raised(e)}"
        ) from e
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise AgentSpecError(f"{text!r}: module {module_name!r} has no callable {attr!r}")
    try:
        agent = factory()
    except Exception as e:
        raise AgentSpecError(f"{text!r}: {attr}() raised {_raised(e)}") from e
    if not callable(getattr(agent, "act", None)):
        raise AgentSpecError(
            f"{text!r}: {attr}() returned {type(agent).__name__}, which has no act"
        )
    return agent


def _raised(exc: Exception) -> str:
    """``ValueError: message (at file.py:12)``: the exception and where the user's code raised
    it (the innermost frame)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames and not isinstance(exc, SyntaxError):  # a SyntaxError names its line itself
        where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})"
    return f"{type(exc).__name__}: {exc}{where}"


# ---- checkpoints --------------------------------------------------------------------------------


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(model state dict, ``network`` config section or None) of a best or iteration checkpoint."""
    weights, config = read_checkpoint_config(path)
    network = config.get("network") if isinstance(config, dict) else None
    return weights, network


def read_checkpoint_config(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(model state dict, the resolved run config or None) of a best or iteration checkpoint
    (a ``best_model.pt`` without one takes its run directory's ``config.json``)."""
    from blobrl.checkpoint import CheckpointError
    from blobrl.checkpoint.rundir import CONFIG
    from blobrl.checkpoint.store import migrate, read_verified

    try:
        raw = read_verified(path)
        if "model" in raw and "payload" not in raw:  # best_model.pt
            migrate({"format_version": raw.get("format_version", 0)}, source=str(path))
            weights = raw["model"]
            config = raw.get("meta", {}).get("config")
            if config is None:  # the run directory's resolved config, if this is one
                config = _json_or_none(path.parent.parent / CONFIG)
        else:
            payload = migrate(raw, source=str(path))["payload"]
            weights = _find_weights(payload)
            config = payload.get("config")
    except CheckpointError as e:
        raise AgentSpecError(str(e)) from e
    if weights is None:
        raise AgentSpecError(f"{path}: the checkpoint holds no model weights")
    return dict(weights), config if isinstance(config, dict) else None


def _find_weights(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The model's weights in an iteration checkpoint's payload (direct or in the learner state)."""
    for route in (("model",), ("learner_state", "learner", "model"), ("learner_state", "model")):
        node: Any = payload
        for key in route:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            return node
    return None


def _json_or_none(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _checkpoint_evaluator(path: Path, *, device: str) -> tuple[Any, dict[str, Any] | None]:
    """(evaluator, the run config or None) of a checkpoint."""
    from blobrl.nn import NetworkConfig, TorchEvaluator, build_network

    if not path.is_file():
        raise AgentSpecError(f"{path}: checkpoint not found")
    weights, run_config = read_checkpoint_config(path)
    network = run_config.get("network") if run_config else None
    try:
        config = NetworkConfig.from_section(network, weights)
    except (TypeError, ValueError) as e:
        raise AgentSpecError(f"{path}: bad network config in the checkpoint ({e})") from e
    model = build_network(config)
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise AgentSpecError(
            f"{path}: the weights do not fit a {config.arch} network as configured ({first})"
        ) from e
    return TorchEvaluator(model, device=device), run_config
