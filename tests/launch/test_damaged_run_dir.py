"""Damaged copies of a real run directory, by mutation: for every file of a small run, each way
a disk, a crash or a person can damage it (delete, truncate, flip a byte, garbage, JSON of
another shape, unwritable), ``python -m blobrl.status`` and ``launch --resume`` either exit 2
naming the file with the directory byte-for-byte unchanged, or resume and finish with every
game recorded before the damage counted exactly once; never a traceback, never a silent change
of config (README, Never losing progress).

By default every mutant goes through the status command and the launcher's checks before Ray
(in this process), a resume that opens what the Coordinator opens, and a handful resume to the
end on local actors; ``-m slow`` runs every mutant through the real commands, resumes on Ray
included.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blobrl.checkpoint import RunDir
from blobrl.checkpoint.status import main as status_main
from blobrl.launch import runner

from .run_dirs import (
    GAMES_PER_ITERATION,
    ITERATIONS,
    ROOT,
    build_finished_run,
    launch_here,
    logged_games,
    make_unwritable,
    readable_games,
    snapshot,
    tiny_config_file,
)

# What the finished iteration 1 of the tiny run leaves (checked against the real directory).
FILES = (
    "games.log",
    "config.json",
    "checkpoints/iter_000000.pt",
    "checkpoints/iter_000000.pt.sha256",
    "checkpoints/iter_000001.pt",
    "checkpoints/iter_000001.pt.sha256",
    "checkpoints/latest.json",
    "checkpoints/best_model.pt",
    "checkpoints/best_model.pt.sha256",
    "checkpoints/best.json",
)
FOLDERS = (".", "checkpoints")
TRUNCATIONS = ("0", "1", "50%", "-1")  # new length: bytes, or a share of the file, or less 1
FLIPS = (("0", 0xFF), ("10", 0x01), ("50%", 0x01), ("-2", 0x01))  # (offset, xor)
SHAPES = ("42", "[]", "{}", "null", '"text"', '{"replay": 5}', '{"replay": {"capacity": "big"}}',
          '{"iteration": "one"}')  # fmt: skip


@dataclass(frozen=True)
class Mutant:
    target: str  # a file of FILES, or a folder of FOLDERS
    kind: str  # delete, truncate, flip, garbage, json, unwritable
    arg: str = ""

    @property
    def id(self) -> str:
        return f"{self.target}:{self.kind}" + (f"={self.arg}" if self.arg else "")

    @property
    def name(self) -> str:
        """What a refusal must name: the file, or the folder."""
        return Path(self.target).name if self.target != "." else "run"

    def apply(self, run_dir: Path):
        """Damage the copy at ``run_dir``; returns the Unwritable to undo, if any."""
        path = run_dir / self.target
        if self.kind == "delete":
            path.unlink()
        elif self.kind == "truncate":
            path.write_bytes(path.read_bytes()[: _at(self.arg, path.stat().st_size)])
        elif self.kind == "flip":
            offset, xor = self.arg.split("^")
            data = bytearray(path.read_bytes())
            data[_at(offset, len(data))] ^= int(xor, 16)
            path.write_bytes(bytes(data))
        elif self.kind == "garbage":
            size = max(path.stat().st_size, 16)
            path.write_bytes(random.Random(self.target).randbytes(size))
        elif self.kind == "json":
            path.write_text(self.arg)
        elif self.kind == "unwritable":
            made = make_unwritable(path)
            if made is None:
                pytest.skip(
                    "running as root without a working chattr +i: nothing here can make a "
                    "file unwritable to this process (root ignores the mode bits)"
                )
            return made
        else:
            raise AssertionError(self.kind)
        return None


def _at(spec: str, size: int) -> int:
    if spec.endswith("%"):
        return size * int(spec[:-1]) // 100
    value = int(spec)
    return max(0, size + value) if value < 0 else min(value, max(size - 1, 0))


def all_mutants() -> list[Mutant]:
    out: list[Mutant] = []
    for target in FILES:
        out.append(Mutant(target, "delete"))
        out += [Mutant(target, "truncate", at) for at in TRUNCATIONS]
        out += [Mutant(target, "flip", f"{at}^{xor:02x}") for at, xor in FLIPS]
        out.append(Mutant(target, "garbage"))
        if target.endswith(".json"):
            out += [Mutant(target, "json", shape) for shape in SHAPES]
        out.append(Mutant(target, "unwritable"))
    out += [Mutant(folder, "unwritable") for folder in FOLDERS]
    return out


MUTANTS = all_mutants()
# Resumed to the end by default (the rest with -m slow): one of each way a damaged directory
# is continued.
RESUMED = {
    "config.json:delete",
    "config.json:json={}",
    "games.log:truncate=50%",
    "games.log:flip=-2^01",
    "checkpoints/iter_000001.pt:delete",
    "checkpoints/best.json:delete",
    "checkpoints/latest.json:garbage",
}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """(config, changed-seed config, run directory) of the finished first iteration."""
    root = tmp_path_factory.mktemp("base")
    config, run_dir = build_finished_run(root)
    found = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())
    assert found == sorted(FILES), "the run directory changed: update FILES"
    seed = json.loads((run_dir / "config.json").read_text())["run"]["seed"]
    return config, _config_with_seed(root, seed + 1), run_dir


def _config_with_seed(root: Path, seed: int) -> Path:
    folder = root / "other-seed"
    folder.mkdir(exist_ok=True)
    # The same file name (run.name) as the run's, so that only the seed differs.
    return tiny_config_file(folder, **{"run.seed": seed})


@pytest.fixture
def mutated(base, tmp_path, request):
    """A damaged copy of the base run: (mutant, run directory, config, changed-seed config)."""
    mutant: Mutant = request.param
    config, other, source = base
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    undo = mutant.apply(run_dir)
    try:
        yield mutant, run_dir, config, other
    finally:
        if undo is not None:
            undo.undo()


def run_status(run_dir: Path, *flags: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = status_main([str(run_dir), *flags], out=out, err=err)
    return code, err.getvalue()


def run_preflight(config: Path, run_dir: Path, *flags: str) -> tuple[int, str]:
    """The launcher's answer before it starts Ray: 0 (it would go on) or 2 with the message."""
    args = runner.build_parser().parse_args([str(config), "--run-dir", str(run_dir), *flags])
    try:
        runner.preflight(args, runner.load(args))
    except runner.BadInput as exc:
        return runner.EXIT_BAD_INPUT, str(exc)
    return runner.EXIT_OK, ""


