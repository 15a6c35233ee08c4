"""Runner: what a script or an agent sees when it starts runs from Python."""

from __future__ import annotations

import asyncio
import os
import textwrap
from pathlib import Path

import pytest

from headwater import ExecutingRun, Flow, Runner
from headwater.exceptions import FlowDefinitionError
from headwater.runner import RunNotStartedError
from headwater.runner.command import RunnerArgumentError

from .helpers import flow_path, group_ends

NATIVE_FLOW = '''
from headwater import FlowSpec, JSONType, Parameter, step


class NativeFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)
    config = Parameter("config", type=JSONType, default="{}")

    @step
    def start(self):
        print("alpha is", self.alpha)
        self.doubled = self.alpha * 2
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NativeFlow()
'''


@pytest.fixture
def native_flow(tmp_path: Path) -> str:
    path = tmp_path / "native_flow.py"
    path.write_text(textwrap.dedent(NATIVE_FLOW))
    return str(path)


def test_run_returns_a_finished_run_with_output(native_flow, capfd):
    with Runner(native_flow) as runner:
        result = runner.run(alpha=3, config={"k": [1, 2]}, tags=["exp", "v2"])
        assert isinstance(result, ExecutingRun)
        assert (result.status, result.returncode) == ("successful", 0)
        assert "Done! Run NativeFlow/1 succeeded." in result.stdout
        assert result.stderr == ""
        run = result.run
        assert run.pathspec == "NativeFlow/1" and run.successful
        assert run["start"].task.data.doubled == 6
        assert run.data.config == {"k": [1, 2]}
        assert {"exp", "v2"} <= run.user_tags
    assert "alpha is 3" in capfd.readouterr().out  # show_output=True echoes live
    assert [r.id for r in Flow("NativeFlow").runs("exp")] == ["1"]


def test_show_output_false_and_quiet(native_flow, capfd):
    with Runner(native_flow, show_output=False, quiet=True) as runner:
        result = runner.run()
    assert capfd.readouterr().out == ""
    assert result.stdout.strip() == "Done! Run NativeFlow/1 succeeded."  # kept after cleanup
    assert result.run.data.doubled == 2


