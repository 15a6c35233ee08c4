"""Rough edges a new user met walking the README and docs/*.md in a fresh folder.

Each test is one thing found by following the docs as written, on a non-editable install.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

from .flowrun import EXAMPLES, hermetic_env, run_cli, write_flow

FLOW_WITHOUT_MAIN = textwrap.dedent("""
    from headwater import FlowSpec, step


    class TrainFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
""")


def test_a_script_that_never_starts_its_flow_says_what_to_add(tmp_path):
    # A snippet copied from the docs without ``if __name__ == "__main__": TrainFlow()`` made
    # ``python train_flow.py run`` exit 0 with no output at all.
    path = write_flow(tmp_path, "train_flow.py", FLOW_WITHOUT_MAIN)
    proc = run_cli(path, "run", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    assert "train_flow.py defines the flow TrainFlow but never starts it" in proc.stderr
    assert 'if __name__ == "__main__":\n            TrainFlow()' in proc.stderr
    assert "headwater run train_flow.py" in proc.stderr
    assert not (tmp_path / ".headwater").exists()  # nothing ran


def test_the_hint_is_silent_when_the_script_uses_its_flow(tmp_path):
    started = write_flow(tmp_path, "started.py",
                         FLOW_WITHOUT_MAIN + '\n\nif __name__ == "__main__":\n    TrainFlow()\n')
    proc = run_cli(started, "run", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    assert "never starts it" not in proc.stderr + proc.stdout
    # A script that names the class elsewhere uses it some other way: nothing to say.
    used = write_flow(tmp_path, "used.py", FLOW_WITHOUT_MAIN + "\n\nprint(TrainFlow.__name__)\n")
    proc = run_cli(used, cwd=tmp_path, hermetic=True)
    assert proc.stdout == "TrainFlow\n" and proc.stderr == ""
    # headwater run FILE imports it under its own name: the flow runs, no hint.
    bare = write_flow(tmp_path, "bare.py", FLOW_WITHOUT_MAIN)
    proc = subprocess.run([sys.executable, "-m", "headwater", "run", str(bare)], cwd=tmp_path,
                          env=hermetic_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Run TrainFlow/2 succeeded" in proc.stdout + proc.stderr
    assert "never starts it" not in proc.stdout + proc.stderr
    # Run by another program (runpy, as a test runner might): that program's business.
    proc = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({str(bare)!r}, run_name='__main__')"],
        cwd=tmp_path, env=hermetic_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_the_extending_example_installs_with_pip_as_the_docs_say(tmp_path):
    # docs/extending.md showed the example package's entry points but the folder had no
    # pyproject.toml: `pip install examples/extending` could not work.
    site = tmp_path / "site"
    source = shutil.copytree(EXAMPLES / "extending", tmp_path / "extending")  # pip builds in it
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
         str(source)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    entry_points = next(site.glob("headwater_audit-*.dist-info")) / "entry_points.txt"
    assert "audited = headwater_audit:EXECUTOR" in entry_points.read_text()
    audit = tmp_path / "audit.log"
    paths = [str(site), *sys.path]
    proc = run_cli(EXAMPLES / "pets_flow.py", "run", "--executor", "audited",
                   "--audit-file", str(audit), cwd=tmp_path, hermetic=True,
                   env={"PYTHONPATH": ":".join(p for p in paths if p)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert audit.read_text().split() == ["PetsFlow/1/start/1", "PetsFlow/1/add_pet/2",
                                         "PetsFlow/1/end/3"]
