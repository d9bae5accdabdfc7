"""The --preview-schedule table."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

from blobrl.config import load_config, lr_schedule, render_schedule

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_preview_lists_every_phase_with_its_learning_rates():
    config = load_config(CONFIGS / "aggressive.yaml")
    text = render_schedule(config)
    for span, search, games in [
        ("1-50", "1 x 15", "5,000"),
        ("51-150", "2 x 25", "8,000"),
        ("151-300", "3 x 35", "10,000"),
        ("301-450", "4 x 45", "12,000"),
        ("451-500", "5 x 50", "15,000"),
    ]:
        line = next(row for row in text.splitlines() if f" {span} " in row)
        assert search in line and games in line
    lr = lr_schedule(config).lr_at
    assert lr(10) == 1e-3 and lr(500) == 1e-5
    for phase in config.schedule.phases:
        assert f"{lr(phase.first):.3g}" in text and f"{lr(phase.last):.3g}" in text
    assert "5,100,000" in text  # total games
    total_row = next(row for row in text.splitlines() if row.startswith("total"))
    assert "mean" in total_row


def test_preview_shows_phase_search_overrides(tmp_path):
    from .trial_configs import minimal, write

    data = minimal()
    data["schedule"]["phases"][0]["search"] = {"root": "gumbel"}
    text = render_schedule(load_config(write(tmp_path, data)))
    assert "root=gumbel" in text


def test_counts_too_large_for_a_float_still_preview(tmp_path):
    """A config may hold counts no float can (the fuzz found one); the preview shows them."""
    from .trial_configs import minimal, write

    data = minimal()
    phase = data["schedule"]["phases"][0]
    phase["simulations"] = 10**310
    config = load_config(write(tmp_path, data))
    text = render_schedule(config)
    phases = config.schedule.phases
    mean = Fraction(
        sum(p.total_games * p.simulations_per_decision for p in phases), config.total_games
    )
    tenths = math.floor(mean * 10 + Fraction(1, 2))
    total_row = next(row for row in text.splitlines() if row.startswith("total"))
    assert f" {tenths // 10}.{tenths % 10} mean" in total_row


def test_the_mean_simulations_a_decision_weights_phases_by_their_games(tmp_path):
    from .trial_configs import minimal, write

    data = minimal()
    text = render_schedule(load_config(write(tmp_path, data)))
    config = load_config(write(tmp_path, data))
    phases = config.schedule.phases
    mean = sum(p.total_games * p.simulations_per_decision for p in phases) / config.total_games
    total_row = next(row for row in text.splitlines() if row.startswith("total"))
    assert f"{mean:.1f} mean" in total_row
