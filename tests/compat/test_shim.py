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


def test_shim_needs_a_folder() -> None:
    done = subprocess.run(headwater_argv("shim"), capture_output=True, text=True)
    assert done.returncode == 2 and "usage" in done.stderr
