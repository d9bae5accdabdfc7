"""Loading and validating configs: every error names the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from blobrl.config import ConfigError, config_from_dict, load_config
from blobrl.mcts.settings import SearchSettings

from .trial_configs import minimal, write

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("name", ["aggressive", "conservative", "smoke"])
def test_shipped_configs_load_and_validate(name):
    config = load_config(CONFIGS / f"{name}.yaml")
    assert config.run.name == name
    assert config.schedule.phases[0].first == 1
    assert config.schedule.phases[-1].last == config.run.iterations


def test_aggressive_follows_the_original_curriculum():
    config = load_config(CONFIGS / "aggressive.yaml")
    plan = [
        (p.first, p.last, p.determinizations, p.simulations, p.games_per_iteration)
        for p in config.schedule.phases
    ]
    assert plan == [
        (1, 50, 1, 15, 5000),
        (51, 150, 2, 25, 8000),
        (151, 300, 3, 35, 10000),
        (301, 450, 4, 45, 12000),
        (451, 500, 5, 50, 15000),
    ]
    assert config.learner.lr_max == pytest.approx(1e-3)
    assert config.learner.lr_min == pytest.approx(1e-5)
    assert config.learner.warmup_iterations == 10
    mix = {e.deal: e.weight for e in config.game_mix}
    assert mix[(5, 7)] == 0.5 and mix[(4, 6)] == 0.15
    assert mix[(4, 7)] == mix[(6, 6)] == mix[(6, 7)] == 0.1
    assert sum(mix.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("iteration", "det", "sims", "games"),
    [
        (1, 1, 15, 5000),
        (50, 1, 15, 5000),
        (51, 2, 25, 8000),
        (150, 2, 25, 8000),
        (151, 3, 35, 10000),
        (500, 5, 50, 15000),
    ],
)
def test_schedule_lookup_at_phase_boundaries(iteration, det, sims, games):
    config = load_config(CONFIGS / "aggressive.yaml")
    phase = config.phase_at(iteration)
    assert (phase.determinizations, phase.simulations, phase.games_per_iteration) == (
        det,
        sims,
        games,
    )
    search = config.search_at(iteration)
    assert isinstance(search, SearchSettings)
    assert (search.determinizations, search.simulations) == (det, sims)
    assert search.c_puct == config.search.c_puct


@pytest.mark.parametrize("iteration", [0, 501])
def test_iterations_outside_the_run_have_no_phase(iteration):
    config = load_config(CONFIGS / "aggressive.yaml")
    with pytest.raises(ValueError, match=r"1\.\.500"):
        config.phase_at(iteration)


def test_phase_search_overrides_apply_over_the_defaults(tmp_path):
    data = minimal()
    data["search"] = {"c_puct": 2.0, "temperature_moves": 4}
    data["schedule"]["phases"][1]["search"] = {"root": "gumbel", "c_puct": 1.0}
    config = load_config(write(tmp_path, data))
    assert config.search_at(1).c_puct == 2.0 and config.search_at(1).root == "puct"
    assert config.search_at(51).root == "gumbel" and config.search_at(51).c_puct == 1.0
    assert config.search_at(51).temperature_moves == 4
    assert config.search_at(151).c_puct == 2.0


def test_evaluation_searches_without_noise_unless_told(tmp_path):
    data = minimal()
    data["evaluation"] = {"search": {"simulations": 64}}
    config = load_config(write(tmp_path, data))
    assert config.evaluation_search.simulations == 64
    assert config.evaluation_search.dirichlet_weight == 0.0
    assert config.evaluation_search.temperature == 0.0


def error_of(tmp_path, data) -> ConfigError:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert info.value.key in message
    return info.value


def test_overlapping_phases_name_the_iterations(tmp_path):
    data = minimal()
    data["schedule"]["phases"][1]["first"] = 40
    err = error_of(tmp_path, data)
    assert err.key == "schedule.phases[1].first"
    assert "overlaps" in err.reason and "40-50" in err.reason


def test_a_gap_between_phases_names_the_missing_iterations(tmp_path):
    data = minimal()
    data["schedule"]["phases"][1]["first"] = 60
    err = error_of(tmp_path, data)
    assert err.key == "schedule.phases[1].first"
    assert "51-59" in err.reason


def test_a_schedule_ending_before_the_run_is_a_gap(tmp_path):
    data = minimal()
    data["schedule"]["phases"][2]["last"] = 480
    err = error_of(tmp_path, data)
    assert err.key == "schedule.phases[2].last"
    assert "481-500" in err.reason


@pytest.mark.parametrize(
    ("iterations", "spans"),
    [(400, [(1, 50), (51, 150), (151, 400)]), (51, [(1, 50), (51, 51)]), (12, [(1, 12)])],
)
def test_a_shorter_run_follows_the_start_of_the_schedule(tmp_path, iterations, spans):
    config = load_config(write(tmp_path, minimal()), {"run.iterations": iterations})
    assert [(p.first, p.last) for p in config.schedule.phases] == spans
    assert config.to_dict()["schedule"]["phases"][-1]["last"] == iterations
    assert config.total_games == config.games_before(iterations + 1)


def test_the_first_phase_must_start_at_iteration_one(tmp_path):
    data = minimal()
    data["schedule"]["phases"][0]["first"] = 3
    err = error_of(tmp_path, data)
    assert err.key == "schedule.phases[0].first" and "1-2" in err.reason


def test_a_misspelt_key_is_unknown_and_a_fix_is_suggested(tmp_path):
    data = minimal()
    phase = data["schedule"]["phases"][2]
    phase["simulatons"] = phase.pop("simulations")
    err = error_of(tmp_path, data)
    assert err.key == "schedule.phases[2].simulatons"
    assert "unknown key" in err.reason and "'simulations'" in err.reason


def test_an_unknown_section_is_rejected(tmp_path):
    data = minimal()
    data["replay_buffer"] = {"capacity": 10}
    err = error_of(tmp_path, data)
    assert err.key == "replay_buffer" and "'replay'" in err.reason


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("simulations", "many", "expected int"),
        ("simulations", 2.5, "expected int"),
        ("determinizations", True, "expected int"),
    ],
)
def test_a_wrong_type_names_the_key(tmp_path, key, value, expected):
    data = minimal()
    data["schedule"]["phases"][2][key] = value
    err = error_of(tmp_path, data)
    assert err.key == f"schedule.phases[2].{key}"
    assert expected in err.reason


def test_out_of_range_values_are_rejected(tmp_path):
    data = minimal()
    data["schedule"]["phases"][2]["simulations"] = 0
    err = error_of(tmp_path, data)
    assert err.key == "schedule.phases[2].simulations" and ">= 1" in err.reason


def test_errors_of_other_packages_records_name_their_field(tmp_path):
    data = minimal()
    data["learner"] = {"lr_min": 1.0e-2, "lr_max": 1.0e-3}
    err = error_of(tmp_path, data)
    assert err.key == "learner.lr_min"
    data = minimal()
    data["search"] = {"root": "alpha"}
    err = error_of(tmp_path, data)
    assert err.key == "search.root" and "'alpha'" in err.reason


@pytest.mark.parametrize("name", ["aggressive", "conservative", "smoke"])
def test_shipped_configs_set_their_data_reuse(name):
    text = (CONFIGS / f"{name}.yaml").read_text()
    assert "replay_ratio:" in text and "steps_per_iteration" not in text
    config = load_config(CONFIGS / f"{name}.yaml")
    assert config.learner.replay_ratio is not None and config.learner.steps_per_iteration is None


def test_the_replay_ratio_defaults_unless_a_step_count_is_fixed(tmp_path):
    from blobrl.learner.config import DEFAULT_REPLAY_RATIO

    config = load_config(write(tmp_path, minimal()))
    assert config.learner.replay_ratio == DEFAULT_REPLAY_RATIO
    assert config.learner.steps_per_iteration is None
    data = minimal()
    data["learner"] = {"replay_ratio": 2}  # an int reads as the float it is
    assert load_config(write(tmp_path, data)).learner.replay_ratio == 2.0
    data["learner"] = {"steps_per_iteration": 50}
    fixed = load_config(write(tmp_path, data))
    assert fixed.learner.replay_ratio is None and fixed.learner.steps_per_iteration == 50
    assert config_from_dict(fixed.to_dict(), environ={}) == fixed


@pytest.mark.parametrize(
    ("learner", "key", "expected"),
    [
        ({"replay_ratio": 0}, "replay_ratio", "must be a number > 0"),
        ({"replay_ratio": -1.5}, "replay_ratio", "must be a number > 0"),
        ({"replay_ratio": float("nan")}, "replay_ratio", "must be a number > 0"),
        ({"replay_ratio": "lots"}, "replay_ratio", "expected float or null"),
        ({"replay_ratio": 2.0, "steps_per_iteration": 100}, "replay_ratio", "exclusive"),
        ({"steps_per_iteration": 0}, "steps_per_iteration", ">= 1"),
    ],
)
def test_bad_data_reuse_settings_name_the_key(tmp_path, learner, key, expected):
    data = minimal()
    data["learner"] = learner
    err = error_of(tmp_path, data)
    assert err.key == f"learner.{key}" and expected in err.reason


def test_weights_must_sum_to_one(tmp_path):
    data = minimal()
    data["game_mix"][2]["weight"] = 0.1
    err = error_of(tmp_path, data)
    assert err.key == "game_mix" and "sum to 0.9" in err.reason


def test_a_deal_that_does_not_fit_a_pack_is_rejected(tmp_path):
    data = minimal()
    data["game_mix"][2] = {"players": 7, "cards": 8, "weight": 0.2}
    err = error_of(tmp_path, data)
    assert err.key == "game_mix[2]"
    assert "7 players x 8 cards needs 56 cards" in err.reason


def test_a_deal_listed_twice_is_rejected(tmp_path):
    data = minimal()
    data["game_mix"][2] = {"players": 5, "cards": 7, "weight": 0.2}
    err = error_of(tmp_path, data)
    assert err.key == "game_mix[2]" and "game_mix[0]" in err.reason


def test_literal_and_auto_fields(tmp_path):
    data = minimal()
    data["selfplay"] = {"actors": 6}
    assert load_config(write(tmp_path, data)).selfplay.actors == 6
    data["selfplay"] = {"actors": "many"}
    err = error_of(tmp_path, data)
    assert err.key == "selfplay.actors" and "'auto'" in err.reason
    data["selfplay"] = {"actors": 0}
    assert error_of(tmp_path, data).key == "selfplay.actors"
    data = minimal()
    data["inference"] = {"device": "tpu"}
    err = error_of(tmp_path, data)
    assert err.key == "inference.device" and "'cuda'" in err.reason


def test_missing_required_keys_are_named(tmp_path):
    data = minimal()
    del data["schedule"]["phases"][0]["games_per_iteration"]
    err = error_of(tmp_path, data)
    assert err.key == "schedule.phases[0].games_per_iteration" and "missing" in err.reason


def test_bad_yaml_and_missing_files_name_the_file(tmp_path):
    err = error_of(tmp_path, "run: [unclosed\n")
    assert "not valid YAML" in err.reason
    with pytest.raises(ConfigError, match=r"nowhere\.yaml"):
        load_config(tmp_path / "nowhere.yaml")


def test_scientific_notation_reads_as_a_number(tmp_path):
    text = write(tmp_path, minimal()).read_text() + "learner: {lr_max: 2e-3, lr_min: 1e-5}\n"
    config = load_config(write(tmp_path, text))
    assert config.learner.lr_max == pytest.approx(2e-3)


def test_overrides_set_dotted_keys_and_are_validated(tmp_path):
    path = write(tmp_path, minimal())
    config = load_config(
        path,
        {
            "schedule.phases[2].simulations": 64,
            "run.seed": "11",  # command-line text is read as YAML
            "replay.capacity": 5000,
            "replay.min_positions_to_train": 100,
        },
    )
    assert config.search_at(500).simulations == 64
    assert config.run.seed == 11
    assert config.replay.capacity == 5000
    with pytest.raises(ConfigError) as info:
        load_config(path, {"replay.capacity": "lots"})
    assert info.value.key == "replay.capacity" and str(path) in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config(path, {"schedule.phases[7].simulations": 3})
    assert "no list item [7]" in info.value.reason


def test_run_name_defaults_to_the_file_stem(tmp_path):
    config = load_config(write(tmp_path, minimal(), name="my-run.yaml"))
    assert config.run.name == "my-run"


def test_api_beyond_loopback_needs_a_token(tmp_path):
    data = minimal()
    data["api"] = {"host": "0.0.0.0"}
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert info.value.key == "api.token"
    config = load_config(path, environ={"BLOBRL_API_TOKEN": "s3cret"})
    assert config.api.token == "s3cret"
    assert config.to_dict()["api"]["token"] != "s3cret"


def test_to_dict_round_trips_and_is_plain_data(tmp_path):
    import json

    data = minimal()
    data["schedule"]["phases"][0]["search"] = {"root": "gumbel"}
    config = load_config(write(tmp_path, data), environ={})
    plain = config.to_dict()
    json.dumps(plain)
    assert config_from_dict(plain, environ={}) == config


def test_config_is_frozen(tmp_path):
    import dataclasses

    config = load_config(write(tmp_path, minimal()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.run.iterations = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.schedule.phases[0].search["c_puct"] = 3.0  # type: ignore[index]


def test_games_before_counts_the_games_of_earlier_iterations(tmp_path):
    config = load_config(write(tmp_path, minimal()))
    assert config.games_before(1) == 0
    assert config.games_before(51) == 50 * 5000
    assert config.games_before(53) == 50 * 5000 + 2 * 8000
    assert config.games_before(501) == config.total_games


def test_game_groups_default_to_one_in_the_actor_and_several_behind_a_server(tmp_path):
    data = minimal()
    selfplay = load_config(write(tmp_path, data)).selfplay
    assert selfplay.game_groups == "auto"
    assert selfplay.groups(server=False) == 1 and selfplay.groups(server=True) >= 2
    data["selfplay"] = {"game_groups": 3, "games_in_flight": 16}
    selfplay = load_config(write(tmp_path, data)).selfplay
    assert selfplay.groups(server=False) == selfplay.groups(server=True) == 3
    assert selfplay.games_per_actor(server=True) == 48
    for bad in (0, 65, "two"):
        data["selfplay"] = {"game_groups": bad}
        assert error_of(tmp_path, data).key == "selfplay.game_groups"


def test_max_batch_defaults_to_a_gpu_sized_batch_on_a_gpu_and_a_smaller_one_on_the_cpu(tmp_path):
    data = minimal()
    inference = load_config(write(tmp_path, data)).inference
    assert inference.max_batch == "auto"
    assert inference.batch_rows("cuda") == inference.batch_rows("cuda:1") == 8192
    assert inference.batch_rows("cpu") == 1024
    data["inference"] = {"max_batch": 300}
    inference = load_config(write(tmp_path, data)).inference
    assert inference.batch_rows("cuda") == inference.batch_rows("cpu") == 300
    for bad in (0, -5, "big"):
        data["inference"] = {"max_batch": bad}
        assert error_of(tmp_path, data).key == "inference.max_batch"
