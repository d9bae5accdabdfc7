"""TensorBoard event files of a run (``RUN_DIR/tb``): the numbers of ``/api/metrics``, kept.

The Coordinator hands each record over as it makes it: the loss history entry of every trained
iteration (with the games/min and the replay buffer of that moment), the Elo history entry of
every arena, and every gauntlet report. They are written with step = the iteration, under the
metric names of :mod:`blobrl.telemetry.names` (``losses/policy_loss``, ``eval/elo``, ...); the
learning curve within iterations (``IterationMetrics.curve``) goes under ``train_step/`` with
step = the learner's step count. ``tensorboard --logdir runs/`` shows every run.

The writer is torch's ``SummaryWriter``, which needs the ``tensorboard`` package (the ``tb``
extra). Without it :meth:`TensorBoardLog.open` says so in one warning and the log writes
nothing; a write that fails is logged once and never stops the run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from blobrl.learner import realized_ratio
from blobrl.telemetry import names
from blobrl.telemetry.names import finite_or_none

log = logging.getLogger(__name__)

MISSING_PACKAGE = (
    "telemetry.tensorboard is on but the tensorboard package is not installed "
    "(pip install 'blobrl[tb]'); no TensorBoard files are written"
)

# Tags beyond the Prometheus metrics (names.py holds those).
LOSSES_TRICK = "losses/trick_loss"
LEARNER_GRAD_NORM = "learner/grad_norm"
LEARNER_TRAIN_SECONDS = "learner/train_seconds"
EVAL_ELO_CI95 = "eval/elo_ci95"
EVAL_BEST_ELO_CI95 = "eval/best_elo_ci95"
EVAL_ARENA_SHARE = "eval/arena_share"
EVAL_ARENA_SCORE_SHARE = "eval/arena_score_share"
EVAL_ARENA_ELO_DIFF = "eval/arena_elo_diff"
EVAL_PROMOTED = "eval/promoted"
GAUNTLET = "gauntlet"  # gauntlet/elo, gauntlet/<opponent>_<N>x<C>/<field>
TRAIN_STEP = "train_step"  # train_step/policy_loss, ... (step: the learner's step count)

# Loss history entry key -> tag (the entry is ``{"iteration", **asdict(IterationMetrics)}``).
_ITERATION_TAGS = {
    "policy_loss": names.LOSSES_POLICY,
    "value_loss": names.LOSSES_VALUE,
    "total_loss": names.LOSSES_TOTAL,
    "trick_loss": LOSSES_TRICK,
    "policy_accuracy": names.LEARNER_POLICY_ACCURACY,
    "policy_entropy": names.LEARNER_POLICY_ENTROPY,
    "value_error": names.LEARNER_VALUE_CALIBRATION_ERROR,
    "lr": names.LEARNER_LEARNING_RATE,
    "grad_norm": LEARNER_GRAD_NORM,
    "train_seconds": LEARNER_TRAIN_SECONDS,
}
_CURVE_TAGS = ("policy_loss", "value_loss", "total_loss", "trick_loss", "lr")
_GAUNTLET_FIELDS = ("diff", "diff_ci95", "score", "opponent_score", "share", "exact_rate")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class ScalarWriter(Protocol):
    """What is used of ``torch.utils.tensorboard.SummaryWriter``."""

    def add_scalar(self, tag: str, scalar_value: float, global_step: int | None = None) -> Any: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def open_writer(log_dir: str | Path) -> ScalarWriter | None:
    """A ``SummaryWriter`` on ``log_dir``; None (after one warning) without tensorboard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.warning(MISSING_PACKAGE)
        return None
    return SummaryWriter(log_dir=str(log_dir))


