"""The public API as a type checker and an editor read it (USERS.md 25: IDE support).

headwater ships ``py.typed`` and types its API inline, so no separate stubs package is needed:
these tests run mypy (``--strict``) over small flows written against the public API, through
``from headwater import ...`` and through the ``metaflow`` package ``headwater shim`` writes,
and check that what the checker infers is what a user gets at run time (the step function
kept by its decorators, ``current``'s facts, the client's classes), and that a misspelt
decorator option or a wrong client attribute is caught before anything runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import mypy  # noqa: F401 - a test extra (pip install -e '.[test]'): missing, these tests fail

import headwater
from headwater.compat.shim import write_shim

ROOT = Path(headwater.__file__).parent

TYPED_FLOW = '''
from __future__ import annotations

from collections.abc import Callable, Iterator

from typing_extensions import assert_type

from {package} import (
    Config, Flow, FlowSpec, Parameter, Run, Runner, Step, Task, card, catch, conda, current,
    environment, exit_hook, namespace, parallel, project, pypi, pypi_base, resources, retry,
    schedule, secrets, step, timeout, trigger,
)


def notify(run: object) -> None: ...


@exit_hook(on_success=[notify])
@trigger(event="data_ready")
@schedule(daily=True)
@pypi_base(python="3.11")
@project(name="typed")
class TypedFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, help="a float")
    settings = Config("settings", default_value={{"retries": 2}})

    @card(type="blank", id="summary")
    @retry(times=settings.retries)
    @catch(var="failure", print_exception=False)
    @resources(cpu=2, memory=4096)
    @timeout(minutes=5)
    @environment(vars={{"MODE": "typed"}})
    @pypi(packages={{"tabulate": "0.9.0"}})
    @step
    def start(self) -> None:
        assert_type(current.flow_name, str | None)
        assert_type(current.retry_count, int)
        assert_type(current.parameter_names, list[str])
        current.card.append("a component")
        current.card["summary"].extend(["more", "components"])
        current.card.refresh()
        assert_type(current.run.successful, bool)
        assert_type(current.run.id, str)
        assert_type(current.task.stdout, str)
        self.n: int = 1
        self.next(self.fan, num_parallel=2)

    @parallel
    @step
    def fan(self) -> None:
        assert_type(current.parallel.node_index, int)
        self.next(self.join)

    @secrets(sources=["db-credentials"])
    @step
    def join(self, inputs: Iterator[TypedFlow]) -> None:
        self.next(self.end)

    @conda(packages={{"numpy": "2.1"}}, python="3.12")
    @step
    def end(self) -> None:
        pass


# --strict refuses a decorator that hides the function it decorates (untyped-decorator): a clean
# run says every decorator above gives the step back with its own signature.
started: Callable[[TypedFlow], None] = TypedFlow.start


def read() -> None:
    namespace(None)
    run = Flow("TypedFlow").latest_run
    assert_type(run, Run | None)
    assert run is not None
    assert_type(run["start"], Step)
    assert_type(run["start"].task, Task | None)
    assert_type(list(Flow("TypedFlow").runs()), list[Run])
    with Runner("typed_flow.py").run(alpha=0.3) as running:
        assert_type(running.run, Run | None)
'''

MISTAKES = '''
from headwater import Flow, FlowSpec, current, resources, retry, step


class Wrong(FlowSpec):
    @retry(tims=2)
    @step
    def start(self) -> None:
        self.next(self.end)

    @resources(cpu=[2])
    @step
    def end(self) -> None:
        pass


Flow("Wrong").latets_run
current.card.apend("a component")
current.run.sucessful
current.task.stdot
current.trigger.evnt
'''


def _mypy(folder: Path, source: str, *, mypypath: Path | None = None) -> subprocess.CompletedProcess[str]:
    (folder / "checked.py").write_text(textwrap.dedent(source))
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    if mypypath is not None:
        env["MYPYPATH"] = str(mypypath)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--hide-error-context",
         "--cache-dir", str(folder / ".mypy_cache"), "checked.py"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_the_package_ships_its_py_typed_marker() -> None:
    assert (ROOT / "py.typed").is_file()
    pyproject = (ROOT.parent.parent / "pyproject.toml").read_text()
    assert '"headwater" = ["py.typed"]' in pyproject  # so the wheel carries it


def test_a_flow_written_against_the_public_api_checks_clean_with_the_types_it_runs_with(
        tmp_path: Path) -> None:
    proc = _mypy(tmp_path, TYPED_FLOW.format(package="headwater"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_metaflow_names_of_the_shim_carry_the_same_types(tmp_path: Path) -> None:
    """``from metaflow import ...`` resolved to the forwarding package (``headwater shim``), as an
    editor pointed at that folder (``python.analysis.extraPaths``, ``MYPYPATH``) resolves it."""
    shim = tmp_path / "shim"
    write_shim(shim)
    proc = _mypy(tmp_path, TYPED_FLOW.format(package="metaflow"), mypypath=shim)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_misspelt_option_and_a_wrong_attribute_are_caught_before_anything_runs(
        tmp_path: Path) -> None:
    proc = _mypy(tmp_path, MISTAKES)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = proc.stdout
    assert 'Unexpected keyword argument "tims"' in errors and 'did you mean "times"' in errors
    assert '"ResourcesFunction" matches argument type "list[int]"' in errors
    assert '"Flow" has no attribute "latets_run"' in errors
    assert '"CardCollector" has no attribute "apend"' in errors
    assert '"Run" has no attribute "sucessful"' in errors
    assert '"Task" has no attribute "stdot"' in errors
    assert '"Trigger" has no attribute "evnt"' in errors


def _decorators_with_options() -> dict[str, dict[str, object]]:
    from headwater.decorators.base import StepDecorator

    found: dict[str, dict[str, object]] = {}
    for name in headwater.__all__:
        cls = getattr(getattr(headwater, name), "decorator_class", None)
        if isinstance(cls, type) and issubclass(cls, StepDecorator) and cls.defaults:
            found[name] = dict(cls.defaults)
    return found


def test_every_option_of_every_step_decorator_is_declared_to_the_checker(tmp_path: Path) -> None:
    """Each option a decorator takes at run time (its ``defaults``), written out with its
    default value, is accepted by the checker: the declared signatures have not drifted."""
    decorators = _decorators_with_options()
    assert {"retry", "catch", "resources", "timeout", "card", "pypi", "conda"} <= set(decorators)
    lines = [f"from headwater import FlowSpec, step, {', '.join(sorted(decorators))}", "",
             "class Every(FlowSpec):"]
    for name, options in sorted(decorators.items()):
        written = ", ".join(f"{key}={value!r}" for key, value in options.items())
        lines += [f"    @{name}({written})", "    @step", f"    def with_{name}(self) -> None:",
                  "        pass", ""]
    proc = _mypy(tmp_path, "\n".join(lines))
    assert proc.returncode == 0, proc.stdout + proc.stderr
