"""@pypi / @pypi_base: real environments resolved by uv from the package index, built once.

``tabulate`` and ``pyfiglet`` stand in for a step's dependencies: the test interpreter lacks them
(checked), so a step can only import them from its own environment. Environments are cached in
a folder shared by the tests of this module (as they are shared across a user's runs), except
where a test needs a cold cache.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from headwater import Flow, Metaflow, Run

from .faultkit import client, hw, no_headwater_traceback
from .flowrun import flow_file, task_lines

STEP_FLOW = flow_file("environments/pypi_step_flow.py")
BASE_FLOW = flow_file("environments/pypi_base_flow.py")
BAD_FLOW = flow_file("environments/bad_pypi_flow.py")


@pytest.fixture(scope="module")
def env_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("env-cache")


def run(flow: Path, *args: str, cwd: Path, cache: Path, **env: str):
    return hw(flow, "--environment=pypi", *args, cwd=cwd, timeout=300,
              HEADWATER_ENV_CACHE=str(cache), **env)


def test_the_test_interpreter_lacks_the_packages():
    # Otherwise the tests below would prove nothing.
    assert importlib.util.find_spec("tabulate") is None
    assert importlib.util.find_spec("pyfiglet") is None


def test_pypi_step_imports_a_package_the_flow_python_lacks(tmp_path, env_cache):
    done = run(STEP_FLOW, "run", cwd=tmp_path, cache=env_cache)
    assert done.returncode == 0, done.stdout + done.stderr
    client(tmp_path)
    result = Flow("PypiStepFlow").latest_run
    assert result.successful
    join = result["join"].task.data
    assert join.versions == ["0.9.0"]
    assert join.tables == ["1  2", "2  4", "3  6"]
    assert [Path(p).parent for p in join.prefixes] == [env_cache / "envs"]
    assert result["start"].task.data.start_has_tabulate is False
    assert join.join_has_tabulate is False
    # The three foreach tasks were forked by one warm server of the environment.
    assert len(join.server_pids) == 1


def test_pypi_base_applies_to_every_step_unless_disabled(tmp_path, env_cache):
    done = run(BASE_FLOW, "run", cwd=tmp_path, cache=env_cache)
    assert done.returncode == 0, done.stdout + done.stderr
    client(tmp_path)
    data = {s.id: s.task.data for s in Flow("PypiBaseFlow").latest_run}
    assert data["start"].start_has == (True, False)
    assert data["extra"].extra_has == (True, True)  # the step's packages add to the base's
    assert data["plain"].plain_has == (False, False)  # @pypi(disabled=True): the flow's Python
    assert data["end"].end_has == (True, False)


def test_a_second_run_reuses_the_environment_without_resolving(tmp_path, env_cache):
    cold = tmp_path / "cold-cache"
    first = run(STEP_FLOW, "run", cwd=tmp_path, cache=cold)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Resolving @pypi (tabulate==0.9.0" in first.stdout
    assert "built in" in first.stdout
    envs = list((cold / "envs").iterdir())
    assert len(envs) == 1
    marker = (envs[0] / "headwater-env.json").stat()

    second = run(STEP_FLOW, "run", cwd=tmp_path, cache=cold)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Resolving" not in second.stdout
    assert f"Environment {envs[0].name[:12]} for fmt" in second.stdout
    assert "(cached)" in second.stdout
    assert list((cold / "envs").iterdir()) == envs
    assert (envs[0] / "headwater-env.json").stat().st_mtime_ns == marker.st_mtime_ns
    # The cache is private to the user.
    for folder in (cold, cold / "envs", cold / "locks"):
        assert folder.stat().st_mode & 0o077 == 0


def test_an_unknown_package_fails_before_any_task(tmp_path, env_cache):
    done = run(BAD_FLOW, "run", cwd=tmp_path, cache=env_cache,
               BAD_PACKAGE="headwater-test-no-such-package-zq")
    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert "step 'needs' of BadPypiFlow" in out
    assert "headwater-test-no-such-package-zq" in out
    assert "fix:" in out
    assert "START RAN" not in out and not task_lines(done.stdout)
    assert no_headwater_traceback(done.stderr)
    # Nothing was recorded: the flow has no run.
    client(tmp_path)
    assert [f.id for f in Metaflow().flows] == []


@pytest.mark.parametrize(("python", "says"), [
    ("3.99", "Python 3.99 is not installed on this machine"),
    ("3.9", "older than headwater's task runtime supports"),
])
def test_an_unavailable_python_fails_before_any_task(tmp_path, env_cache, python, says):
    done = run(BAD_FLOW, "run", cwd=tmp_path, cache=env_cache, BAD_PYTHON=python)
    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert "step 'needs' of BadPypiFlow" in out and says in out and "fix:" in out
    assert "START RAN" not in out
    assert no_headwater_traceback(done.stderr)


def test_the_client_reads_each_task_environment(tmp_path, env_cache):
    done = run(STEP_FLOW, "run", cwd=tmp_path, cache=env_cache)
    assert done.returncode == 0, done.stdout + done.stderr
    client(tmp_path)
    result = Flow("PypiStepFlow").latest_run
    fmt = next(iter(result["fmt"]))
    info = fmt.environment_info
    assert info["type"] == "pypi"
    assert info["declared"]["packages"] == {"tabulate": "0.9.0"}
    assert "tabulate==0.9.0" in info["packages"]
    assert "--hash=sha256:" in info["lock"]
    assert (env_cache / "envs" / info["env_id"]).is_dir()
    assert fmt.metadata_dict["environment"] == info["env_id"]
    assert result["fmt"].environment_info == info
    assert result["start"].task.environment_info is None


def test_resume_reuses_the_original_run_lock(tmp_path, env_cache):
    failed = run(STEP_FLOW, "run", cwd=tmp_path, cache=env_cache, FAIL_FMT="1")
    assert failed.returncode == 1
    # Resolving again is made impossible: no cached lock, and an index that does not exist.
    shutil.rmtree(env_cache / "locks")
    resumed = run(STEP_FLOW, "resume", cwd=tmp_path, cache=env_cache,
                  UV_INDEX_URL=f"file://{tmp_path}/no-index", UV_OFFLINE="1")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Resolving" not in resumed.stdout
    client(tmp_path)
    origin, again = sorted(Flow("PypiStepFlow"), key=lambda r: int(r.id))[-2:]
    assert again.origin_run_id == origin.id and again.successful
    first_info = next(iter(origin["fmt"])).environment_info
    assert next(iter(again["fmt"])).environment_info == first_info
    assert again["join"].task.data.versions == ["0.9.0"]


def test_without_the_switch_the_decorators_are_noted_and_skipped(tmp_path, env_cache):
    done = hw(BASE_FLOW, "run", cwd=tmp_path, HEADWATER_ENV_CACHE=str(env_cache))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Note: @pypi/@conda" in done.stdout and "--environment=pypi" in done.stdout
    client(tmp_path)
    result: Run = Flow("PypiBaseFlow").latest_run
    assert result["extra"].task.data.extra_has == (False, False)
    assert result["extra"].task.environment_info is None


def test_environment_show_and_resolve_print_the_lock(tmp_path):
    cache = tmp_path / "cache"
    env = {"HEADWATER_ENV_CACHE": str(cache)}
    before = hw(STEP_FLOW, "environment", "show", cwd=tmp_path, **env)
    assert before.returncode == 0, before.stderr
    assert "step fmt: @pypi (tabulate==0.9.0" in before.stdout
    assert "not resolved yet" in before.stdout
    assert "step start: the flow's own Python" in before.stdout

    resolved = hw(STEP_FLOW, "environment", "resolve", cwd=tmp_path, **env)
    assert resolved.returncode == 0, resolved.stderr
    assert "    tabulate==0.9.0" in resolved.stdout

    after = hw(STEP_FLOW, "environment", "show", "--lock", cwd=tmp_path, **env)
    assert "not resolved yet" not in after.stdout
    assert "--hash=sha256:" in after.stdout
    env_id = after.stdout.split("-> environment ")[1].split()[0]
    assert (cache / "envs" / env_id / "headwater-env.json").is_file()
    recorded = json.loads((cache / "envs" / env_id / "headwater-env.json").read_text())
    assert recorded["declared"]["packages"] == {"tabulate": "0.9.0"}


def test_on_dask_the_lock_travels_and_workers_build_the_environment(tmp_path, dask_cluster):
    launcher_cache = tmp_path / "launcher-cache"
    done = run(STEP_FLOW, "run", "--executor", "dask", "--dask-address", dask_cluster.address,
               cwd=tmp_path, cache=launcher_cache)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "locked; the workers build it" in done.stdout
    # The launcher only resolved: it built nothing.
    assert list((launcher_cache / "locks").iterdir())
    assert not (launcher_cache / "envs").exists() or not list((launcher_cache / "envs").iterdir())
    client(tmp_path)
    result = Flow("PypiStepFlow").latest_run
    join = result["join"].task.data
    assert join.versions == ["0.9.0"] and join.join_has_tabulate is False
    fmt = next(iter(result["fmt"]))
    info = fmt.environment_info
    assert fmt.metadata_dict["environment"] == info["env_id"]
    assert "dask-worker" in fmt.metadata_dict
    # Built by the worker, in its own cache, under the lock's name.
    assert [Path(p).name for p in join.prefixes] == [info["env_id"]]
    assert all(launcher_cache not in Path(p).parents for p in join.prefixes)


# -- @conda, against a local channel this module builds --------------------------------------

CONDA_FLOW = flow_file("environments/conda_step_flow.py")


@pytest.fixture(scope="module")
def conda_channel(tmp_path_factory) -> Path:
    from .conda_channel import index, noarch_python_package

    channel = tmp_path_factory.mktemp("conda-channel")
    noarch_python_package(channel, "hwgreet", "1.2.0",
                          "def greet(who):\n    return f'hello {who} from hwgreet 1.2.0'\n")
    index(channel)
    return channel


def test_conda_step_imports_a_package_from_the_channel(tmp_path, env_cache, conda_channel):
    done = run(CONDA_FLOW, "run", cwd=tmp_path, cache=env_cache,
               HW_TEST_CHANNEL=str(conda_channel))
    assert done.returncode == 0, done.stdout + done.stderr
    client(tmp_path)
    result = Flow("CondaStepFlow").latest_run
    greet = result["greet"].task
    assert greet.data.greeting == "hello conda from hwgreet 1.2.0"
    assert result["start"].task.data.start_has is False
    assert result["end"].task.data.end_has is False
    info = greet.environment_info
    assert info["type"] == "conda" and "hwgreet==1.2.0" in info["packages"]
    record = json.loads(info["lock"])["conda"][0]
    assert record["name"] == "hwgreet" and len(record["sha256"]) == 64
    assert Path(greet.data.prefix).name == info["env_id"]


def test_an_unknown_conda_package_fails_before_any_task(tmp_path, env_cache, conda_channel):
    done = run(CONDA_FLOW, "run", cwd=tmp_path, cache=env_cache,
               HW_TEST_CHANNEL=str(conda_channel), HW_TEST_PACKAGE="hwmissing")
    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert "step 'greet' of CondaStepFlow" in out and "hwmissing" in out and "fix:" in out
    assert not task_lines(done.stdout)
    assert no_headwater_traceback(done.stderr)


def test_the_scheduler_never_loads_rattler(conda_channel):
    # rattler's runtime threads can abort an exiting interpreter, so it runs in a child process:
    # the process that resolves (the scheduler) must end with rattler never imported.
    script = (
        "import sys\n"
        "from headwater.environments import conda_env\n"
        "from headwater.environments.declaration import EnvDeclaration\n"
        "from headwater.exceptions import StepEnvironmentError\n"
        "declared = EnvDeclaration('conda', None, (('hwmissing', '1.0'),), (sys.argv[1],))\n"
        "try:\n"
        "    conda_env.resolve(declared, sys.executable, '3.11', ['click'])\n"
        "except StepEnvironmentError as exc:\n"
        "    print('ERROR', exc)\n"
        "print('LOADED', 'rattler' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(conda_channel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "hwmissing" in done.stdout and "LOADED False" in done.stdout
