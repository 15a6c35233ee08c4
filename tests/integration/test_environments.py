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
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from headwater import Flow, Metaflow, Run

from .faultkit import LiveRun, client, env_for, hw, no_headwater_traceback, wait_until
from .flowrun import flow_file, task_lines

STEP_FLOW = flow_file("environments/pypi_step_flow.py")
BASE_FLOW = flow_file("environments/pypi_base_flow.py")
BAD_FLOW = flow_file("environments/bad_pypi_flow.py")
MUTATED_BASE_FLOW = flow_file("environments/mutated_base_flow.py")


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
    # The three foreach tasks were forked by one warm server of the environment: a process of
    # the environment's interpreter serving forks, not a fresh interpreter per task.
    assert len(join.server_pids) == 1
    for python, flag, code in join.server_argvs:
        assert Path(python).parent.parent == Path(join.prefixes[0]) and flag == "-c"
        assert "environment_servers import main" in code
    # What the server must know (the datastore, the metadata URL, which may hold a password)
    # is not on its command line, which every local user reads in `ps`, nor left to the step.
    fmt = result["fmt"].task.data
    cmdline = " ".join(fmt.server_cmdline)
    assert ".headwater" not in cmdline and "meta.sqlite" not in cmdline, cmdline
    assert fmt.launch_left_in_environment is False


def test_spawned_tasks_of_a_pypi_step_each_start_the_environments_interpreter(tmp_path,
                                                                              env_cache):
    done = run(STEP_FLOW, "run", "--executor", "spawn", cwd=tmp_path, cache=env_cache)
    assert done.returncode == 0, done.stdout + done.stderr
    client(tmp_path)
    result = Flow("PypiStepFlow").latest_run
    join = result["join"].task.data
    assert join.versions == ["0.9.0"] and join.tables == ["1  2", "2  4", "3  6"]
    assert [Path(p).parent for p in join.prefixes] == [env_cache / "envs"]
    assert result["start"].task.data.start_has_tabulate is False
    assert join.join_has_tabulate is False
    # No fork server: each task is a child of the scheduler (`python flow.py ...`) itself,
    # started as the environment's interpreter (its sys.prefix above).
    assert len(join.server_pids) == 1
    for python, script, _option in join.server_argvs:
        assert script == str(STEP_FLOW), (python, script)
    fmt = next(iter(result["fmt"]))
    assert fmt.metadata_dict["environment"] == fmt.environment_info["env_id"]


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
    (">=3.10,<3.10", "no Python installed on this machine satisfies python='>=3.10,<3.10'"),
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


def test_spin_runs_the_step_in_the_environment_its_run_used(tmp_path, env_cache):
    done = run(STEP_FLOW, "run", cwd=tmp_path, cache=env_cache)
    assert done.returncode == 0, done.stdout + done.stderr
    # No switch: the run it comes from ran fmt in its environment, so the spin does too.
    spun = hw(STEP_FLOW, "spin", "1/fmt/2", cwd=tmp_path, timeout=300,
              HEADWATER_ENV_CACHE=str(env_cache))
    assert spun.returncode == 0, spun.stdout + spun.stderr
    assert "version = '0.9.0'" in spun.stdout
    assert f"prefix = '{env_cache / 'envs'}" in spun.stdout
    # Without its decorators the step runs in this Python, which lacks tabulate.
    bare = hw(STEP_FLOW, "spin", "1/fmt/2", "--skip-decorators", cwd=tmp_path, timeout=300,
              HEADWATER_ENV_CACHE=str(env_cache))
    assert bare.returncode == 1
    assert "No module named 'tabulate'" in bare.stdout + bare.stderr


def test_spin_with_the_switch_builds_the_environment_of_a_run_that_had_none(tmp_path,
                                                                            env_cache):
    failed = hw(STEP_FLOW, "run", cwd=tmp_path, timeout=300, HEADWATER_ENV_CACHE=str(env_cache))
    assert failed.returncode == 1  # fmt ran in this Python, without tabulate
    spun = run(STEP_FLOW, "spin", "1/fmt/2", cwd=tmp_path, cache=env_cache)
    assert spun.returncode == 0, spun.stdout + spun.stderr
    assert "version = '0.9.0'" in spun.stdout