def open_as_a_resume_does(run_dir: Path) -> None:
    """What the Coordinator reads when it resumes: the journal (the log opened for appending),
    every game, the latest checkpoint and the best model."""
    from blobrl.actors.journal import RunJournal

    journal = RunJournal(run_dir, keep_all=True)
    try:
        journal.replay_games(lambda record: None)
        journal.latest_checkpoint()
        journal.best_weights()
    finally:
        journal.close()


def check_resumed(run_dir: Path, kept: list[tuple[int, int]], config: Path) -> None:
    """The resumed run finished: the games kept before it are first, in order, each once, and
    iteration 2 was played in full; config.json is the run's config."""
    after = logged_games(run_dir)
    assert after[: len(kept)] == kept
    assert len(after) == len(set(after))
    assert sorted(g for it, g in after if it == ITERATIONS) == list(range(GAMES_PER_ITERATION))
    args = runner.build_parser().parse_args([str(config)])
    assert json.loads((run_dir / "config.json").read_text()) == runner.load(args).to_dict()
    code, err = run_status(run_dir, "--json")
    assert code == 0, err


@pytest.mark.parametrize("mutated", MUTANTS, ids=[m.id for m in MUTANTS], indirect=True)
def test_a_damaged_run_directory_is_refused_naming_the_file_or_resumes(mutated):
    mutant, run_dir, config, other_seed = mutated
    before = snapshot(run_dir)

    status, status_err = run_status(run_dir)
    assert status in (0, 2), status_err
    if status == 2:
        assert mutant.name in status_err, status_err
    assert snapshot(run_dir) == before

    resume, resume_err = run_preflight(config, run_dir, "--resume")
    assert snapshot(run_dir) == before
    if resume == 2:
        assert mutant.name in resume_err, resume_err
    assert status == 0 or resume == 2, "status refused what a resume would continue"
    if mutant.kind == "unwritable":
        assert resume == 2, f"{mutant.target} cannot be written, and the resume went on"

    # Never a silent change of config, whatever the damage: another seed is refused.
    changed, _ = run_preflight(other_seed, run_dir, "--resume")
    assert changed == 2, "a resume with another run.seed went on"
    assert snapshot(run_dir) == before

    if resume == 0:
        open_as_a_resume_does(run_dir)  # it truncates a torn tail: the last check


@pytest.mark.parametrize(
    "mutated",
    [m for m in MUTANTS if m.id in RESUMED],
    ids=[m.id for m in MUTANTS if m.id in RESUMED],
    indirect=True,
)
def test_a_damaged_run_directory_that_a_resume_continues_finishes_with_every_game_once(mutated):
    _, run_dir, config, _ = mutated
    kept = readable_games(run_dir)
    assert kept is not None
    code, message = launch_here(config, run_dir, "--resume")
    assert code == 0, message
    check_resumed(run_dir, kept, config)


