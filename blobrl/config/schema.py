"""The run config: one frozen :class:`Config`, loaded from YAML and validated at load."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from blobrl.config.game_mix import GameMixSampler
from blobrl.config.loader import (
    ConfigError,
    InvalidField,
    apply_overrides,
    build,
    read_yaml,
    to_plain,
)
from blobrl.config.sections import (
    EVAL_SEARCH_BASE,
    ApiConfig,
    CheckpointConfig,
    EvaluationConfig,
    GameMixEntry,
    InferenceConfig,
    Phase,
    ReplayConfig,
    RunConfig,
    ScheduleConfig,
    SelfPlayConfig,
    TelemetryConfig,
)
from blobrl.learner import LearnerConfig
from blobrl.mcts.settings import SearchSettings
from blobrl.nn.config import NetworkConfig

TOKEN_ENV = "BLOBRL_API_TOKEN"
WEIGHT_TOLERANCE = 1e-6
REDACTED = "<redacted>"


@dataclass(frozen=True)
class Config:
    """Everything a run needs. Sections are the top-level YAML keys."""

    run: RunConfig
    schedule: ScheduleConfig
    game_mix: tuple[GameMixEntry, ...]
    search: SearchSettings = field(default_factory=SearchSettings)  # defaults for every phase
    network: NetworkConfig = field(default_factory=NetworkConfig)
    learner: LearnerConfig = field(default_factory=LearnerConfig)
    selfplay: SelfPlayConfig = field(default_factory=SelfPlayConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    api: ApiConfig = field(default_factory=ApiConfig)

    def __post_init__(self) -> None:
        if self.network.scoring != self.run.scoring:  # the value head scores as the run does
            object.__setattr__(self, "network", replace(self.network, scoring=self.run.scoring))
        self._check_schedule()
        self._check_game_mix()
        warmup = getattr(self.learner, "warmup_iterations", 0)
        if warmup > self.run.iterations:
            raise InvalidField(
                "learner.warmup_iterations",
                f"must be <= run.iterations ({self.run.iterations}), got {warmup}",
            )
        try:
            self.evaluation_search  # noqa: B018 - validates the evaluation overrides
        except ValueError as exc:
            raise InvalidField("evaluation.search", str(exc)) from None

    def _check_schedule(self) -> None:
        phases, total = self.schedule.phases, self.run.iterations
        end = phases[-1].last
        if end < total:
            raise InvalidField(
                f"schedule.phases[{len(phases) - 1}].last",
                f"iterations {end + 1}-{total} are in no phase "
                f"(the schedule must cover 1..run.iterations = {total})",
            )
        if end > total:
            # A shorter run (run.iterations overridden, e.g. by --iterations) follows the start
            # of the curriculum; the resolved config holds the clipped schedule.
            kept = tuple(replace(p, last=min(p.last, total)) for p in phases if p.first <= total)
            object.__setattr__(self, "schedule", replace(self.schedule, phases=kept))
            phases = kept
        for i, phase in enumerate(phases):
            try:
                phase.apply(self.search)
            except ValueError as exc:
                raise InvalidField(f"schedule.phases[{i}]", str(exc)) from None

    def _check_game_mix(self) -> None:
        if not self.game_mix:
            raise InvalidField("game_mix", "at least one deal size is required")
        seen: dict[tuple[int, int], int] = {}
        for i, entry in enumerate(self.game_mix):
            if entry.deal in seen:
                raise InvalidField(
                    f"game_mix[{i}]",
                    f"{entry.players}x{entry.cards} is already game_mix[{seen[entry.deal]}]",
                )
            seen[entry.deal] = i
        total = math.fsum(e.weight for e in self.game_mix)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            raise InvalidField("game_mix", f"weights must sum to 1, they sum to {total:.6g}")

    # --- derived values -----------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def iterations(self) -> int:
        return self.run.iterations

    @property
    def total_games(self) -> int:
        """Self-play games of the whole run."""
        return sum(p.total_games for p in self.schedule.phases)

    @property
    def evaluation_search(self) -> SearchSettings:
        """Search of arena and gauntlet games: ``search`` with noise and temperature off, then
        ``evaluation.search``."""
        return replace(self.search, **{**EVAL_SEARCH_BASE, **self.evaluation.search})

    @property
    def learns_rollout(self) -> bool:
        """Whether a search of the run plays the learned rollout rule (``rollout: learned``), so
        that the learner fits it each iteration."""
        searches = [self.evaluation_search] + [p.apply(self.search) for p in self.schedule.phases]
        return any(s.tree == "information_set" and s.rollout == "learned" for s in searches)

    def phase_at(self, iteration: int) -> Phase:
        """The schedule phase of ``iteration`` (1-based)."""
        return self.schedule.phase_at(iteration)

    def search_at(self, iteration: int) -> SearchSettings:
        """Self-play search of ``iteration``: the ``search`` defaults with its phase applied."""
        return self.schedule.phase_at(iteration).apply(self.search)

    def games_before(self, iteration: int) -> int:
        """Self-play games of iterations 1..``iteration`` - 1 (the games done when
        ``iteration`` starts)."""
        done = 0
        for p in self.schedule.phases:
            if p.first >= iteration:
                break
            done += (min(p.last, iteration - 1) - p.first + 1) * p.games_per_iteration
        return done

    def game_mix_sampler(self) -> GameMixSampler:
        """The sampler of this run's deal sizes, seeded from ``run.seed``."""
        return GameMixSampler(self.game_mix, seed=self.run.seed)

    def to_dict(self, *, include_secrets: bool = False) -> dict[str, Any]:
        """The resolved config as plain data (JSON/YAML-able); ``api.token`` is redacted
        unless ``include_secrets``. :func:`config_from_dict` reads it back."""
        out = to_plain(self)
        if out["api"]["token"] is not None and not include_secrets:
            out["api"]["token"] = REDACTED
        return out


# --- loading --------------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike[str],
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read, override and validate the YAML config at ``path``.

    ``overrides`` maps dotted keys (``run.iterations``, ``schedule.phases[0].simulations``) to
    values; command-line flags go through here. ``run.name`` defaults to the file stem and
    ``api.token`` to ``$BLOBRL_API_TOKEN``. Raises :class:`ConfigError` naming the file, key
    and reason.
    """
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise ConfigError(source, "", "a directory, not a config file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1]
        raise ConfigError(source, "", f"not UTF-8 text (byte {exc.start}: {bad!r})") from None
    data = read_yaml(text, source=source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, "", "expected a mapping of sections at the top level")
    run = data.get("run")
    if isinstance(run, dict) and "name" not in run:
        data = {**data, "run": {**run, "name": path.stem}}
    try:
        return config_from_dict(data, overrides=overrides, source=source, environ=environ)
    except RecursionError:  # values nested deeper than any config is (copied recursively)
        raise ConfigError(source, "", "not a usable config: nested too deeply") from None


def config_from_dict(
    data: Mapping[str, Any],
    *,
    overrides: Mapping[str, Any] | None = None,
    source: str = "<config>",
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build a :class:`Config` from plain data (a parsed file, or :meth:`Config.to_dict`)."""
    plain = apply_overrides(dict(data), overrides or {}, source=source)
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV)
    if token:
        api = plain.get("api")
        if api is None:
            plain["api"] = {"token": token}
        elif isinstance(api, dict) and api.get("token") is None:
            plain["api"] = {**api, "token": token}
    return build(Config, plain, source=source)
