"""Flows written for Metaflow run unchanged: through ``headwater run flow.py`` and through Runner.

Each case runs both ways with the same parameters and checks the same results through the client.
Child processes carry the tripwire (see conftest), so a pass also proves the real ``metaflow``
package was never imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from headwater import Flow, Runner

from .helpers import TRIPWIRE_MESSAGE, flow_path


@dataclass
class Launched:
    returncode: int
    stdout: str
    stderr: str
    run: Any  # a client Run


@pytest.fixture(params=["cli", "runner"])
def launch(request, run_headwater, child_env, client, tmp_path: Path):
    """Run a compat flow by the CLI or by Runner; both return a :class:`Launched`."""

    def by_cli(flow: str, cli_args: list[str], _: dict, env: dict | None = None) -> Launched:
        done = run_headwater("run", flow_path(flow), *cli_args, extra_env=env)
        client()
        name = _flow_name(flow)
        return Launched(done.returncode, done.stdout, done.stderr, Flow(name).latest_run)

    def by_runner(flow: str, _: list[str], kwargs: dict, env: dict | None = None) -> Launched:
        with Runner(flow_path(flow), show_output=False, env={**child_env, **(env or {})}) as runner:
            result = runner.run(**kwargs)
            return Launched(result.returncode, result.stdout, result.stderr, result.run)

    return by_cli if request.param == "cli" else by_runner


def _flow_name(file_name: str) -> str:
    stem = Path(file_name).stem.replace("_flow", "")
    return "Compat" + "".join(part.capitalize() for part in stem.split("_")) + "Flow"


def _check_ok(launched: Launched) -> Any:
    assert TRIPWIRE_MESSAGE not in launched.stderr
    assert launched.returncode == 0, launched.stderr
    assert launched.run is not None and launched.run.successful
    return launched.run


def test_linear_flow_serves_metaflow_from_headwater(launch):
    run = _check_ok(launch("linear_flow.py", ["--alpha", "2"], {"alpha": 2}))
    assert run.data.total == 6
    assert "headwater" in run.data.mf_version
    assert run.data.mf_file is None  # the in-memory shim, not a file on disk
    assert run.data.where == ("CompatLinearFlow", run.id, "start")
    assert run["start"].task.data.values == [2]


def test_branch_and_join_merge_artifacts(launch):
    run = _check_ok(launch("branch_flow.py", [], {}))
    join = run["join"].task.data
    assert (join.score, join.only_left, join.shared) == (3, "L", "from start")
    assert sorted(step.id for step in run) == ["end", "join", "left", "right", "start"]


def test_nested_foreach(launch):
    run = _check_ok(launch("foreach_flow.py", [], {}))
    assert run["outer_join"].task.data.pairs == ["a1", "a2", "a3", "b1", "b2", "b3"]
    assert len(list(run["inner"])) == 6
    assert sorted(t.data.letter for t in run["inner_join"]) == ["a", "b"]


def test_conditional_then_loop(launch):
    run = _check_ok(launch("switch_flow.py", ["--score", "0.2"], {"score": 0.2}))
    assert run.data.label == "low"
    assert run.data.value == 27  # 3, 9, 27: three passes through the loop
    assert len(list(run["grow"])) == 3
    assert "high" not in run


def test_every_kind_of_parameter(launch, tmp_path: Path):
    notes = tmp_path / "notes.txt"
    notes.write_text("remember the milk")
    config = {"depth": 3, "tags": ["x"]}
    cli = ["--count", "5", "--ratio", "0.5", "--name", "kim", "--loud", "true",
           "--config", '{"depth": 3, "tags": ["x"]}', "--notes", str(notes)]
    kwargs = {"count": 5, "ratio": 0.5, "name": "kim", "loud": True, "config": config,
              "notes": str(notes)}
    run = _check_ok(launch("params_flow.py", cli, kwargs))
    assert run.data.summary == {"count": 5, "ratio": 0.5, "name": "kim", "loud": True,
                                "config": config, "notes": "remember the milk"}


def test_decorators_and_backend_fallbacks(launch):
    launched = launch("decorators_flow.py", [], {})
    run = _check_ok(launched)
    assert run["flaky"].task.data.attempt == 1  # @retry: the second attempt succeeded
    caught = run["risky"].task.data.caught
    assert (caught.type, caught.message) == ("builtins.ValueError", "always fails")  # Metaflow's
    assert run.data.foo == "bar"  # @environment
    assert run["start"].task.data.card_items == 1  # @card + current.card + metaflow.cards
    assert "Note: @kubernetes" in launched.stdout and "Note: @schedule" in launched.stdout


def test_failure_is_reported(launch):
    failed = launch("failing_flow.py", [], {})
    assert failed.returncode == 1
    assert failed.run is not None and not failed.run.successful
    assert "not fixed yet" in failed.run["middle"].task.exception.message


# -- Metaflow-style scripts: the client and the Runner imported from `metaflow` ---------------

_ALIAS = "from headwater.compat import alias\nalias.install()\n"


def _script(tmp_path: Path, child_env: dict, body: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **child_env}
    return subprocess.run([sys.executable, "-c", _ALIAS + textwrap.dedent(body)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)


def test_metaflow_style_runner_and_client_script(tmp_path: Path, child_env):
    done = _script(tmp_path, child_env, f"""
        import sys
        from metaflow import Flow, Runner, namespace

        with Runner({flow_path("linear_flow.py")!r}, show_output=False) as runner:
            result = runner.run(alpha=3)
            print("status", result.status, result.run.data.total)
        with Runner({flow_path("failing_flow.py")!r}, show_output=False,
                    env={{"COMPAT_FIXED": "1"}}) as runner:
            first = runner.run()
            print("fixed", first.status)
        namespace(None)
        run = Flow("CompatLinearFlow").latest_run
        run.add_tag("reviewed")
        print("tagged", [r.id for r in Flow("CompatLinearFlow").runs("reviewed")])
        print("version", sys.modules["metaflow"].__version__)
    """)
    assert done.returncode == 0, done.stderr
    assert "status successful 9" in done.stdout
    assert "fixed successful" in done.stdout
    assert "tagged ['1']" in done.stdout
    assert "+headwater" in done.stdout


def test_resume_through_runner_after_fixing(child_env, client):
    with Runner(flow_path("failing_flow.py"), show_output=False, env=child_env) as runner:
        first = runner.run()
        assert first.status == "failed" and first.returncode == 1
    fixed_env = {**child_env, "COMPAT_FIXED": "1"}
    with Runner(flow_path("failing_flow.py"), show_output=False, env=fixed_env) as runner:
        second = runner.resume(origin_run_id=first.run.id)
        assert second.status == "successful", second.stderr
        assert second.run.origin_run_id == first.run.id
        assert second.run.data.result == 11
        assert second.run["start"].task.origin_pathspec is not None  # cloned, not re-run

