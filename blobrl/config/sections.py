"""The sections of the config: frozen dataclasses whose fields are the YAML keys.

Ranges are declared next to each field (:func:`bounded`); rules that tie fields together are in
``_validate``. Both raise :class:`InvalidField`, which the loader turns into an error naming the
file and the dotted key.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
import types
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any, Literal

from blobrl.config.loader import OVERRIDES_EXCLUDE, OVERRIDES_OF, InvalidField
from blobrl.game import GameError, check_deal_size
from blobrl.mcts.settings import SearchSettings


def bounded(
    default: Any = MISSING,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
) -> Any:
    """A dataclass field with a numeric range, checked by :class:`Section`."""
    return field(default=default, metadata={"ge": ge, "gt": gt, "le": le})


def search_overrides(*, exclude: tuple[str, ...] = (), default: Mapping[str, Any] | None = None):
    """A field holding a partial mapping of :class:`SearchSettings` fields."""
    frozen = types.MappingProxyType(dict(default or {}))
    return field(
        default_factory=lambda: frozen,
        metadata={OVERRIDES_OF: SearchSettings, OVERRIDES_EXCLUDE: exclude},
    )


class Section:
    """Checks declared ranges, then the section's own ``_validate``."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            ge, gt, le = f.metadata.get("ge"), f.metadata.get("gt"), f.metadata.get("le")
            if ge is not None and value < ge:
                raise InvalidField(f.name, f"must be >= {ge}, got {value}")
            if gt is not None and value <= gt:
                raise InvalidField(f.name, f"must be > {gt}, got {value}")
            if le is not None and value > le:
                raise InvalidField(f.name, f"must be <= {le}, got {value}")
        for f in fields(self):  # type: ignore[arg-type]
            # Overrides given as a plain dict (in code) are frozen like the loader's.
            value = getattr(self, f.name)
            if f.metadata.get(OVERRIDES_OF) is not None and not isinstance(
                value, types.MappingProxyType
            ):
                object.__setattr__(self, f.name, types.MappingProxyType(dict(value)))
        self._validate()

    def _validate(self) -> None:
        pass


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class RunConfig(Section):
    """What is trained, for how long, from which seed."""

    # Total iterations of the run; the LR schedule ends here. Below the schedule's end (as with
    # --iterations N) the run follows the first N iterations of the schedule.
    iterations: int = bounded(ge=1)
    name: str = "blobrl"  # the run directory is runs/<name>; load_config uses the file stem
    seed: int = bounded(0, ge=0)  # all run randomness (game mix, deals, init) derives from it
    trump_mode: Literal["rotation", "turn_up", "none"] = "rotation"
    scoring: Literal["blob", "oh_hell"] = "blob"

    def _validate(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise InvalidField(
                "name", f"must be letters, digits, '.', '_' or '-', got {self.name!r}"
            )


@dataclass(frozen=True)
class Phase(Section):
    """Iterations ``first``..``last`` (inclusive, 1-based) searched with these settings."""

    first: int = bounded(ge=1)
    last: int = bounded(ge=1)
    determinizations: int = bounded(ge=1)
    simulations: int = bounded(ge=1)
    games_per_iteration: int = bounded(ge=1)
    # Any other SearchSettings fields for this phase (c_puct, root, temperature, ...).
    search: Mapping[str, Any] = search_overrides(exclude=("determinizations", "simulations"))

    def _validate(self) -> None:
        if self.last < self.first:
            raise InvalidField("last", f"must be >= first ({self.first}), got {self.last}")

    @property
    def iterations(self) -> int:
        return self.last - self.first + 1

    @property
    def total_games(self) -> int:
        return self.iterations * self.games_per_iteration

    @property
    def simulations_per_decision(self) -> int:
        return self.determinizations * self.simulations

    def apply(self, base: SearchSettings) -> SearchSettings:
        """``base`` with this phase's search values."""
        return replace(
            base,
            determinizations=self.determinizations,
            simulations=self.simulations,
            **self.search,
        )


@dataclass(frozen=True)
class ScheduleConfig(Section):
    """The curriculum: consecutive phases from iteration 1 (to ``run.iterations``, checked by
    :class:`Config`)."""

    phases: tuple[Phase, ...] = ()

    def _validate(self) -> None:
        if not self.phases:
            raise InvalidField("phases", "at least one phase is required")
        if self.phases[0].first != 1:
            raise InvalidField(
                "phases[0].first",
                f"iterations 1-{self.phases[0].first - 1} are in no phase "
                f"(the first phase must start at iteration 1)",
            )
        for i in range(1, len(self.phases)):
            prev, cur = self.phases[i - 1], self.phases[i]
            if cur.first <= prev.last:
                lo, hi = max(cur.first, prev.first), min(cur.last, prev.last)
                raise InvalidField(
                    f"phases[{i}].first",
                    f"phases[{i}] (iterations {cur.first}-{cur.last}) overlaps phases[{i - 1}] "
                    f"(iterations {prev.first}-{prev.last}) at iterations {lo}-{hi}; "
                    f"phases must be listed in order without overlaps",
                )
            if cur.first > prev.last + 1:
                raise InvalidField(
                    f"phases[{i}].first",
                    f"iterations {prev.last + 1}-{cur.first - 1} are in no phase "
                    f"(phases[{i - 1}] ends at {prev.last}, phases[{i}] starts at {cur.first})",
                )

    @property
    def last_iteration(self) -> int:
        return self.phases[-1].last

    def index_at(self, iteration: int) -> int:
        """Index of the phase that holds ``iteration`` (1-based)."""
        if not 1 <= iteration <= self.last_iteration:
            raise ValueError(f"iteration must be in 1..{self.last_iteration}, got {iteration}")
        return bisect.bisect_right([p.first for p in self.phases], iteration) - 1

    def phase_at(self, iteration: int) -> Phase:
        return self.phases[self.index_at(iteration)]


@dataclass(frozen=True)
class GameMixEntry(Section):
    """One deal size of the self-play mix and its share of the games."""

    players: int
    cards: int
    weight: float = bounded(gt=0.0, le=1.0)

    def _validate(self) -> None:
        try:
            check_deal_size(self.players, self.cards)
        except GameError as exc:
            raise InvalidField("", str(exc)) from None

    @property
    def deal(self) -> tuple[int, int]:
        return (self.players, self.cards)


# Game groups per self-play actor behind an InferenceServer when ``game_groups`` is auto: while
# one group waits for its leaf batch, the others search (blobrl.selfplay.worker). Measured with
# a 2 ms stand-in server (make bench, remote_stub_vs_local_stub). Against the in-process play, 6
# groups of 128 games gave 0.056 +- 0.041 more than 4 (eight paired rounds, 2-core EPYC), whose
# searching no longer covers the round trip (the core 75-91% busy).
SERVER_GAME_GROUPS = 6
# An InferenceServer's rows per forward pass when ``inference.max_batch`` is auto.
GPU_MAX_BATCH = 8192
CPU_MAX_BATCH = 1024


@dataclass(frozen=True)
class SelfPlayConfig(Section):
    actors: int | Literal["auto"] = bounded("auto", ge=1)  # auto: one per free CPU of the cluster
    games_in_flight: int = bounded(128, ge=1)  # games each group of an actor advances together
    cpus_per_actor: float = bounded(1.0, gt=0.0)
    # Groups of games_in_flight games in flight per actor, one searching while another's leaf
    # batch is evaluated; auto: 1 with the network inside each actor, SERVER_GAME_GROUPS
    # behind an InferenceServer (inference.placement).
    game_groups: int | Literal["auto"] = bounded("auto", ge=1, le=64)

    def groups(self, *, server: bool) -> int:
        """``game_groups``, auto resolved for an actor that evaluates through a server or not."""
        if self.game_groups == "auto":
            return SERVER_GAME_GROUPS if server else 1
        return int(self.game_groups)

    def games_per_actor(self, *, server: bool) -> int:
        """Games an actor has in flight: all its groups'."""
        return self.games_in_flight * self.groups(server=server)


@dataclass(frozen=True)
class InferenceConfig(Section):
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: cuda when the cluster has a GPU
    # server: one InferenceServer for the cluster; per_node: one per node; local: each actor
    # evaluates in-process; auto: server on a GPU, else per_node.
    placement: Literal["auto", "server", "per_node", "local"] = "auto"
    # Positions per forward pass; auto: GPU_MAX_BATCH on a GPU (whose pass over 8192 rows takes
    # about as long as one over 1024: it is bound by kernel launches), CPU_MAX_BATCH on the CPU.
    max_batch: int | Literal["auto"] = bounded("auto", ge=1)
    max_wait_ms: float = bounded(2.0, ge=0.0)  # how long a partial batch waits for more
    # Leaf batches to a server on the same machine through shared memory (Ray calls otherwise).
    shared_memory: bool = True

    def batch_rows(self, device: str) -> int:
        """``max_batch``, auto resolved for a server on ``device`` (``cpu`` or ``cuda[:i]``)."""
        if self.max_batch == "auto":
            return GPU_MAX_BATCH if device.startswith("cuda") else CPU_MAX_BATCH
        return int(self.max_batch)


@dataclass(frozen=True)
class ReplayConfig(Section):
    capacity: int = bounded(1_000_000, ge=1)  # positions held (394 bytes each)
    # No training step while the buffer holds fewer positions: the iteration trains 0 steps, and
    # what its positions are owed (learner.replay_ratio) is trained once the buffer has filled.
    min_positions_to_train: int = bounded(20_000, ge=1)

    def _validate(self) -> None:
        if self.min_positions_to_train > self.capacity:
            raise InvalidField(
                "min_positions_to_train",
                f"must be <= capacity ({self.capacity}), got {self.min_positions_to_train}",
            )


# Evaluation plays to win: no root noise and the most visited action, unless overridden.
EVAL_SEARCH_BASE: Mapping[str, Any] = types.MappingProxyType(
    {"dirichlet_weight": 0.0, "temperature": 0.0, "final_temperature": 0.0}
)


@dataclass(frozen=True)
class EvaluationConfig(Section):
    arena_deals: int = bounded(200, ge=1)  # duplicate deals, each played with seats rotated
    promote_threshold: float = bounded(0.55, ge=0.5, le=1.0)  # arena score share to promote
    gauntlet_every: int = bounded(10, ge=0)  # iterations between gauntlets; 0: never
    gauntlet_deals: int = bounded(100, ge=1)  # duplicate deals against each gauntlet opponent
    # Simulations per decision of the ismcts baselines the gauntlet also plays (at 5x7 only,
    # ~3 ms a decision at 1000); empty: none.
    gauntlet_ismcts: tuple[int, ...] = (1000,)
    # SearchSettings fields for evaluation, over `search:` and EVAL_SEARCH_BASE.
    search: Mapping[str, Any] = search_overrides()

    def _validate(self) -> None:
        for i, simulations in enumerate(self.gauntlet_ismcts):
            if simulations < 1:
                raise InvalidField(
                    f"gauntlet_ismcts[{i}]", f"simulations must be >= 1, got {simulations}"
                )
        if len(set(self.gauntlet_ismcts)) != len(self.gauntlet_ismcts):
            raise InvalidField(
                "gauntlet_ismcts", f"lists a budget twice: {list(self.gauntlet_ismcts)}"
            )


@dataclass(frozen=True)
class CheckpointConfig(Section):
    keep_all: bool = False  # else tiered retention (docs/design.md)
    min_free_disk_gb: float = bounded(2.0, ge=0.0)  # pause with a message below this
    fsync_interval_s: float = bounded(1.0, ge=0.0)  # game log fsync period; 0: every game


@dataclass(frozen=True)
class TelemetryConfig(Section):
    # TensorBoard event files in RUN_DIR/tb (blobrl.telemetry.tensorboard), the numbers of
    # /api/metrics per iteration. Needs the `tensorboard` package (pip install 'blobrl[tb]');
    # without it the run says so in one warning and writes none.
    tensorboard: bool = True


@dataclass(frozen=True)
class ApiConfig(Section):
    host: str = "127.0.0.1"
    port: int = bounded(8080, ge=0, le=65535)  # 0: any free port
    token: str | None = None  # required beyond loopback; also from BLOBRL_API_TOKEN

    def _validate(self) -> None:
        if not self.host:
            raise InvalidField("host", "must not be empty")
        if self.token is not None and not self.token:
            raise InvalidField("token", "must not be empty (leave it out for none)")
        if not self.is_loopback and self.token is None:
            raise InvalidField(
                "token",
                f"the API listens on {self.host}, beyond loopback, so a token is required "
                f"(set api.token or BLOBRL_API_TOKEN)",
            )

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False
