"""A small ``metaflow_extensions`` package (org ``acme``: a config value and a Metaflow-style step
decorator), installed for a test outside any flow's folder: the tests that check it travels in a
code package (to Dask workers, to deployed tasks) launch with it on ``PYTHONPATH`` and run the
tasks without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXTENSION_FILES = {
    "acme/config/mfextinit_acme.py": "ACME_LIMIT = 7\n",
    "acme/plugins/mfextinit_acme.py":
        'STEP_DECORATORS_DESC = [("acme_step", ".acme_decorators.AcmeStep")]\n',
    "acme/plugins/acme_decorators.py": """
from metaflow.decorators import StepDecorator


class AcmeStep(StepDecorator):
    name = "acme_step"

    def task_pre_step(self, step_name, task_datastore, metadata, run_id, task_id, flow, graph,
                      retry_count, max_user_code_retries, ubf_context, inputs):
        flow.pre = "acme:" + step_name
""",
}


def write_extension(tmp_path: Path) -> tuple[Path, Path]:
    """``(the folder holding metaflow_extensions/acme, a metaflow shim folder)``, both made under
    ``tmp_path``: put both on ``PYTHONPATH`` where the extension is installed, only the shim
    where it is not."""
    extensions = tmp_path / "ext"
    for relative, text in EXTENSION_FILES.items():
        path = extensions / "metaflow_extensions" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    shim = tmp_path / "shim"
    subprocess.run([sys.executable, "-m", "headwater", "shim", str(shim)], check=True,
                   capture_output=True, timeout=120)
    return extensions, shim