class TensorBoardLog:
    """Writes a run's records as TensorBoard scalars; does nothing when ``writer`` is None."""

    def __init__(self, writer: ScalarWriter | None = None):
        self._writer = writer
        self._failed = False

    @classmethod
    def open(cls, log_dir: str | Path) -> TensorBoardLog:
        return cls(open_writer(log_dir))

    @property
    def active(self) -> bool:
        return self._writer is not None

    def iteration(
        self,
        entry: Mapping[str, Any],
        *,
        games_played: int,
        games_per_min: float,
        buffer_positions: int,
        learner_steps_per_s: float | None = None,
    ) -> None:
        """A trained iteration: ``entry`` is its loss history entry."""
        step = int(entry["iteration"])
        values: dict[str, Any] = {tag: entry.get(key) for key, tag in _ITERATION_TAGS.items()}
        values[names.LEARNER_REPLAY_RATIO_LAST] = realized_ratio(
            int(entry.get("samples", 0)), int(entry.get("positions", 0))
        )
        values[names.LEARNER_REPLAY_RATIO_RUN] = realized_ratio(
            int(entry.get("samples_total", 0)), int(entry.get("positions_total", 0))
        )
        values[names.LEARNER_STEPS_PER_S] = learner_steps_per_s
        values[names.SELFPLAY_GAMES_PLAYED] = games_played
        values[names.SELFPLAY_GAMES_PER_MIN] = games_per_min
        values[names.REPLAY_BUFFER_POSITIONS] = buffer_positions
        values[names.RUN_ITERATION] = step
        curve = [
            (int(point["step"]), {f"{TRAIN_STEP}/{key}": point.get(key) for key in _CURVE_TAGS})
            for point in entry.get("curve", ())
        ]
        self._write([(step, values), *curve])

    def arena(self, entry: Mapping[str, Any], *, rating: Mapping[str, Any]) -> None:
        """An arena: ``entry`` is its Elo history entry (the candidate's rating as fitted
        then), ``rating`` ``Promotion.rating_view()`` after it (the best network's
        ``best_elo`` and ``best_elo_ci95``, a promotion by this arena included)."""
        values = {
            names.EVAL_ELO: entry.get("elo"),
            EVAL_ELO_CI95: entry.get("ci95"),
            names.EVAL_BEST_ELO: rating.get("best_elo"),
            EVAL_BEST_ELO_CI95: rating.get("best_elo_ci95"),
            EVAL_ARENA_SHARE: entry.get("share"),
            EVAL_ARENA_SCORE_SHARE: entry.get("score_share"),
            EVAL_ARENA_ELO_DIFF: entry.get("elo_diff"),
            EVAL_PROMOTED: 1.0 if entry.get("promoted") else 0.0,
        }
        self._write([(int(entry["iteration"]), values)])

    def gauntlet(
        self, report: Mapping[str, Any], *, elo: float | None, elo_ci95: float | None
    ) -> None:
        """A gauntlet report (``GauntletResult.to_dict``) with the rating of its network once
        its matches are in."""
        values: dict[str, Any] = {f"{GAUNTLET}/elo": elo, f"{GAUNTLET}/elo_ci95": elo_ci95}
        for match in report.get("matches", ()):
            opponent = _UNSAFE.sub("_", str(match.get("opponent")))
            prefix = f"{GAUNTLET}/{opponent}_{match.get('players')}x{match.get('cards')}"
            for key in _GAUNTLET_FIELDS:
                values[f"{prefix}/{key}"] = match.get(key)
        self._write([(int(report["iteration"]), values)])

    def close(self) -> None:
        if self._writer is None:
            return
        try:
            self._writer.close()
        except Exception:
            log.debug("closing the TensorBoard writer failed", exc_info=True)
        self._writer = None

    def _write(self, points: list[tuple[int, Mapping[str, Any]]]) -> None:
        """Each finite value at its step, then a flush (a record is a few dozen scalars a few
        times an iteration, so nothing waits for the writer's own flush interval)."""
        writer = self._writer
        if writer is None:
            return
        try:
            for step, values in points:
                for tag, value in values.items():
                    number = finite_or_none(value)
                    if number is not None:
                        writer.add_scalar(tag, number, step)
            writer.flush()
        except Exception:
            if not self._failed:
                log.warning("writing TensorBoard events failed", exc_info=True)
                self._failed = True


@dataclass(frozen=True)
class TensorBoardFactory:
    """Opens the run's TensorBoard log where it is called (the Coordinator's node, with the
    run directory)."""

    log_dir: str

    def __call__(self) -> TensorBoardLog:
        return TensorBoardLog.open(self.log_dir)
