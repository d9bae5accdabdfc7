"""The launcher's command line: preview, bad input (exit 2, nothing touched), run directories."""

from __future__ import annotations

import contextlib
import io
import logging
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from blobrl.checkpoint import GameLog, RunDir
from blobrl.launch import runner
from blobrl.launch.runner import EXIT_BAD_INPUT, BadInput, build_parser, load, prepare_run_dir

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "configs" / "smoke.yaml"


@dataclass(frozen=True)
class Launched:
    returncode: int
    stdout: str
    stderr: str


def launch(*args: str) -> Launched:
    """``python -m blobrl.launch ARGS`` in this process: ``runner.main``, which the module's
    ``__main__`` exits with. Every launch here is refused before Ray starts, so a process of
    its own (seconds of imports each) would add nothing; test_missing_config_exits_2 runs the
    real command."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = runner.main(list(args))
    return Launched(code, out.getvalue(), err.getvalue())


def test_preview_schedule_prints_every_phase_and_exits_0():
    out = launch(str(ROOT / "configs" / "aggressive.yaml"), "--preview-schedule")
    assert out.returncode == 0, out.stderr
    for span in ("1-50", "51-150", "151-300", "301-450", "451-500"):
        assert span in out.stdout
    assert "5,000" in out.stdout and "15,000" in out.stdout


def test_config_typo_exits_2_naming_file_and_key(tmp_path):
    config = yaml.safe_load(SMOKE.read_text())
    config["search"]["simulatons"] = 10
    bad = tmp_path / "typo.yaml"
    bad.write_text(yaml.safe_dump(config))
    out = launch(str(bad), "--run-dir", str(tmp_path / "run"))
    assert out.returncode == EXIT_BAD_INPUT
    assert "typo.yaml" in out.stderr and "simulatons" in out.stderr
    assert not (tmp_path / "run").exists()


def test_missing_config_exits_2():
    out = subprocess.run(
        [sys.executable, "-m", "blobrl.launch", "configs/does-not-exist.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == EXIT_BAD_INPUT
    assert "does-not-exist.yaml" in out.stderr


def test_infeasible_deal_in_the_mix_exits_2(tmp_path):
    config = yaml.safe_load(SMOKE.read_text())
    config["game_mix"] = [{"players": 7, "cards": 8, "weight": 1.0}]
    bad = tmp_path / "mix.yaml"
    bad.write_text(yaml.safe_dump(config))
    out = launch(str(bad), "--preview-schedule")
    assert out.returncode == EXIT_BAD_INPUT
    assert "56 cards" in out.stderr


def args_for(*argv: str):
    return build_parser().parse_args([str(SMOKE), *argv])


def run_dir_with_a_game(path: Path, games: int = 1) -> None:
    from blobrl.mcts import SearchSettings, uniform_evaluator
    from blobrl.selfplay import GameSpec, SelfPlayWorker

    records = SelfPlayWorker(
        uniform_evaluator, settings=SearchSettings(1, 2), games_in_flight=games
    ).play([GameSpec(3, 2, seed=i, iteration=1, game_id=i) for i in range(games)])
    RunDir(path).create()
    with GameLog(RunDir(path).games_log) as log:
        for record in records:
            log.append_game(record)


def test_run_dir_with_progress_needs_resume_or_overwrite(tmp_path):
    run = tmp_path / "run"
    run_dir_with_a_game(run)
    before = (run / "games.log").read_bytes()
    args = args_for("--run-dir", str(run))
    with pytest.raises(BadInput, match="--resume or replace it with --overwrite"):
        prepare_run_dir(args, load(args))
    assert (run / "games.log").read_bytes() == before  # nothing touched


def test_resume_without_progress_is_refused(tmp_path):
    args = args_for("--run-dir", str(tmp_path / "empty"), "--resume")
    with pytest.raises(BadInput, match="nothing to resume"):
        prepare_run_dir(args, load(args))


def test_overwrite_replaces_the_run_once_every_check_has_passed(tmp_path):
    run = tmp_path / "run"
    run_dir_with_a_game(run)
    args = args_for("--run-dir", str(run), "--overwrite")
    plan = prepare_run_dir(args, load(args))
    assert plan.run_dir == run and not plan.resume
    assert RunDir(run).has_progress()  # the checks change nothing ...
    plan.apply()  # ... the launch applies the plan once Ray and the API port are fine too
    assert not RunDir(run).has_progress()
    assert (run / "config.json").exists()


def test_a_run_directory_in_use_by_another_launch_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "IN_USE_WAIT_S", 0.3)
    run = tmp_path / "run"
    run_dir_with_a_game(run)
    RunDir(run).write_config(load(args_for()).to_dict())  # as the launch that made it did
    before = (run / "games.log").read_bytes()
    with GameLog(RunDir(run).games_log):  # held open for writing, as a running launch does
        for flag in ("--resume", "--overwrite"):
            args = args_for("--run-dir", str(run), flag)
            with pytest.raises(BadInput, match="already open for writing by another process"):
                prepare_run_dir(args, load(args))
    assert (run / "games.log").read_bytes() == before
    args = args_for("--run-dir", str(run), "--resume")
    assert prepare_run_dir(args, load(args)).resume  # free again once that run has ended


def test_a_launch_waits_for_a_killed_run_to_let_go_of_its_log(tmp_path, caplog):
    """After kill -9 the old run's Ray workers hold the log for a few seconds more; a resume
    started at once waits for them instead of refusing the run."""
    run = tmp_path / "run"
    run_dir_with_a_game(run)
    RunDir(run).write_config(load(args_for()).to_dict())  # as the launch that made it did
    held = GameLog(RunDir(run).games_log)
    threading.Timer(1.0, held.close).start()  # the lingering writer goes away after a second
    args = args_for("--run-dir", str(run), "--resume")
    with caplog.at_level(logging.INFO, logger="blobrl.launch"):
        assert prepare_run_dir(args, load(args)).resume
    assert "waiting up to 30 s" in caplog.text


def test_resume_refuses_a_game_log_damaged_before_its_end(tmp_path):
    run = tmp_path / "run"
    run_dir_with_a_game(run, games=2)
    data = bytearray((run / "games.log").read_bytes())
    data[40] ^= 0xFF  # inside the first of two records
    (run / "games.log").write_bytes(bytes(data))
    out = launch(str(SMOKE), "--run-dir", str(run), "--resume")
    assert out.returncode == EXIT_BAD_INPUT
    assert "damaged before its end" in out.stderr and "games.log" in out.stderr
    assert (run / "games.log").read_bytes() == bytes(data)
    assert not (run / "config.json").exists()  # nothing touched


def test_resume_with_a_changed_schedule_names_the_differences(tmp_path):
    run = tmp_path / "run"
    args = args_for("--run-dir", str(run))
    prepare_run_dir(args, load(args)).apply()
    run_dir_with_a_game(run)
    changed = yaml.safe_load(SMOKE.read_text())
    sims = changed["schedule"]["phases"][0]["simulations"]
    changed["schedule"]["phases"][0]["simulations"] = sims + 1
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(changed))
    resume = build_parser().parse_args([str(path), "--run-dir", str(run), "--resume"])
    with pytest.raises(
        BadInput,
        match=rf"(?s)schedule\.phases\[0\]\.simulations: {sims} -> {sims + 1}.*--force-schedule",
    ):
        prepare_run_dir(resume, load(resume))
    forced = build_parser().parse_args(
        [str(path), "--run-dir", str(run), "--resume", "--force-schedule"]
    )
    assert prepare_run_dir(forced, load(forced)).resume


def test_iterations_flag_is_a_stop_point_not_a_config_change():
    full = load(args_for())
    assert load(args_for("--iterations", "2")).to_dict() == full.to_dict()
    with pytest.raises(BadInput, match="--iterations"):
        load(args_for("--iterations", "0"))
    with pytest.raises(BadInput, match=r"--iterations must be 1\.\.10"):
        load(args_for("--iterations", "11"))


def run_dir_with_a_checkpoint(path: Path, *, format_version: int | None = None) -> Path:
    """A run directory holding one game and the checkpoint of iteration 0."""
    import torch

    from blobrl.checkpoint import CheckpointStore

    run_dir_with_a_game(path)
    args = args_for("--run-dir", str(path), "--overwrite")
    RunDir(path).write_config(load(args).to_dict())
    saved = CheckpointStore(path).save(0, {"games_played": 1})
    if format_version is not None:
        data = torch.load(saved, weights_only=True)
        data["format_version"] = format_version
        torch.save(data, saved)
        from blobrl.checkpoint.atomic import sha256_file

        saved.with_name(saved.name + ".sha256").write_text(f"{sha256_file(saved)}  {saved.name}\n")
    return saved


def test_resume_refuses_a_checkpoint_with_a_flipped_byte(tmp_path):
    run = tmp_path / "run"
    saved = run_dir_with_a_checkpoint(run)
    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0x01
    saved.write_bytes(bytes(data))
    log_before = (run / "games.log").read_bytes()
    out = launch(str(SMOKE), "--run-dir", str(run), "--resume")
    assert out.returncode == EXIT_BAD_INPUT
    assert "checksum mismatch" in out.stderr and saved.name in out.stderr
    assert (run / "games.log").read_bytes() == log_before  # nothing else touched


def test_resume_refuses_a_checkpoint_from_a_newer_format(tmp_path):
    run = tmp_path / "run"
    run_dir_with_a_checkpoint(run, format_version=99)
    out = launch(str(SMOKE), "--run-dir", str(run), "--resume")
    assert out.returncode == EXIT_BAD_INPUT
    assert "newer blobrl" in out.stderr


def test_status_of_a_missing_run_directory_exits_2(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "blobrl.status", str(tmp_path / "nowhere")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == EXIT_BAD_INPUT
    assert "nowhere" in out.stderr


def test_a_busy_api_port_exits_2_before_anything_starts_even_with_overwrite(tmp_path):
    import socket

    run = tmp_path / "run"
    run_dir_with_a_game(run)
    before = (run / "games.log").read_bytes()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = yaml.safe_load(SMOKE.read_text())
        config["api"]["port"] = port
        path = tmp_path / "busy.yaml"
        path.write_text(yaml.safe_dump(config))
        out = launch(str(path), "--run-dir", str(run), "--overwrite")
    assert out.returncode == EXIT_BAD_INPUT
    assert f"api.port: 127.0.0.1:{port} is not free" in out.stderr
    assert "Ray dashboard" not in out.stdout
    assert (run / "games.log").read_bytes() == before  # --overwrite waits for every check


def test_an_address_where_no_cluster_answers_exits_2_at_once(tmp_path):
    import socket

    with socket.socket() as probe:  # a port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = tmp_path / "run"
    out = launch(str(SMOKE), "--run-dir", str(run), "--address", f"127.0.0.1:{port}")
    assert out.returncode == EXIT_BAD_INPUT
    assert f"--address 127.0.0.1:{port}: no Ray cluster answers there" in out.stderr
    assert not run.exists()  # nothing touched
    out = launch(str(SMOKE), "--run-dir", str(run), "--address", "nonsense")
    assert out.returncode == EXIT_BAD_INPUT and "expected HOST:PORT" in out.stderr