def test_a_flow_mutator_gives_the_flow_its_pypi_base(tmp_path, env_cache):
    # With the flow's @conda_base still there, adding @pypi_base is refused, naming the fix.
    refused = run(MUTATED_BASE_FLOW, "run", cwd=tmp_path, cache=env_cache)
    assert refused.returncode == 1
    assert "has @conda_base: it cannot have @pypi_base as well" in refused.stdout + refused.stderr
    assert "remove_decorator('conda_base')" in refused.stdout + refused.stderr
    done = run(MUTATED_BASE_FLOW, "run", cwd=tmp_path, cache=env_cache, SWAP_BASE="1")
    assert done.returncode == 0, done.stdout + done.stderr
    client(tmp_path)
    result = Flow("MutatedBaseFlow").latest_run
    assert result["start"].task.data.start_has is True
    assert result["end"].task.data.end_has is True


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
    # Forked by a warm server in the environment beside each worker (two workers, three tasks),
    # never a fresh interpreter per task.
    assert len(join.server_pids) <= 2
    for python, flag, code in join.server_argvs:
        assert Path(python).parent.parent == Path(join.prefixes[0]) and flag == "-c"
        assert "worker_forks import _main" in code
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


# -- what a user tries next ------------------------------------------------------------------

DECLARED_FLOW = flow_file("environments/declared_flow.py")
BOTH_FLOW = flow_file("environments/both_kinds_flow.py")


def declared_run(*args: str, cwd: Path, cache: Path, packages: dict[str, str], **env: str):
    return hw(DECLARED_FLOW, *args, cwd=cwd, timeout=300, HEADWATER_ENV_CACHE=str(cache),
              HW_PACKAGES=json.dumps(packages), **env)


def _wheel(folder: Path, name: str, version: str) -> Path:
    """A pure-Python wheel of ``name`` whose module says its version: a package the test owns."""
    import base64
    import hashlib
    import zipfile

    dist = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": f"__version__ = {version!r}\n",
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: headwater-tests\n"
                              "Root-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def test_the_note_without_the_switch_names_every_step_it_ignores(tmp_path, env_cache):
    done = hw(BASE_FLOW, "run", cwd=tmp_path, HEADWATER_ENV_CACHE=str(env_cache))
    assert done.returncode == 0, done.stdout + done.stderr
    note = next(line for line in done.stdout.splitlines() if line.startswith("Note: @pypi"))
    # The steps the flow-wide @pypi_base covers are named too; the disabled one is not.
    assert "(start, extra, end)" in note and "plain" not in note


def test_environment_after_the_command_is_the_switch(tmp_path, env_cache):
    # `headwater run flow.py --environment=pypi` / `python flow.py run --environment=pypi`.
    done = hw(STEP_FLOW, "run", "--environment=pypi", cwd=tmp_path, timeout=300,
              HEADWATER_ENV_CACHE=str(env_cache))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Preparing step environments" in done.stdout
    client(tmp_path)
    assert Flow("PypiStepFlow").latest_run["join"].task.data.versions == ["0.9.0"]


def test_the_conda_switch_builds_pypi_declarations_too(tmp_path, env_cache):
    done = hw(STEP_FLOW, "--environment=conda", "run", cwd=tmp_path, timeout=300,
              HEADWATER_ENV_CACHE=str(env_cache))
    assert done.returncode == 0, done.stdout + done.stderr
    client(tmp_path)
    assert Flow("PypiStepFlow").latest_run["join"].task.data.versions == ["0.9.0"]


