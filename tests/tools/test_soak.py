"""The soak's checks and report (fast), and a short real soak (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from blobrl.config import load_config
from blobrl.tools.soak import (
    MIB,
    SOAK_ITERATIONS,
    Kill,
    RssSample,
    Soak,
    SoakOptions,
    SoakReport,
    check_memory,
    duplicate_games,
    main,
    memory_limit,
    soak_config,
)

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "configs" / "smoke.yaml"


def report(samples, **fields) -> SoakReport:
    base = dict(config="smoke.yaml", run_dir="run", minutes=1.0, kill_every_s=20.0, warmup_s=30.0)
    r = SoakReport(**base, samples=samples)
    r.exit_code, r.games_logged, r.games_status = 0, 100, 100
    for key, value in fields.items():
        setattr(r, key, value)
    return r


def steady(t: float, **extra_mib: float) -> RssSample:
    rss = {"coordinator": 400, "selfplay-0": 450, "selfplay-1": 460, "learner": 540}
    rss.update(extra_mib)
    return RssSample(t=t, rss={k: int(v * MIB) for k, v in rss.items()})


def test_memory_limit_is_25_percent_or_100_mib_whichever_is_larger():
    assert memory_limit(200 * MIB) == 300 * MIB  # 25 % would be 50 MiB
    assert memory_limit(1000 * MIB) == 1250 * MIB


def test_baseline_is_the_first_sample_after_warmup_and_kinds_take_their_largest_actor():
    samples = [steady(0, learner=100), steady(30), steady(60, **{"selfplay-1": 500})]
    checks = {m.kind: m for m in check_memory(samples, warmup_s=30)}
    assert checks["learner"].baseline_bytes == 540 * MIB  # not the cold 100 MiB at t=0
    assert checks["selfplay"].baseline_bytes == 460 * MIB
    assert checks["selfplay"].end_bytes == 500 * MIB
    assert all(m.ok for m in checks.values())


def test_memory_growth_beyond_the_rule_fails_the_soak():
    r = report([steady(0), steady(30), steady(90, coordinator=520)])
    (coordinator,) = [m for m in r.memory() if m.kind == "coordinator"]
    assert coordinator.limit_bytes == 500 * MIB and not coordinator.ok
    assert not r.checks()["memory_flat"] and not r.ok
    assert "GREW" in r.render() and "SOAK FAILED" in r.render()


def test_replaced_selfplay_actors_count_under_their_kind():
    r = report(
        [steady(30), RssSample(90, {"coordinator": 400 * MIB, "selfplay-7": 470 * MIB})],
        kills=[Kill(40, "selfplay-0"), Kill(60, "selfplay-1")],
        recoveries={"selfplay": 2},
    )
    assert {m.kind for m in r.memory()} == {"coordinator", "selfplay"}
    assert r.ok, r.checks()


def test_a_passing_report_renders_every_actor_and_round_trips_as_json():
    r = report([steady(0), steady(30), steady(90)], kills=[Kill(20, "selfplay-0")],
               recoveries={"selfplay": 1})  # fmt: skip
    text = r.render()
    assert "SOAK PASSED" in text and "selfplay-1" in text and "learner" in text
    data = json.loads(json.dumps(r.to_dict()))
    assert data["ok"] and data["kills"] == [{"t": 20, "actor": "selfplay-0"}]
    assert data["rss_end"]["learner"] == 540 * MIB
    assert "100 MiB" in data["memory_rule"]


@pytest.mark.parametrize(
    ("fields", "failed"),
    [
        ({"exit_code": 1}, "exit_code"),
        ({"exit_code": None}, "exit_code"),
        ({"duplicates": [(1, 5)]}, "no_duplicate_games"),
        ({"games_status": 99}, "status_matches_log"),
        ({"games_logged": 0, "games_status": 0}, "games_played"),
        ({"error": "RuntimeError: boom"}, "no_error"),
    ],
)
def test_each_failed_check_fails_the_soak(fields, failed):
    r = report([steady(0), steady(30), steady(90)], **fields)
    assert [k for k, ok in r.checks().items() if not ok] == [failed]


def test_only_kills_with_time_to_recover_must_be_recovered():
    kills = [Kill(20, "selfplay-0"), Kill(80, "selfplay-1")]  # the last, 10 s before the end
    r = report([steady(0), steady(30), steady(90)], kills=kills, recoveries={"selfplay": 1})
    assert r.settled_kills() == 1 and r.checks()["kills_recovered"]
    r.recoveries = {}
    assert not r.checks()["kills_recovered"]


def test_duplicate_games_are_found():
    assert duplicate_games([(1, 0), (1, 1), (2, 0), (1, 1)]) == [(1, 1)]
    assert duplicate_games([]) == []


def test_soak_config_runs_long_enough_and_still_validates(tmp_path):
    path, name = soak_config(SMOKE, tmp_path, api_port=18123)
    config = load_config(path)
    assert config.api.port == 18123
    assert name == config.name == "soak-smoke"
    assert config.iterations == SOAK_ITERATIONS
    original = yaml.safe_load(SMOKE.read_text())
    assert yaml.safe_load(path.read_text())["game_mix"] == original["game_mix"]


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert main(["--config", str(SMOKE), "--minutes", "0"]) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.timeout(600)
def test_short_soak_with_kills_passes(tmp_path):
    options = SoakOptions(
        config=SMOKE,
        minutes=1.5,
        kill_every=20.0,
        run_dir=tmp_path / "run",
        sample_every=15.0,
        warmup_s=30.0,
    )
    result = Soak(options).run()
    assert result.ok, result.render()
    assert len(result.kills) >= 3
    assert result.recoveries.get("selfplay", 0) >= result.settled_kills() >= 2
    assert result.games_logged > 0


def test_rss_of_this_process_is_read_and_a_gone_process_is_none():
    import os

    from blobrl.tools.soak import rss_of

    assert rss_of(os.getpid()) > 10 * MIB
    assert rss_of(2**22 + 12345) is None  # above the default pid_max
