"""The evaluate and play commands: output, JSON and exit codes; a scripted human game."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from blobrl.agents import HeuristicAgent
from blobrl.agents.terminal import HUMAN, TerminalGame
from blobrl.evaluation.cli import main as evaluate
from blobrl.game import BID_BASE, card_name, new_game


def test_evaluate_prints_a_table(capsys):
    code = evaluate(["--agent", "heuristic", "--opponents", "random", "--deals", "8"])
    out = capsys.readouterr().out
    assert code == 0
    for word in ("agent", "opponents", "difference", "exact bid", "95%"):
        assert word in out


def test_evaluate_json(capsys):
    argv = ["--agent", "heuristic", "--opponents", "random", "--deals", "6", "--players", "3"]
    assert evaluate([*argv, "--cards", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["deals"] == 6 and data["plays"] == 18
    assert set(data["agent"]) >= {"mean_score", "ci95", "exact_rate", "mean_bid_error"}


def test_evaluate_in_parallel_workers_gives_the_one_process_result(capsys):
    argv = ["--agent", "ismcts:40", "--opponents", "heuristic", "--deals", "6", "--json"]
    assert evaluate(argv) == 0
    single = json.loads(capsys.readouterr().out)
    assert evaluate([*argv, "--workers", "2"]) == 0
    parallel = json.loads(capsys.readouterr().out)
    for key in ("deals", "plays", "diff_mean", "better", "worse", "tied"):
        assert parallel[key] == pytest.approx(single[key]), key
    assert parallel["agent"] == pytest.approx(single["agent"])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--agent", "heuristix", "--opponents", "random"], "--agent"),
        (["--agent", "heuristic", "--opponents", "nope.pt"], "--opponents"),
        (["--agent", "heuristic", "--opponents", "random", "--players", "7", "--cards", "8"],
         "56 cards"),
        (["--agent", "heuristic", "--opponents", "random", "--deals", "0"], "--deals"),
        (["--agent", "heuristic", "--opponents", "random", "--workers", "0"], "--workers"),
        (["--agent", "heuristic", "--opponents", "random", "--players", "x"], "invalid int"),
        (["--agent", "heuristic"], "--opponents"),
    ],
)  # fmt: skip
def test_evaluate_bad_input_exits_2_naming_the_problem(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(evaluate(argv))
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err


def _env() -> dict[str, str]:
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


def test_evaluate_module_exit_codes():
    ok = subprocess.run(
        [sys.executable, "-m", "blobrl.evaluate", "--agent", "heuristic", "--opponents",
         "random", "--deals", "3", "--json"],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "blobrl.evaluate", "--agent", "x", "--opponents", "random"],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "unknown agent spec" in bad.stderr


def _script(players: int, cards: int, seed: int) -> tuple[str, str]:
    """Replay the game the play command will deal and write the human's keystrokes: the
    heuristic's choices, with an illegal card (one that does not follow suit) tried first."""
    state = new_game(players, cards, seed=seed)
    bot, lines, refused = HeuristicAgent(), [], ""
    while not state.is_terminal():
        action = bot.act(state)
        if state.current_player == HUMAN:
            if action >= BID_BASE:
                lines.append(str(action - BID_BASE))
            else:
                off = [c for c in state.hand(HUMAN) if c not in state.legal_actions()]
                if off and not refused:
                    refused = card_name(off[0])
                    lines.append(refused)
                lines.append(card_name(action))
        state.apply(action)
    return "\n".join(lines) + "\n", refused


def test_play_refuses_an_illegal_card_and_finishes_the_hand():
    for seed in range(50):  # a deal where the human must follow suit at some point
        script, refused = _script(4, 5, seed)
        if refused:
            break
    assert refused
    run = subprocess.run(
        [sys.executable, "-m", "blobrl.play", "--players", "4", "--cards", "5", "--seed",
         str(seed)],
        input="zz\n" + script, capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Not allowed: 'zz' is not a bid" in run.stdout
    assert "Not allowed: you must follow" in run.stdout
    assert "Hand over:" in run.stdout
    assert "Your hand:" in run.stdout and "trick 5 to" in run.stdout


class _FirstOption(io.StringIO):
    """Keyboard stand-in: answers with the first legal move the game last listed."""

    def __init__(self, screen: io.StringIO) -> None:
        super().__init__()
        self.screen = screen

    def readline(self, size: int = -1) -> str:
        for line in reversed(self.screen.getvalue().splitlines()):
            if line.startswith(("Your bid: ", "You may play: ")):
                return line.split(": ", 1)[1].split()[0] + "\n"
        return ""


def test_full_game_plays_every_round_with_running_totals():
    screen = io.StringIO()
    game = TerminalGame(HeuristicAgent(), stdin=_FirstOption(screen), stdout=screen)
    totals = game.play_full(3, 2, seed=0)
    text = screen.getvalue()
    assert len(totals) == 3
    assert text.count("Running totals:") == 3  # rounds of 2, 1, 2 cards
    assert "Final scores:" in text
