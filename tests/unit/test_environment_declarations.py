"""@pypi / @conda declarations: validation, merging with the flow's _base, and the lock record."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from headwater import FlowSpec, conda, conda_base, pypi, pypi_base, step
from headwater.decorators.registry import parse_with, step_policy
from headwater.environments.declaration import EnvDeclaration, requirement, step_declarations
from headwater.environments.decorators import python_version
from headwater.environments.interpreters import find_interpreter
from headwater.environments.lock import EnvLock, run_record, step_lock
from headwater.exceptions import FlowDefinitionError, StepEnvironmentError


def _declared(flow_cls: type) -> dict[str, EnvDeclaration]:
    policies = {name: step_policy(getattr(flow_cls, name)) for name in ("start", "mid", "end")}
    return step_declarations(flow_cls, policies)


def _flow(base: Sequence[Callable[[Any], Any]] = (), **steps: Sequence[Callable[[Any], Any]]
          ) -> type:
    """Flow ``F``: ``start -> mid -> end``, each step under the decorators ``steps`` names for
    it and the class under ``base`` (both written outermost first, as in a flow's source): the
    flow each test below declares, without writing the same three steps out each time."""
    def start(self: Any) -> None:
        self.next(self.mid)

    def mid(self: Any) -> None:
        self.next(self.end)

    def end(self: Any) -> None:
        pass

    body: dict[str, Any] = {"__module__": __name__, "__qualname__": "F"}
    for func in (start, mid, end):
        decorated = step(func)
        for decorator in reversed(steps.get(func.__name__, ())):
            decorated = decorator(decorated)
        body[func.__name__] = decorated
    cls: Any = type("F", (FlowSpec,), body)
    for decorator in reversed(base):
        cls = decorator(cls)
    return cls


def test_step_packages_add_to_and_override_the_base():
    F = _flow([pypi_base(packages={"six": "1.16.0", "tabulate": "0.8.0"}, python="3.11")],
              mid=[pypi(packages={"tabulate": "0.9.0"}, python="3.12")],
              end=[pypi(disabled=True)])
    found = _declared(F)
    assert found["start"] == EnvDeclaration("pypi", "3.11", (("six", "1.16.0"), ("tabulate", "0.8.0")))
    assert found["mid"] == EnvDeclaration("pypi", "3.12", (("six", "1.16.0"), ("tabulate", "0.9.0")))
    assert "end" not in found  # disabled: the flow's own Python
    assert found["mid"].requirements() == ["six==1.16.0", "tabulate==0.9.0"]


def test_without_any_declaration_no_step_has_an_environment():
    assert _declared(_flow()) == {}


def test_conda_libraries_are_packages_and_channels_are_kept():
    found = _declared(_flow([conda_base(python="3.11", channels=["file:///tmp/chan"])],
                            start=[conda(libraries={"numpy": "1.26"})]))
    assert found["start"].packages == (("numpy", "1.26"),)
    assert found["start"].channels == ("file:///tmp/chan",)
    assert found["mid"].packages == () and found["mid"].kind == "conda"


def test_conda_libraries_merge_into_packages_and_packages_win_on_a_clash():
    """What Metaflow's ``plugins/conda/test_conda_decorator_unit.py`` checks on its decorator
    classes, seen through the declarations a run builds: on the step and on the flow alike."""
    found = _declared(_flow(
        [conda_base(packages={"pandas": "2.2"}, libraries={"pandas": "2.1", "scipy": "1.13"})],
        start=[conda(packages={"numpy": "2.4.3"}, libraries={"numpy": "2.4.1", "scipy": "1.7"})]))
    assert dict(found["start"].packages) == {"pandas": "2.2", "numpy": "2.4.3", "scipy": "1.7"}
    assert dict(found["mid"].packages) == {"pandas": "2.2", "scipy": "1.13"}


def test_conda_spellings_of_a_python_version_name_that_version():
    """Metaflow flows write ``python="3.10.*"`` (as conda does); headwater reads it as 3.10."""
    found = _declared(_flow([conda_base(python="3.10.*")], start=[conda(python="==3.12.1")],
                            end=[pypi(python=" 3.11 ")]))
    assert (found["start"].python, found["mid"].python, found["end"].python) == (
        "3.12.1", "3.10", "3.11")


def test_a_python_range_is_declared_without_its_spaces():
    """Ranges are accepted (docs/decisions.md, Environments); spaces do not make another
    environment, and a blank python is the flow's own (a parser's bare ``python`` line)."""
    found = _declared(_flow([pypi_base(python=">= 3.8, <3.13")], mid=[conda(python="~=3.11")],
                            end=[pypi(python=" ")]))
    assert (found["start"].python, found["mid"].python, found["end"].python) == (
        ">=3.8,<3.13", "~=3.11", ">=3.8,<3.13")


@pytest.mark.parametrize("python", ["3.10.*.*", ">=3.*", "~=3", "3.10|3.11", ">=3.8,", "three"])
def test_a_python_that_is_no_version_or_range_is_refused_with_the_fix(python):
    with pytest.raises(FlowDefinitionError, match=r"(?s)@conda_base: python must be a version "
                       r"such as '3.11' or a range.*fix: e.g. python='3.11'"):
        conda_base(python=python)


def test_a_range_the_running_python_satisfies_resolves_to_it():
    major, minor, micro = sys.version_info[:3]
    running = f"{major}.{minor}.{micro}"
    for wanted in (f">={major}.{minor}", f">=3.8,<{major}.{minor + 1}", f"~={major}.{minor}.0",
                   f"!={major}.{minor - 1}.*, >=3.10", f"=={major}.{minor}.*", "3.*"):
        assert find_interpreter(python_version(wanted)) == (sys.executable, running), wanted


def test_an_unsatisfiable_range_is_a_step_environment_error_with_the_fix():
    with pytest.raises(StepEnvironmentError, match=r"(?s)no Python installed on this machine "
                       r"satisfies python='>=3.8,<3.10'.*fix: install a Python in that range"):
        find_interpreter(python_version(">=3.8, <3.10"))


def _fake_python(folder: Path, name: str, version: str) -> None:
    """A program that answers the version probe as an interpreter of ``version`` would."""
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / name
    program.write_text(f"#!/bin/sh\necho {version}\n")
    program.chmod(0o755)


def test_otherwise_the_newest_installed_python_in_the_range_is_chosen(tmp_path, monkeypatch):
    """Candidates are pyenv's versions and pythonX.Y on PATH; the versions are far beyond any
    real one, so only these candidates can satisfy the range."""
    _fake_python(tmp_path / "pyenv" / "versions" / "3.97.2" / "bin", "python3.97", "3.97.2")
    _fake_python(tmp_path / "pyenv" / "versions" / "3.99.1" / "bin", "python3.99", "3.99.1")
    _fake_python(tmp_path / "bin", "python3.98", "3.98.0")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    find_interpreter.cache_clear()
    try:
        assert find_interpreter(">=3.97,<3.99") == (str(tmp_path / "bin" / "python3.98"), "3.98.0")
        assert find_interpreter("!=3.98.*,>=3.97") == (
            str(tmp_path / "pyenv" / "versions" / "3.99.1" / "bin" / "python3.99"), "3.99.1")
        with pytest.raises(StepEnvironmentError, match=r"found [0-9.]+, 3\.97\.2, 3\.98\.0, 3\.99\.1;"):
            find_interpreter(">=3.100")
    finally:
        find_interpreter.cache_clear()


@pytest.mark.parametrize(("name", "spec", "expected"), [
    ("six", "", "six"), ("six", "1.16.0", "six==1.16.0"), ("six", ">=1.10", "six>=1.10"),
    ("six", "~=1.16", "six~=1.16"),
])
def test_requirement_strings(name, spec, expected):
    assert requirement("pypi", name, spec) == expected


@pytest.mark.parametrize("options", [
    {"packages": ["six"]}, {"packages": {"six": 1}}, {"python": 3.11}, {"python": "three"},
    {"pakages": {}},
])
def test_bad_options_name_the_decorator(options):
    with pytest.raises(FlowDefinitionError, match="@pypi"):
        pypi(**options)


@pytest.mark.parametrize(("decorator", "packages", "phrase"), [
    (pypi, {"six\n--extra-index-url": ""}, "package name"),
    (pypi, {"six": "1.16.0\n-e /tmp/elsewhere"}, "version"),
    (pypi, {"-e /tmp/elsewhere": ""}, "package name"),
    (conda, {"six": "1.16\r"}, "version"),
    (pypi_base, {"six\x1b[2J": ""}, "package name"),
])
def test_a_package_that_would_add_a_line_or_an_option_to_the_resolver_is_refused(
        decorator, packages, phrase):
    """A requirement is one line of uv's input: a line break in a name or a version (say, read
    from a config) would add lines such as ``--extra-index-url``; a leading '-' is an option."""
    with pytest.raises(FlowDefinitionError, match=f"@{decorator.__name__}: {phrase}") as err:
        decorator(packages=packages)
    assert "not a package requirement" in err.value.msg


def test_package_names_with_extras_and_markers_are_still_accepted():
    pypi(packages={"requests[socks, security]": ">=2", "six": "1.16; python_version >= '3'"})


@pytest.mark.parametrize("packages", [
    {"mylib @ file:///opt/wheels/mylib-1.0-py3-none-any.whl": ""},
    {"mylib[extra]@https://example.com/mylib-1.0.tar.gz#sha256=abc": ""},
    {"mylib": "@ git+https://example.com/mylib.git@v1"},
    {"mylib @ git+ssh://git@example.com/mylib.git ; python_version >= '3'": ""},
])
def test_a_direct_reference_is_accepted_on_purpose(packages):
    """Metaflow's flows and its requirements parsers write ``name @ URL``: a wheel of one's own
    or a fork. The flow's author already runs their own code; the form is what is checked."""
    pypi(packages=packages)


