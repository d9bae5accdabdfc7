"""Any config file the launcher is given (YAML documents of any shape, the smoke config with its
values replaced or removed, raw bytes): a schedule or exit 2 naming the file, never a
traceback (docs/design.md, exit codes). A small sample by default, the full sweep with
``-m slow``."""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from blobrl.launch import runner

ROOT = Path(__file__).resolve().parents[2]
SMOKE_TEXT = (ROOT / "configs" / "smoke.yaml").read_bytes()
SMOKE = yaml.safe_load(SMOKE_TEXT)
SECTIONS = [*sorted(SMOKE), "search", "network", "learner"]
KEYS = sorted({key for section in SMOKE.values() if isinstance(section, dict) for key in section})
DEFAULT = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FULL = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def launcher_answer(path: Path) -> tuple[int, str]:
    """``python -m blobrl.launch PATH --preview-schedule`` in this process: (exit code,
    stderr). Nothing it reads starts a run."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = runner.main([str(path), "--preview-schedule"])
    return code, err.getvalue()


def check(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    code, err = launcher_answer(path)
    assert code in (runner.EXIT_OK, runner.EXIT_BAD_INPUT), err
    if code == runner.EXIT_BAD_INPUT:
        assert str(path) in err, err


@pytest.fixture(scope="module")
def config_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzzed.yaml"


# ---- strategies ------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["auto", "cpu", "gumbel", "information_set", ".nan", "1e-3"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=16,
)
documents = values | st.dictionaries(st.sampled_from(SECTIONS) | st.text(max_size=8), values)


def _paths(node, prefix=()):
    """Every key path of the smoke config (list items by index)."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield (*prefix, key)
        if isinstance(value, dict | list):
            yield from _paths(value, (*prefix, key))


PATHS = list(_paths(SMOKE))


@st.composite
def smoke_edits(draw) -> object:
    """The smoke config with one to three of its values replaced or removed."""
    data = copy.deepcopy(SMOKE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        node = data
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]]  # still there after an earlier edit?
        except (KeyError, IndexError, TypeError):
            continue
        if draw(st.booleans()):
            del node[path[-1]]
        else:
            node[path[-1]] = draw(values)
    return data


@st.composite
def smoke_byte_edits(draw) -> bytes:
    """The smoke config's bytes with a few of them replaced."""
    data = bytearray(SMOKE_TEXT)
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def _dump(document) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True).encode()


# ---- YAML documents and raw bytes ------------------------------------------------------------

NAN_LR = {**SMOKE, "learner": {**SMOKE["learner"], "lr_max": float("nan")}}


@DEFAULT
@given(document=documents)
def test_yaml_documents(config_path, document):
    check(config_path, _dump(document))


@DEFAULT
@given(document=smoke_edits())
@example(document=NAN_LR)
def test_the_smoke_config_edited(config_path, document):
    check(config_path, _dump(document))


@DEFAULT
@given(content=st.binary(max_size=400) | smoke_byte_edits())
@example(content=b"\xff\xfe\x00run: {}")
@example(content=b"run: " + b"[" * 5000 + b"]" * 5000)
def test_raw_bytes(config_path, content):
    check(config_path, content)


@pytest.mark.slow
@FULL
@given(document=documents)
def test_yaml_documents_full(config_path, document):
    check(config_path, _dump(document))


@pytest.mark.slow
@FULL
@given(document=smoke_edits())
def test_the_smoke_config_edited_full(config_path, document):
    check(config_path, _dump(document))


@pytest.mark.slow
@FULL
@given(content=st.binary(max_size=2000) | smoke_byte_edits())
def test_raw_bytes_full(config_path, content):
    check(config_path, content)


# ---- the cases found by hand ----------------------------------------------------------------


def test_a_binary_config_exits_2_naming_the_file(config_path):
    config_path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    code, err = launcher_answer(config_path)
    assert code == 2 and f"{config_path}: not UTF-8 text (byte 0" in err


def test_a_directory_given_as_the_config_is_named_a_directory(tmp_path):
    code, err = launcher_answer(tmp_path)
    assert code == 2 and f"{tmp_path}: a directory, not a config file" in err


def test_nan_is_reported_under_its_own_key(config_path):
    config_path.write_bytes(_dump(NAN_LR))
    code, err = launcher_answer(config_path)
    assert code == 2 and "learner.lr_max: learner.lr_max must be a number > 0, got nan" in err
    assert "lr_min" not in err


@pytest.mark.parametrize(
    ("section", "key"), [("inference", "max_wait_ms"), ("checkpoint", "min_free_disk_gb")]
)
def test_nan_passes_no_range_check(config_path, section, key):
    config_path.write_bytes(_dump({**SMOKE, section: {**SMOKE[section], key: float("nan")}}))
    code, err = launcher_answer(config_path)
    assert code == 2 and f"{section}.{key}: expected a number, got .nan" in err, err


def test_yaml_nested_too_deeply_exits_2(config_path):
    config_path.write_bytes(b"[" * 5000 + b"]" * 5000)
    code, err = launcher_answer(config_path)
    assert code == 2 and "nested too deeply" in err, err