@pytest.mark.parametrize("config_json", ["deleted", "[]", "{}", "rewritten for the new seed"])
def test_the_schedule_guard_reads_the_checkpoint_whatever_config_json_says(
    base, tmp_path, config_json
):
    _, other_seed, source = base
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    path = run_dir / "config.json"
    if config_json == "deleted":
        path.unlink()
    elif config_json == "rewritten for the new seed":
        args = runner.build_parser().parse_args([str(other_seed)])
        path.write_text(json.dumps(runner.load(args).to_dict()))
    else:
        path.write_text(config_json)
    before = snapshot(run_dir)
    code, message = run_preflight(other_seed, run_dir, "--resume")
    assert code == 2 and snapshot(run_dir) == before
    if config_json in ("deleted", "{}", "rewritten for the new seed"):
        assert "run.seed" in message and "iter_000001.pt" in message, message
        assert "--force-schedule" in message
        assert run_preflight(other_seed, run_dir, "--resume", "--force-schedule")[0] == 0
    else:
        assert "config.json" in message
    assert snapshot(run_dir) == before


def test_a_run_that_records_its_config_nowhere_needs_force_schedule(base, tmp_path):
    config, _, source = base
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    (run_dir / "config.json").unlink()
    shutil.rmtree(run_dir / "checkpoints")
    code, message = run_preflight(config, run_dir, "--resume")
    assert code == 2 and "config.json: missing" in message and "--force-schedule" in message
    assert run_preflight(config, run_dir, "--resume", "--force-schedule")[0] == 0


# ---- the real commands ---------------------------------------------------------------------


def command(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def check_real_commands(mutant: Mutant, run_dir: Path, config: Path, other_seed: Path) -> None:
    """``python -m blobrl.status`` and ``python -m blobrl.launch --resume`` on Ray."""
    before = snapshot(run_dir)
    kept = readable_games(run_dir)
    status = command("blobrl.status", str(run_dir))
    assert status.returncode in (0, 2) and "Traceback" not in status.stderr, status.stderr
    if status.returncode == 2:
        assert mutant.name in status.stderr
    changed = command("blobrl.launch", str(other_seed), "--run-dir", str(run_dir), "--resume",
                      "--address", "local")  # fmt: skip
    assert changed.returncode == 2 and "Traceback" not in changed.stderr, changed.stderr
    assert snapshot(run_dir) == before
    resume = command("blobrl.launch", str(config), "--run-dir", str(run_dir), "--resume",
                     "--address", "local")  # fmt: skip
    out = resume.stdout + resume.stderr
    assert resume.returncode in (0, 2) and "Traceback" not in out, out
    if resume.returncode == 2:
        assert mutant.name in resume.stderr, resume.stderr
        assert snapshot(run_dir) == before
    else:
        assert "finished:" in resume.stdout, out
        assert kept is not None
        check_resumed(run_dir, kept, config)


# Slow (a whole launch on Ray): in the default run the same damage is resumed in-process by
# test_a_damaged_run_directory_that_a_resume_continues_finishes_with_every_game_once
# [config.json:delete], another seed refused by test_the_schedule_guard_reads_the_checkpoint_
# whatever_config_json_says[deleted], and the real command resumes on Ray in test_run_ray.py.
@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.parametrize(
    "mutated",
    [m for m in MUTANTS if m.id == "config.json:delete"],
    ids=["config.json:delete"],
    indirect=True,
)
def test_the_real_commands_resume_a_run_without_its_config_json(mutated):
    """``config.json`` is gone: the checkpoint's config is the one compared, another seed is
    refused, the same config resumes on Ray, and config.json is written again."""
    check_real_commands(*mutated)


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.parametrize("mutated", MUTANTS, ids=[m.id for m in MUTANTS], indirect=True)
def test_every_mutant_through_the_real_commands(mutated):
    check_real_commands(*mutated)


# ---- config.json of any JSON value -----------------------------------------------------------

json_keys = st.sampled_from(["replay", "capacity", "run", "game_mix", "seed"]) | st.text(max_size=6)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(json_keys, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values)
def test_status_of_any_json_as_config_json_is_a_summary_or_exit_2(tmp_path_factory, value):
    run_dir = RunDir(tmp_path_factory.mktemp("json")).create()
    run_dir.config_path.write_text(json.dumps(value))
    code, err = run_status(run_dir.path)
    assert code in (0, 2)
    if code == 2:
        assert "config.json" in err