@pytest.mark.parametrize(("packages", "phrase"), [
    ({"mylib @ https://example.com/mylib.whl": "1.0"}, "takes no version"),
    ({"mylib @ not a url": ""}, "is not a direct reference"),
    ({"mylib @ https://example.com/a.whl https://example.com/b.whl": ""},
     "is not a direct reference"),
    ({"mylib": "@ /opt/wheels/mylib.whl"}, "is not a direct reference"),
    ({"me@example": ""}, "is not a direct reference"),
    ({"@ https://example.com/x.whl": ""}, "is not a direct reference"),
])
def test_a_direct_reference_in_another_form_is_refused_naming_the_package(packages, phrase):
    """Before: these reached uv as requirement lines of their own making (``URL==1.0``, two
    URLs) and failed there, or installed something else than the declaration reads."""
    with pytest.raises(FlowDefinitionError, match="@pypi: package ") as err:
        pypi(packages=packages)
    assert phrase in err.value.msg and next(iter(packages)) in err.value.msg
    assert "name @ https://" in err.value.fix or "no version" in err.value.msg


def test_with_option_builds_the_decorator():
    deco = parse_with('pypi:packages={"six": "1.16.0"},python="3.11"')
    assert deco.attributes["packages"] == {"six": "1.16.0"} and deco.attributes["python"] == "3.11"


