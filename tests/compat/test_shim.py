"""`headwater shim`: plain `python flow.py run` for a Metaflow-style flow, via a forwarding package."""

from __future__ import annotations

import os
import subprocess
import sys

from .helpers import flow_path, headwater_argv


def _env_with(shim_parent: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [shim_parent, env.get("PYTHONPATH")]))
    return env


def test_plain_python_runs_a_metaflow_flow_through_the_shim(tmp_path) -> None:
    shim = tmp_path / "shim"
    made = subprocess.run(headwater_argv("shim", str(shim)), capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert (shim / "metaflow" / "__init__.py").is_file()
    env = _env_with(str(shim))
    done = subprocess.run([sys.executable, flow_path("linear_flow.py"), "--quiet", "run"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    read = subprocess.run(
        [sys.executable, "-c",
         "import metaflow; from metaflow import Flow; "
         "from metaflow.exception import MetaflowNotFound; "
         "run = Flow('CompatLinearFlow').latest_run; "
         "print(metaflow.__version__, run.successful)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert read.returncode == 0, read.stderr
    assert "headwater" in read.stdout and "True" in read.stdout


def test_shim_needs_a_folder(tmp_path) -> None:
    done = subprocess.run(headwater_argv("shim"), capture_output=True, text=True)
    assert done.returncode == 2 and "usage" in done.stderr
    # an empty name is no folder either (it once meant the current one)
    done = subprocess.run(headwater_argv("shim", ""), capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 2 and "usage" in done.stderr
    assert list(tmp_path.iterdir()) == []


def _shim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(headwater_argv("shim", *args), capture_output=True, text=True)


def _refused(done: subprocess.CompletedProcess, *phrases: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Cannot write the shim:" in done.stderr
    for phrase in phrases:
        assert phrase in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_running_shim_again_over_its_own_package_is_fine(tmp_path) -> None:
    assert _shim(str(tmp_path)).returncode == 0
    init = tmp_path / "metaflow" / "__init__.py"
    first = init.read_text()
    again = _shim(str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert init.read_text() == first
    assert sorted(p.name for p in (tmp_path / "metaflow").iterdir()) == [
        "__init__.py", "cards.py", "client", "cmd", "datastore", "datatools", "decorators.py",
        "events.py",
        "exception.py", "flowspec.py", "graph.py", "includefile.py", "integrations.py", "lint.py",
        "metaflow_config.py", "metaflow_current.py", "metaflow_profile.py", "metaflow_version.py",
        "multicore_utils.py", "packaging_sys.py", "plugins", "runner", "unbounded_foreach.py",
        "user_configs", "user_decorators", "util.py"]  # no temporary files left behind


def test_a_metaflow_folder_headwater_did_not_write_is_left_alone_unless_forced(tmp_path) -> None:
    theirs = tmp_path / "metaflow"
    theirs.mkdir()
    (theirs / "__init__.py").write_text("REAL_METAFLOW = True\n")
    (theirs / "plugins.py").write_text("x = 1\n")
    done = _shim(str(tmp_path))
    _refused(done, f"{theirs} already exists and is a folder headwater shim did not write",
             f"fix: choose another folder, or replace it with headwater shim --force {tmp_path}")
    assert (theirs / "__init__.py").read_text() == "REAL_METAFLOW = True\n"
    forced = _shim("--force", str(tmp_path))
    assert forced.returncode == 0, forced.stderr
    assert "headwater shim" in (theirs / "__init__.py").read_text()
    assert not (theirs / "plugins.py").exists()  # replaced, not mixed with the old package


def test_a_file_named_metaflow_is_left_alone_unless_forced(tmp_path) -> None:
    (tmp_path / "metaflow").write_text("not a package\n")
    _refused(_shim(str(tmp_path)), "is a file headwater shim did not write")
    assert (tmp_path / "metaflow").read_text() == "not a package\n"
    assert _shim(str(tmp_path), "--force").returncode == 0
    assert (tmp_path / "metaflow" / "__init__.py").is_file()


def test_a_symlinked_metaflow_folder_is_refused_even_with_force(tmp_path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "__init__.py").write_text("precious = 1\n")
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "metaflow").symlink_to(target)
    for args in ((str(shim),), ("--force", str(shim))):
        _refused(_shim(*args), f"{shim / 'metaflow'} is a symbolic link (to {target})",
                 f"fix: remove the link (rm {shim / 'metaflow'})")
    assert (target / "__init__.py").read_text() == "precious = 1\n"
    assert sorted(p.name for p in target.iterdir()) == ["__init__.py"]


def test_a_symlinked_file_inside_a_shim_is_refused_and_its_target_untouched(tmp_path) -> None:
    assert _shim(str(tmp_path)).returncode == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    cards = tmp_path / "metaflow" / "cards.py"
    cards.unlink()
    cards.symlink_to(victim)
    _refused(_shim(str(tmp_path)), f"{cards} is a symbolic link (to {victim})")
    assert victim.read_text() == "keep me\n"
    assert cards.is_symlink()


def test_a_symlinked_folder_inside_a_shim_is_refused_and_nothing_written_through_it(tmp_path) -> None:
    assert _shim(str(tmp_path)).returncode == 0
    victim = tmp_path / "victim"
    victim.mkdir()
    plugins = tmp_path / "metaflow" / "plugins"
    subprocess.run(["rm", "-rf", str(plugins)], check=True)
    plugins.symlink_to(victim)
    _refused(_shim(str(tmp_path)), f"{plugins} is a symbolic link (to {victim})")
    assert list(victim.iterdir()) == []


def test_a_folder_that_cannot_hold_the_shim_is_one_clear_error(tmp_path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder\n")
    _refused(_shim(str(a_file)), f"cannot write {a_file / 'metaflow'}")
    assert a_file.read_text() == "not a folder\n"


def test_the_shim_serves_the_metaflow_command(tmp_path) -> None:
    """``metaflow.cmd.main_cli:start`` is Metaflow's console script; through the shim it is
    headwater's, with `code` among its commands, under ``python -m`` too."""
    assert _shim(str(tmp_path / "shim")).returncode == 0
    env = _env_with(str(tmp_path / "shim"))
    done = subprocess.run([sys.executable, "-m", "metaflow.cmd.main_cli", "help"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "code" in done.stdout and "help" in done.stdout
    listed = subprocess.run([sys.executable, "-c", "import sys; from metaflow.cmd.main_cli "
                             "import start; sys.exit(start())", "code", "--help"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    for command in ("pull", "diff", "diff-runs", "patch"):
        assert command in listed.stdout


def test_the_alias_serves_the_metaflow_command_only_when_named() -> None:
    code = ("import sys; from headwater.compat import alias; alias.install(); "
            "assert 'headwater.cli.metaflow_cmd' not in sys.modules; "
            "from metaflow.cmd.main_cli import start; print(start.name, sorted(start.commands))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["start", "['code',", "'help']"]
