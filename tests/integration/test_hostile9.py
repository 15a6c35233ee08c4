"""The ninth hostile-input audit: what the eighth left. A spin of a run older than a parameter
the flow declares now, ``@pypi`` direct references, an Airflow DAG name Airflow's parser refuses.
Each test runs the real thing (``python flow.py`` commands) or the real checks."""

from __future__ import annotations

import subprocess
import sys

from .faultkit import env_for, hw
from .flowrun import write_flow

# -- spin of a run older than a new parameter or config --------------------------------------------

OLD_FLOW = '''
from headwater import FlowSpec, step


class GrownFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        print("x is", self.x)


if __name__ == "__main__":
    GrownFlow()
'''

WITH_PARAMETER = OLD_FLOW.lstrip("\n").replace(
    "from headwater import FlowSpec, step",
    "from headwater import FlowSpec, Parameter, step").replace(
    "class GrownFlow(FlowSpec):",
    "class GrownFlow(FlowSpec):\n    threshold = Parameter('threshold', default=0.5)").replace(
    'print("x is", self.x)', 'print("x is", self.x, "threshold", self.threshold)')

WITH_CONFIG = OLD_FLOW.lstrip("\n").replace(
    "from headwater import FlowSpec, step",
    "from headwater import Config, FlowSpec, step").replace(
    "class GrownFlow(FlowSpec):",
    "class GrownFlow(FlowSpec):\n    settings = Config('settings', default_value={'a': 1})").replace(
    'print("x is", self.x)', 'print("x is", self.x, "a", self.settings.a)')


def test_a_spin_of_a_run_older_than_a_new_parameter_or_config_is_refused_naming_it(tmp_path):
    """Before: the spin recorded a spin run and its task failed in the step with "no artifact
    or attribute 'threshold'". Resume refused this since hostile8, through the same check."""
    flow = write_flow(tmp_path, "grown_flow.py", OLD_FLOW)
    assert hw(flow, "run", cwd=tmp_path).returncode == 0
    flow.write_text(WITH_PARAMETER)
    proc = hw(flow, "spin", "1/end", cwd=tmp_path, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out, out
    assert "parameter 'threshold' of flow GrownFlow came after run GrownFlow/1" in out, out
    assert "a spin reuses" in out and "--artifacts-module" in out, out
    assert "no artifact or attribute" not in out, out
    # Given a value in the artifacts module, the spin runs with it.
    module = tmp_path / "values.py"
    module.write_text("ARTIFACTS = {'threshold': 0.75}\n")
    proc = hw(flow, "spin", "1/end", "--artifacts-module", str(module), cwd=tmp_path,
              timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "threshold 0.75" in out, out
    # A config added since is refused the same way.
    flow.write_text(WITH_CONFIG)
    proc = hw(flow, "spin", "1/end", cwd=tmp_path, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out, out
    assert "config 'settings' of flow GrownFlow came after run GrownFlow/1" in out, out
    # A flow that declares nothing new spins as before.
    flow.write_text(OLD_FLOW)
    proc = hw(flow, "spin", "1/end", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- @pypi direct references ------------------------------------------------------------------------

PYPI_FLOW = '''
from headwater import Config, FlowSpec, pypi, step


class DepsFlow(FlowSpec):
    deps = Config("deps", default_value={"packages": {"mylib @ https://example.com/m.whl": ""}})

    @pypi(**deps)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DepsFlow()
'''


def test_a_direct_reference_from_a_config_in_another_form_is_refused_naming_the_step(tmp_path):
    """A direct reference is accepted on purpose (Metaflow's flows write them); one that is not
    one reference (here a URL with a version, which reached uv as ``URL==1.0``) is refused
    before a run exists, naming the step, the package and the form to write."""
    flow = write_flow(tmp_path, "deps_flow.py", PYPI_FLOW)
    bad = tmp_path / "bad.json"
    bad.write_text('{"packages": {"mylib @ https://example.com/m.whl": "1.0"}}')
    proc = hw(flow, "--environment", "pypi", "--config", "deps", str(bad), "run", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out, out
    assert ("step 'start': @pypi: package 'mylib @ https://example.com/m.whl' is a direct "
            "reference (a URL) and also has the version '1.0'") in out, out
    assert "Workflow starting" not in out, out
    # The flow's own direct reference passes the same check (without --environment pypi the
    # declaration is read and checked, nothing is built).
    proc = hw(flow, "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- an Airflow dag_id longer than Airflow reads ---------------------------------------------------

AIRFLOW_FLOW = '''
from headwater import FlowSpec, step


class DagFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DagFlow()
'''


def test_an_airflow_dag_id_longer_than_airflow_reads_is_refused_at_create(tmp_path):
    """Airflow's parser refuses a dag_id over 250 characters (its ID_LEN): `create` wrote the
    file and the DAG never appeared, the reason only in Airflow's import errors."""
    flow = write_flow(tmp_path, "dag_flow.py", AIRFLOW_FLOW)
    dag = tmp_path / "dag.py"

    def create(name: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(flow), "airflow", "create", str(dag),
                               "--name", name], cwd=tmp_path, env=env_for(tmp_path),
                              capture_output=True, text=True, timeout=120)

    proc = create("d" * 251)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out, out
    assert "(251 characters)" in out and "--name" in out and "250" in out, out
    assert "DagFlow" in out and not dag.exists()
    proc = create("d" * 250)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"dag_id={'d' * 250!r}" in dag.read_text()