def test_the_run_record_round_trips_each_step_lock():
    lock = EnvLock("pypi", "3.11.7", {"kind": "pypi", "packages": {"six": ""}},
                   "six==1.16.0 \\\n    --hash=sha256:abc\n")
    record = run_record({"a": lock, "b": lock})
    assert record["steps"] == {"a": lock.id, "b": lock.id} and list(record["locks"]) == [lock.id]
    assert step_lock(record, "b") == lock and step_lock(record, "c") is None
    assert lock.pinned() == ["six==1.16.0"]
    # The same lock on another Python is another environment.
    assert EnvLock("pypi", "3.12.1", lock.declared, lock.lock).id != lock.id


def test_pypi_and_conda_on_one_step_are_refused_when_environments_are_built():
    # Written on one step they are accepted (a flow that runs under Metaflow without
    # --environment runs here too); building the environments refuses them by name.
    F = _flow(start=[pypi(packages={"six": ""}), conda(packages={"six": ""})])
    with pytest.raises(FlowDefinitionError, match="step 'start' of F has both @"):
        _declared(F)


def test_with_pypi_leaves_a_conda_step_alone():
    F = _flow(start=[conda(packages={"six": ""})])
    extra = [parse_with('pypi:packages={"tabulate": "0.9.0"}')]
    policies = {name: step_policy(getattr(F, name), extra) for name in ("start", "mid", "end")}
    found = step_declarations(F, policies)
    assert found["start"].kind == "conda" and found["start"].packages == (("six", ""),)
    assert found["mid"].kind == "pypi" and found["mid"].packages == (("tabulate", "0.9.0"),)


def test_the_metaflow_names_are_these_decorators():
    import headwater
    import headwater.environments as environments
    from headwater.compat import metaflow_api

    for name in ("pypi", "pypi_base", "conda", "conda_base"):
        assert getattr(metaflow_api, name) is getattr(environments, name)
        assert getattr(headwater, name) is getattr(environments, name)
        assert name in metaflow_api.__all__ and name in headwater.__all__


def test_a_flow_wide_declaration_read_from_configs_at_launch():
    """``@pypi_base(**config_expr('reqs'), python=config_expr(...))``: read when the launch
    knows the configs; an explicit option wins over the spread one, as in a step decorator."""
    from headwater import config_expr
    from headwater.environments.decorators import resolve_base

    F = _flow([pypi_base(**config_expr("reqs"), disabled=config_expr("off"))],
              end=[pypi(packages={"six": ""})])
    with pytest.raises(FlowDefinitionError, match="reads configs that were not read yet"):
        _declared(F)
    resolve_base(F, {"reqs": {"packages": {"tabulate": "0.9.0"}, "python": ">=3.10"},
                     "off": False})
    found = _declared(F)
    assert found["start"].packages == (("tabulate", "0.9.0"),)
    assert found["end"].packages == (("six", ""), ("tabulate", "0.9.0"))
    assert found["mid"].python == ">=3.10"
    resolve_base(F, {"reqs": {"packages": {}}, "off": True})
    assert set(_declared(F)) == {"end"}
    with pytest.raises(FlowDefinitionError, match=r"@pypi_base has no option 'pakages' \(from a"):
        resolve_base(F, {"reqs": {"pakages": {}}, "off": False})


def test_mutators_read_the_flow_wide_declaration_where_the_decorators_write_it():
    # flow_decorators names the attribute instead of importing it (no import cycle).
    from headwater.decorators import flow_decorators
    from headwater.environments.decorators import BASE_ATTR

    assert flow_decorators._BASE_ATTR == BASE_ATTR