def test_extras_and_version_specifiers(tmp_path, env_cache):
    packages = {"requests[socks]": ">=2.31", "tabulate": "~=0.9"}
    done = declared_run("--environment=pypi", "run", cwd=tmp_path, cache=env_cache,
                        packages=packages, HW_IMPORT="requests,socks,tabulate")
    assert done.returncode == 0, done.stdout + done.stderr
    client(tmp_path)
    use = Flow("DeclaredFlow").latest_run["use"].task
    versions = use.data.versions
    assert tuple(int(p) for p in versions["requests"].split(".")[:2]) >= (2, 31)
    assert versions["tabulate"].startswith("0.")  # ~=0.9: 0.9 or a later 0.x
    assert "socks" in versions  # the extra's own dependency (PySocks) is there
    pinned = use.environment_info["packages"]
    assert f"requests=={versions['requests']}" in pinned
    assert any(p.lower().startswith("pysocks==") for p in pinned)
    # The launch's summary names the package declared with an extra, at its pinned version.
    assert f"requests=={versions['requests']}" in done.stdout


def test_pypi_and_conda_on_one_step_are_refused_when_environments_are_built(tmp_path):
    for args in (("--environment=pypi", "run"), ("--environment=conda", "run"),
                 ("run", "--environment=pypi")):
        done = hw(BOTH_FLOW, *args, cwd=tmp_path)
        assert done.returncode == 1, args
        out = done.stdout + done.stderr
        assert "step 'start' of BothKindsFlow has both @" in out, out
        assert "fix:" in out and "START RAN" not in out
        assert no_headwater_traceback(done.stderr)
    # Without the switch the pair is ignored like any environment declaration, as Metaflow
    # does: a flow that runs there runs here.
    done = hw(BOTH_FLOW, "run", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "START RAN" in done.stdout + done.stderr


def test_another_installed_python(tmp_path, env_cache):
    from headwater.environments.interpreters import find_interpreter

    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    others = []
    for minor in ("3.10", "3.11", "3.12", "3.13"):
        try:
            others.append((minor, find_interpreter(minor)[1]))
        except Exception:  # noqa: BLE001 - not installed here
            continue
    others = [(m, v) for m, v in others if m != running]
    if not others:
        pytest.skip("no Python other than the running one is installed on this machine")
    minor, exact = others[0]
    done = declared_run("--environment=pypi", "run", cwd=tmp_path, cache=env_cache,
                        packages={"tabulate": "0.9.0"}, HW_PYTHON=minor, HW_IMPORT="tabulate")
    assert done.returncode == 0, done.stdout + done.stderr
    client(tmp_path)
    use = Flow("DeclaredFlow").latest_run["use"].task
    assert use.data.python == exact and use.environment_info["python_version"] == exact
    assert use.data.versions == {"tabulate": "0.9.0"}


REQS_FILE_FLOW = flow_file("environments/reqs_file_flow.py")


def test_a_metaflow_flow_declares_its_environment_in_requirements_txt(tmp_path, env_cache):
    """``Config(..., parser=requirements_txt_parser)`` + ``@pypi(**reqs)``, run as Metaflow's
    users run it (``python flow.py --environment=pypi run``, through the shim); the file's
    ``python`` line is a range the running interpreter satisfies, so the step runs on it."""
    from headwater.compat.shim import write_shim

    write_shim(tmp_path / "shim")
    (tmp_path / "requirements.txt").write_text(
        "# what the use step needs\ntabulate==0.9.0  # tables\npython>=3.10,<4\n")
    done = run(REQS_FILE_FLOW, "run", cwd=tmp_path, cache=env_cache,
               PYTHONPATH=str(tmp_path / "shim"))
    assert done.returncode == 0, done.stdout + done.stderr
    running = ".".join(map(str, sys.version_info[:3]))
    assert f"for use: pypi, python {running}, tabulate==0.9.0" in done.stdout
    client(tmp_path)
    use = Flow("ReqsFileFlow").latest_run["use"].task
    assert use.data.version == "0.9.0"
    assert use.data.python == running == use.environment_info["python_version"]
    assert Path(use.data.prefix).parent == env_cache / "envs"
    assert use.environment_info["declared"] == {
        "kind": "pypi", "python": ">=3.10,<4", "packages": {"tabulate": "0.9.0"}, "channels": []}


def test_a_range_without_the_running_python_takes_the_newest_installed_in_it(tmp_path, env_cache):
    from headwater.environments.interpreters import find_interpreter

    major, minor = sys.version_info[:2]
    wanted = f"!={major}.{minor}.*,>=3.10"
    try:
        expected = find_interpreter(wanted)[1]
    except Exception:  # noqa: BLE001 - only the running minor version is installed here
        pytest.skip("no Python other than the running one is installed on this machine")
    done = declared_run("--environment=pypi", "run", cwd=tmp_path, cache=env_cache,
                        packages={"tabulate": "0.9.0"}, HW_PYTHON=wanted, HW_IMPORT="tabulate")
    assert done.returncode == 0, done.stdout + done.stderr
    client(tmp_path)
    use = Flow("DeclaredFlow").latest_run["use"].task
    assert use.data.python == expected and use.environment_info["python_version"] == expected
    assert tuple(map(int, expected.split(".")))[:2] != (major, minor)
    assert use.data.versions == {"tabulate": "0.9.0"}


def test_concurrent_runs_build_the_same_environment_once(tmp_path):
    cache = tmp_path / "cache"
    runs = []
    for n in range(2):
        folder = tmp_path / f"run{n}"
        folder.mkdir()
        runs.append((folder, subprocess.Popen(
            [sys.executable, str(DECLARED_FLOW), "--environment=pypi", "run"], cwd=folder,
            env=env_for(folder, HEADWATER_ENV_CACHE=str(cache), HW_IMPORT="pyfiglet",
                        HW_PACKAGES=json.dumps({"pyfiglet": "1.0.2"})),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    for _folder, proc in runs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
    envs = list((cache / "envs").iterdir())
    assert len(envs) == 1 and (envs[0] / "headwater-env.json").is_file()  # no staging left
    for folder, _ in runs:
        client(folder)
        use = Flow("DeclaredFlow").latest_run["use"].task
        assert use.data.versions == {"pyfiglet": "1.0.2"} and use.data.prefix == str(envs[0])


def test_a_killed_build_is_never_used_and_is_swept(tmp_path):
    cache = tmp_path / "cache"
    packages = {"pyfiglet": "1.0.2"}
    locked = declared_run("environment", "resolve", cwd=tmp_path, cache=cache, packages=packages)
    assert locked.returncode == 0, locked.stdout + locked.stderr
    (built,) = list((cache / "envs").iterdir())
    shutil.rmtree(built)  # the lock stays cached: the next run only builds
    # A build whose download never finishes (an index that accepts and never answers), killed
    # once its virtualenv exists: what a machine crash or a SIGKILL mid-build leaves.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        live = LiveRun(DECLARED_FLOW, "--environment=pypi", "run", cwd=tmp_path,
                       HEADWATER_ENV_CACHE=str(cache), HW_PACKAGES=json.dumps(packages),
                       UV_CACHE_DIR=str(tmp_path / "empty-uv-cache"),
                       UV_INDEX_URL=f"http://127.0.0.1:{silent.getsockname()[1]}/simple")
        try:
            wait_until(lambda: list((cache / "envs").glob(".*.tmp/pyvenv.cfg")),
                       "the build's virtualenv exists")
            live.signal(signal.SIGKILL, group=True)
            live.finish()
        finally:
            live.kill()
    finally:
        silent.close()
    (leftover,) = list((cache / "envs").iterdir())
    assert leftover.name.startswith(".") and not (leftover / "headwater-env.json").exists()

    again = declared_run("--environment=pypi", "run", cwd=tmp_path, cache=cache,
                         packages=packages, HW_IMPORT="pyfiglet")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "built in" in again.stdout and "Resolving" not in again.stdout
    assert [p.name for p in (cache / "envs").iterdir()] == [built.name]  # the leftover is gone

    # A published environment damaged by hand (its mark gone) is rebuilt, never used.
    (built / "headwater-env.json").unlink()
    shutil.rmtree(built / "lib")
    third = declared_run("--environment=pypi", "run", cwd=tmp_path, cache=cache,
                         packages=packages, HW_IMPORT="pyfiglet")
    assert third.returncode == 0, third.stdout + third.stderr
    assert "built in" in third.stdout
    assert (built / "headwater-env.json").is_file()
    assert [p.name for p in (cache / "envs").iterdir()] == [built.name]


def test_the_cache_deleted_between_runs_is_made_again(tmp_path):
    cache = tmp_path / "cache"
    packages = {"pyfiglet": "1.0.2"}
    first = declared_run("--environment=pypi", "run", cwd=tmp_path, cache=cache,
                         packages=packages, HW_IMPORT="pyfiglet")
    assert first.returncode == 0, first.stdout + first.stderr
    shutil.rmtree(cache)
    second = declared_run("--environment=pypi", "run", cwd=tmp_path, cache=cache,
                          packages=packages, HW_IMPORT="pyfiglet")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Resolving" in second.stdout and "built in" in second.stdout
    client(tmp_path)
    assert Flow("DeclaredFlow").latest_run["use"].task.data.versions == {"pyfiglet": "1.0.2"}


def test_ctrl_c_during_resolution_leaves_nothing_behind(tmp_path):
    cache = tmp_path / "cache"
    silent = socket.socket()  # an index that never answers: resolution waits on it
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        live = LiveRun(DECLARED_FLOW, "--environment=pypi", "run", cwd=tmp_path,
                       HEADWATER_ENV_CACHE=str(cache),
                       HW_PACKAGES=json.dumps({"hw-p11-never-resolved": "1.0"}),
                       UV_CACHE_DIR=str(tmp_path / "empty-uv-cache"),
                       UV_INDEX_URL=f"http://127.0.0.1:{silent.getsockname()[1]}/simple")
        try:
            live.wait_for(r"Resolving @pypi \(hw-p11-never-resolved")
            live.signal(signal.SIGINT, group=True)  # what Ctrl-C in a terminal sends
            code = live.finish()
        finally:
            live.kill()
    finally:
        silent.close()
    assert code == 130, live.output + live.stderr
    assert "Interrupted" in live.output + live.stderr
    assert no_headwater_traceback(live.stderr)
    assert not list((cache / "locks").iterdir())
    client(tmp_path)
    assert [f.id for f in Metaflow().flows] == []  # nothing was registered


def test_resume_keeps_the_lock_when_the_index_has_moved_on(tmp_path):
    # A package index of the test's own (a find-links folder beside PyPI) holds hwp11demo 1.0.
    links = tmp_path / "links"
    links.mkdir()
    _wheel(links, "hwp11demo", "1.0")
    cache = tmp_path / "cache"
    index = {"UV_FIND_LINKS": str(links)}
    failed = declared_run("--environment=pypi", "run", cwd=tmp_path, cache=cache,
                          packages={"hwp11demo": ""}, HW_IMPORT="hwp11demo", HW_FAIL="1", **index)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert 'VERSIONS {"hwp11demo": "1.0"}' in failed.stdout
    # The index moves on, and this machine forgets every lock and environment it had.
    _wheel(links, "hwp11demo", "2.0")
    shutil.rmtree(cache)
    resumed = declared_run("--environment=pypi", "resume", cwd=tmp_path, cache=cache,
                           packages={"hwp11demo": ""}, HW_IMPORT="hwp11demo", **index)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Resolving" not in resumed.stdout and "built in" in resumed.stdout
    client(tmp_path)
    origin, again = sorted(Flow("DeclaredFlow"), key=lambda r: int(r.id))
    assert again.origin_run_id == origin.id
    assert again["use"].task.data.versions == {"hwp11demo": "1.0"}
    # A new run of the same declaration resolves anew and gets the index's newer release.
    fresh = declared_run("--environment=pypi", "run", cwd=tmp_path, cache=tmp_path / "cache2",
                         packages={"hwp11demo": ""}, HW_IMPORT="hwp11demo", **index)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    client(tmp_path)
    assert Flow("DeclaredFlow").latest_run["use"].task.data.versions == {"hwp11demo": "2.0"}


def test_a_flow_file_importing_what_the_environment_lacks_says_so(tmp_path, env_cache):
    # The flow file imports numpy at its top (the test interpreter has it); the step's
    # environment holds only tabulate, so the file cannot load there: the task says why and how.
    assert importlib.util.find_spec("numpy") is not None
    done = declared_run("--environment=pypi", "run", cwd=tmp_path, cache=env_cache,
                        packages={"tabulate": "0.9.0"}, HW_TOP_IMPORT="numpy")
    assert done.returncode == 1
    use = [t.text for t in task_lines(done.stdout) if t.step == "use"]
    message = next(line for line in use if "cannot be imported" in line)
    assert "No module named 'numpy'" in message
    assert "add 'numpy' to the step's @pypi/@conda packages" in message
    assert no_headwater_traceback(done.stderr)


def test_resume_without_the_switch_follows_the_original_run(tmp_path, env_cache):
    failed = run(STEP_FLOW, "run", cwd=tmp_path, cache=env_cache, FAIL_FMT="1")
    assert failed.returncode == 1
    # `python flow.py resume`, as a user types it after a failure: no --environment.
    resumed = hw(STEP_FLOW, "resume", cwd=tmp_path, timeout=300,
                 HEADWATER_ENV_CACHE=str(env_cache))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Resuming in the @pypi/@conda environments of PypiStepFlow/" in resumed.stdout
    client(tmp_path)
    origin, again = sorted(Flow("PypiStepFlow"), key=lambda r: int(r.id))[-2:]
    assert again.origin_run_id == origin.id and again.successful
    assert again["join"].task.data.versions == ["0.9.0"]
    assert (next(iter(again["fmt"])).environment_info
            == next(iter(origin["fmt"])).environment_info)
    # Asked for explicitly, --environment=local still runs the steps in the flow's Python.
    failed = run(STEP_FLOW, "run", cwd=tmp_path, cache=env_cache, FAIL_FMT="1")
    local = hw(STEP_FLOW, "--environment=local", "resume", cwd=tmp_path, timeout=300,
               HEADWATER_ENV_CACHE=str(env_cache))
    assert local.returncode == 1 and "Note: @pypi/@conda (fmt)" in local.stdout
    assert "No module named 'tabulate'" in local.stdout


def test_a_conda_flow_without_the_switch_is_told_the_conda_one(tmp_path, conda_channel):
    done = hw(CONDA_FLOW, "check", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    done = hw(CONDA_FLOW, "run", cwd=tmp_path, HW_TEST_CHANNEL=str(conda_channel))
    # greet cannot import hwgreet in the flow's Python: the run fails, after the note said why.
    assert "Note: @pypi/@conda (greet) are ignored" in done.stdout
    assert "add --environment=conda" in done.stdout


def test_a_locked_release_gone_from_the_index_says_how_to_resolve_anew(tmp_path):
    links = tmp_path / "links"
    links.mkdir()
    wheel = _wheel(links, "hwp11demo", "1.0")
    cache = tmp_path / "cache"
    index = {"UV_FIND_LINKS": str(links), "UV_CACHE_DIR": str(tmp_path / "uv-cache")}
    first = declared_run("environment", "resolve", cwd=tmp_path, cache=cache,
                         packages={"hwp11demo": ""}, **index)
    assert first.returncode == 0, first.stdout + first.stderr
    # The release is withdrawn and this machine's environment and downloads are gone; the
    # cached lock still names it.
    wheel.unlink()
    _wheel(links, "hwp11demo", "2.0")
    shutil.rmtree(cache / "envs")
    shutil.rmtree(tmp_path / "uv-cache")
    done = declared_run("--environment=pypi", "run", cwd=tmp_path, cache=cache,
                        packages={"hwp11demo": ""}, **index)
    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert "step 'use' of DeclaredFlow" in out and "@pypi (hwp11demo;" in out
    assert f"delete {cache / 'locks'}" in out
    assert not task_lines(done.stdout) and no_headwater_traceback(done.stderr)
    # Doing what the fix says resolves anew, to the release the index has now.
    shutil.rmtree(cache / "locks")
    again = declared_run("--environment=pypi", "run", cwd=tmp_path, cache=cache,
                         packages={"hwp11demo": ""}, HW_IMPORT="hwp11demo", **index)
    assert again.returncode == 0, again.stdout + again.stderr
    client(tmp_path)
    assert Flow("DeclaredFlow").latest_run["use"].task.data.versions == {"hwp11demo": "2.0"}