def test_cwd_elsewhere_reads_that_datastore(native_flow, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    caller_root = tmp_path / ".headwater"
    with Runner(native_flow, show_output=False, cwd=elsewhere) as runner:
        run = runner.run(alpha=5).run
    assert (elsewhere / ".headwater" / "meta.sqlite").is_file()
    assert not caller_root.exists()
    assert run.data.doubled == 10


def test_env_and_relative_datastore_root(native_flow, tmp_path: Path):
    by_env = tmp_path / "by_env"
    with Runner(native_flow, show_output=False,
                env={"HEADWATER_DATASTORE_ROOT": str(by_env)}) as runner:
        assert runner.run().run.data.doubled == 2
    assert (by_env / "meta.sqlite").is_file()
    work = tmp_path / "work"
    work.mkdir()
    with Runner(native_flow, show_output=False, cwd=work, datastore_root="store") as runner:
        result = runner.run(alpha=7)
        assert "--datastore-root" in result.command
    assert (work / "store" / "meta.sqlite").is_file()
    assert result.run.data.doubled == 14


def test_a_bad_parameter_fails_without_a_run_and_run_raises_as_metaflows_does(native_flow):
    # Metaflow's Runner raises a TypeError for a str given to an int parameter, before any run;
    # headwater's is also a RuntimeError (a RunNotStartedError), as it was before it checked.
    with Runner(native_flow, show_output=False) as runner:
        with pytest.raises(TypeError, match="alpha") as raised:
            runner.run(alpha="not a number")
        assert isinstance(raised.value, RunNotStartedError)
        assert isinstance(raised.value, RuntimeError)
        assert "expected int, got str 'not a number'" in str(raised.value)
        with pytest.raises(RuntimeError, match="exited with code 2 before starting a run"):
            runner.run(alpha=True)  # a bool passes the type check, then fails as a value
        started = runner.async_run(alpha="not a number")  # returns at once: no run to wait for
        started.wait()
        assert (started.status, started.returncode, started.run) == ("failed", 2, None)
        assert "alpha" in started.stderr


def test_awaiting_a_run_that_never_started_raises(native_flow):
    async def start():
        with Runner(native_flow, show_output=False) as runner:
            return await runner.async_run(alpha="not a number")

    with pytest.raises(RunNotStartedError, match="alpha"):
        asyncio.run(start())


def test_missing_flow_file_and_reserved_arguments(native_flow):
    with pytest.raises(FlowDefinitionError, match="does not exist"):
        Runner("no_such_flow.py")
    with Runner(native_flow) as runner, pytest.raises(RunnerArgumentError):
        runner.run(runner_attribute_file="x")


def test_async_run_returns_before_the_end_then_waits_and_streams(child_env):
    with Runner(flow_path("slow_flow.py"), env=child_env) as runner:
        running = runner.async_run(seconds=1)
        assert running.status == "running" and running.returncode is None
        assert running.run.id == "1"  # blocks only until the run is registered
        lines = [line for _, line in running.stream_log("stdout")]
        assert any(line.endswith("sleeping") for line in lines)
        assert lines[-1] == "Done! Run CompatSlowFlow/1 succeeded."
        assert running.wait() is running
        assert running.status == "successful" and running.run.successful


def test_wait_with_timeout_leaves_it_running_and_cleanup_stops_it(child_env, client):
    with Runner(flow_path("slow_flow.py"), env=child_env, show_output=False) as runner:
        running = runner.async_run(seconds=120)
        assert running.run is not None  # registered
        assert running.wait(timeout=0.2).status == "running"
        pid = running._process.pid
        tmpdir = runner._tmpdir
    assert running.status == "failed"  # stopped by leaving the context
    assert running.returncode != 0
    assert group_ends(pid)  # the whole process group is gone
    assert not os.path.exists(tmpdir)
    client()
    assert Flow("CompatSlowFlow").latest_run.finished


def test_stream_log_resumes_from_a_position(native_flow):
    with Runner(native_flow, show_output=False) as runner:
        result = runner.run()
        lines = list(result.stream_log("stdout"))
        position, text = lines[2]
        assert list(result.stream_log("stdout", position))[0] == (position, text)
        with pytest.raises(ValueError):
            result.stream_log("stdlog")


def test_async_api_as_metaflow_writes_it(native_flow, child_env):
    async def main() -> tuple[str, list[str], str]:
        with Runner(native_flow, show_output=False) as runner:
            running = await runner.async_run(alpha=4)
            pathspec = running.run.pathspec
            lines = [line async for _, line in running.stream_log("stdout")]
            await running.wait(timeout=60)
            return pathspec, lines, running.status

    pathspec, lines, status = asyncio.run(main())
    assert pathspec == "NativeFlow/1"
    assert any("alpha is 4" in line for line in lines)
    assert status == "successful"


def test_concurrent_async_runs_with_gather(native_flow):
    async def main() -> list[str]:
        runners = [Runner(native_flow, show_output=False) for _ in range(3)]
        first = asyncio.create_task(runners[0].async_run(alpha=0))  # a real coroutine
        started = [await first, *await asyncio.gather(
            *(r.async_run(alpha=i) for i, r in enumerate(runners[1:], start=1)))]
        await asyncio.gather(*(s.wait() for s in started))
        for runner in runners:
            runner.cleanup()
        return sorted(s.run.id for s in started if s.status == "successful")

    assert asyncio.run(main()) == ["1", "2", "3"]


def test_resume_a_failed_run(tmp_path: Path):
    flow = tmp_path / "flaky_flow.py"
    flow.write_text(textwrap.dedent('''
        import os
        from headwater import FlowSpec, step

        class FlakyFlow(FlowSpec):
            @step
            def start(self):
                self.value = 1
                self.next(self.end)

            @step
            def end(self):
                if not os.path.exists("fixed"):
                    raise RuntimeError("broken")

        if __name__ == "__main__":
            FlakyFlow()
    '''))
    with Runner(str(flow), show_output=False) as runner:
        assert runner.run().status == "failed"
        (tmp_path / "fixed").touch()
        resumed = runner.resume()
        assert resumed.status == "successful"
        assert resumed.run.origin_run_id == "1"
        assert resumed.run["start"].task.origin_pathspec == "FlakyFlow/1/start/1"
        again = runner.resume(step="start", origin_run_id="1")
        assert again.run["start"].task.origin_pathspec is None  # re-ran from start


def test_a_run_id_file_of_your_own_is_written_too(native_flow, tmp_path: Path):
    # Metaflow's Runner passes run_id_file on to the command line; scripts rely on it.
    (tmp_path / "my-run-id").write_text("stale")
    with Runner(native_flow, show_output=False, cwd=str(tmp_path)) as runner:
        result = runner.run(run_id_file="my-run-id")
        assert result.status == "successful"
        assert (tmp_path / "my-run-id").read_text() == result.run.id


def test_a_command_line_the_system_refuses_is_one_clear_error(native_flow):
    # Many tags, each under the per-argument limit, together past the system's: no OSError
    # traceback out of subprocess, and no run starts.
    with Runner(native_flow, show_output=False) as runner:
        with pytest.raises(RunnerArgumentError, match="is too long for the system") as err:
            runner.run(tags=["t" * 100_000] * 40)
    assert "pass large values as files" in str(err.value)


def test_decorators_given_to_run_apply_to_every_step(tmp_path: Path):
    # Metaflow's Runner passes run(decospecs=[...]) to `run --with`.
    flow = tmp_path / "broken_flow.py"
    flow.write_text(textwrap.dedent('''
        from headwater import FlowSpec, step

        class BrokenFlow(FlowSpec):
            @step
            def start(self):
                raise RuntimeError("broken")
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            BrokenFlow()
    '''))
    with Runner(str(flow), show_output=False) as runner:
        caught = runner.run(decospecs=["catch:var=oops"])
        assert caught.status == "successful"
        assert caught.run["start"].task.data.oops.type == "RuntimeError"
