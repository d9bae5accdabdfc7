"""A user's agent (``package.module:factory``) that fails is a bad spec: exit 2 naming the spec,
what was raised and where, in blobrl.evaluate and blobrl.play; never a traceback."""

from __future__ import annotations

import textwrap

import pytest

from blobrl.agents import AgentSpecError, load
from blobrl.evaluation.cli import main as evaluate
from blobrl.play import main as play

MODULES = {
    # the factory raises
    "factory_raises": """
        def make():
            raise ValueError("no agent today")
    """,
    # importing the module raises something other than ImportError
    "import_raises": """
        SETTINGS = {}
        LEVEL = SETTINGS["level"]
    """,
    "import_syntax_error": """
        def make(:
            pass
    """,
}
EXPECTED = {
    "factory_raises": ("make() raised ValueError: no agent today", "factory_raises.py:2"),
    "import_raises": (
        "importing module 'import_raises' raised KeyError: 'level'",
        "import_raises.py:2",
    ),
    "import_syntax_error": ("importing module 'import_syntax_error' raised SyntaxError", ""),
}


@pytest.fixture
def user_modules(tmp_path, monkeypatch):
    for name, source in MODULES.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source).lstrip("\n"))
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_load_names_what_the_users_code_raised(user_modules, module):
    what, where = EXPECTED[module]
    with pytest.raises(AgentSpecError) as caught:
        load(f"{module}:make")
    assert f"'{module}:make'" in str(caught.value) and what in str(caught.value)
    assert where in str(caught.value)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_evaluate_exits_2_for_a_failing_factory(user_modules, module, capsys):
    code = evaluate(["--agent", f"{module}:make", "--opponents", "random", "--deals", "2"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--agent: '{module}:make'" in err and EXPECTED[module][0] in err


@pytest.mark.parametrize("module", sorted(MODULES))
def test_play_exits_2_for_a_failing_factory(user_modules, module, capsys):
    code = play(["--model", f"{module}:make"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"'{module}:make'" in err and EXPECTED[module][0] in err
