"""Rough edges a new user met walking the README and docs/*.md in a fresh folder.

Each test is one thing found by following the docs as written, on a non-editable install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

from .flowrun import EXAMPLES, hermetic_env, run_cli, start_cli, write_flow

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


PARAMETER_AND_STEP = textwrap.dedent("""
    from headwater import FlowSpec, Parameter, step


    class DupFlow(FlowSpec):
        train = Parameter("train", default=1)

        @step
        def start(self):
            self.next(self.train)

        @step
        def train(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        DupFlow()
""")


def test_a_parameter_hidden_by_a_step_of_its_name_is_warned_about(tmp_path):
    # Python keeps the last binding of a class body: the Parameter vanished without a word, and
    # `run --train 3` then said only "No such option '--train'".
    path = write_flow(tmp_path, "dup.py", PARAMETER_AND_STEP)
    for command in ("check", "run"):
        proc = run_cli(path, command, cwd=tmp_path, hermetic=True)
        assert proc.returncode == 0, proc.stderr
        assert (f"Warning: {path}:12: DupFlow binds the name 'train' more than once: a Parameter "
                "(line 5), then a step (line 12); Python keeps only the last, so the Parameter "
                "of line 5 is ignored. Fix: give each step and parameter its own name"
                ) in proc.stdout


def test_a_step_defined_twice_is_warned_about_and_explains_the_graph_error_it_causes(tmp_path):
    twice = write_flow(tmp_path, "twice.py", PARAMETER_AND_STEP.replace(
        'train = Parameter("train", default=1)', "@step\n    def end(self):\n        pass"))
    proc = run_cli(twice, "check", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    assert "binds the name 'end' more than once: a step (line 6), then a step (line 18)" \
        in proc.stdout
    # A Parameter named like the end step hides it: the graph error says why it happened.
    hidden_end = write_flow(tmp_path, "hidden_end.py", """
        from headwater import FlowSpec, Parameter, step


        class HiddenEndFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

            end = Parameter("end", default=1)


        if __name__ == "__main__":
            HiddenEndFlow()
    """)
    proc = run_cli(hidden_end, "run", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 1
    assert "Invalid flow graph" in proc.stderr
    assert (f"note: {hidden_end}:13: HiddenEndFlow binds the name 'end' more than once: a step "
            "(line 10), then a Parameter (line 13)") in proc.stderr
    assert "HiddenEndFlow/1" not in proc.stdout  # refused before a run was recorded
    # A subclass overriding its base's step is the normal way to change it: no warning.
    sub = write_flow(tmp_path, "sub.py", PARAMETER_AND_STEP.replace(
        'train = Parameter("train", default=1)', "x = 1").replace(
        "if __name__", "class SubFlow(DupFlow):\n    @step\n    def train(self):\n"
        "        self.next(self.end)\n\n\nif __name__").replace("DupFlow()", "SubFlow()"))
    proc = run_cli(sub, "check", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stdout + proc.stderr


FAILING = textwrap.dedent("""
    import os

    from headwater import FlowSpec, step


    class FailFlow(FlowSpec):
        @step
        def start(self):
            if not os.path.exists("fixed"):
                raise ValueError("not fixed yet")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        FailFlow()
""")


def test_a_failed_run_says_how_to_resume_it_as_the_user_typed_the_run(tmp_path):
    path = write_flow(tmp_path, "fail_flow.py", FAILING)
    proc = run_cli(path, "run", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[-1] == "Run FailFlow/1 failed: FailFlow/1/start/1."
    assert lines[-2] == ("Once it is fixed, `python fail_flow.py resume` runs again what failed "
                         "and what follows it, reusing what succeeded.")
    # Through `python -m headwater`, the hint (and every other command it names) says so; it
    # said `python __main__.py ...` before.
    proc = subprocess.run([sys.executable, "-m", "headwater", "run", "fail_flow.py"],
                          cwd=tmp_path, env=hermetic_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert "`python -m headwater resume fail_flow.py` runs again" in proc.stdout
    (tmp_path / "fixed").touch()
    proc = subprocess.run([sys.executable, "-m", "headwater", "resume", "fail_flow.py"],
                          cwd=tmp_path, env=hermetic_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "Done! Run FailFlow/3 succeeded."


WAITING = textwrap.dedent("""
    import os
    import time

    from headwater import FlowSpec, step


    class WaitFlow(FlowSpec):
        @step
        def start(self):
            print("hello from start", flush=True)
            while not os.path.exists("go"):
                time.sleep(0.05)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        WaitFlow()
""")


def test_logs_of_a_running_task_show_its_output_so_far(tmp_path):
    # `logs 1/start` of a running task printed nothing at all, and task.stdout was "", while
    # the web UI was already following that output.
    path = write_flow(tmp_path, "wait_flow.py", WAITING)
    proc = start_cli(path, "run", cwd=tmp_path, env=hermetic_env())
    try:
        deadline = time.monotonic() + 300
        while True:  # the scheduler writes the copy once the task has run for a second
            logs = run_cli(path, "logs", "1/start", cwd=tmp_path, hermetic=True)
            if "hello from start" in logs.stdout or time.monotonic() > deadline:
                break
        assert logs.returncode == 0, logs.stderr
        assert logs.stdout == "hello from start\n"
        assert "[WaitFlow/1/start/1] still running: its output so far" in logs.stderr
        script = ("from headwater import Task; t = Task('WaitFlow/1/start/1'); "
                  "print(repr(t.stdout), t.finished)")
        client = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=hermetic_env(),
                                capture_output=True, text=True, timeout=120)
        assert client.stdout == "'hello from start\\n' False\n", client.stderr
    finally:
        (tmp_path / "go").touch()
        proc.communicate(timeout=300)
    assert proc.returncode == 0
    logs = run_cli(path, "logs", "1/start", cwd=tmp_path, hermetic=True)
    assert logs.stdout == "hello from start\n" and "still running" not in logs.stderr


def test_help_and_version_are_commands_of_the_flow_as_in_metaflow(tmp_path):
    # `python flow.py help` and `python flow.py version` are Metaflow commands; both were
    # "No such command".
    help_ = run_cli(EXAMPLES / "pets_flow.py", "help", cwd=tmp_path, hermetic=True)
    assert help_.returncode == 0, help_.stderr
    assert "Commands:" in help_.stdout and "  run " in help_.stdout
    # Metaflow's `check --warnings` (pylint's warnings) is accepted too.
    check = run_cli(EXAMPLES / "pets_flow.py", "check", "--warnings", cwd=tmp_path, hermetic=True)
    assert check.returncode == 0 and "The graph looks good!" in check.stdout, check.stderr
    version = run_cli(EXAMPLES / "pets_flow.py", "version", cwd=tmp_path, hermetic=True)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("headwater ") and len(version.stdout.split()) == 2


def test_output_raw_prints_the_graph_as_metaflow_does(tmp_path):
    # Metaflow's `output-raw [--json]` was "No such command".
    raw = run_cli(EXAMPLES / "branch_flow.py", "output-raw", cwd=tmp_path, hermetic=True)
    assert raw.returncode == 0, raw.stderr
    assert raw.stderr == "Internal representation of the flow:\n"
    assert raw.stdout.splitlines() == ["[start] split -> a, b", "[a] linear -> join",
                                       "[b] linear -> join", "[join] join -> end", "[end] end -> "]
    as_json = run_cli(EXAMPLES / "branch_flow.py", "output-raw", "--json", cwd=tmp_path,
                      hermetic=True)
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["graph_structure"] == ["start", [["a"], ["b"]], "join", "end"]
    assert document["graph"]["a"]["next"] == ["join"] and document["graph"]["a"]["type"] == "linear"


def test_card_get_of_a_step_with_several_tasks_says_which_it_shows(tmp_path):
    # It said "3 task(s) and 1 card(s) match", as if one card were found among three tasks.
    flow = EXAMPLES / "foreach_flow.py"
    ran = run_cli(flow, "--with", "card", "run", cwd=tmp_path, hermetic=True)
    assert ran.returncode == 0, ran.stderr
    got = run_cli(flow, "card", "get", "make_title", "out.html", cwd=tmp_path, hermetic=True)
    assert got.returncode == 0, got.stderr
    listed = run_cli(flow, "card", "list", "make_title", cwd=tmp_path, hermetic=True)
    first = listed.stdout.split()[0]  # `card list` starts with the task it shows first
    assert first.startswith("ForeachFlow/1/make_title/"), listed.stdout
    assert (f"3 tasks match 'make_title'; showing <Card default of {first}>, the first in "
            "`card list`'s order (give RUN_ID/STEP/TASK_ID for another)") in got.stderr
    assert (tmp_path / "out.html").read_text().startswith("<!")


LOST_AT_JOIN = textwrap.dedent("""
    from headwater import FlowSpec, step


    class LostFlow(FlowSpec):
        @step
        def start(self):
            self.raw = [1, 2]
            self.next(self.work, foreach="raw")

        @step
        def work(self):
            self.sq = self.input ** 2
            self.next(self.join)

        @step
        def join(self, inputs):
            try:
                self.raw
            except AttributeError as err:
                print("in join:", err)
            self.total = sum(i.sq for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            try:
                self.raw
            except AttributeError as err:
                print("after join:", err)


    if __name__ == "__main__":
        LostFlow()
""")


def test_an_artifact_a_join_did_not_pass_on_says_why(tmp_path):
    # Metaflow's most common surprise: artifacts set before a join are gone after it unless the
    # join sets or merges them. The AttributeError said only "has no artifact".
    path = write_flow(tmp_path, "lost.py", LOST_AT_JOIN)
    proc = run_cli(path, "run", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 0, proc.stderr
    assert ("in join: flow LostFlow has no artifact or attribute 'raw' in step 'join'; in a join "
            "step, read it from an input (inputs[0].raw), or call self.merge_artifacts(inputs) "
            "before reading it") in proc.stdout
    assert ("after join: flow LostFlow has no artifact or attribute 'raw' in step 'end'; if it "
            "was set before the join step 'join', that join did not pass it on: a join keeps "
            "only what it sets, so set self.raw there or call self.merge_artifacts(inputs) in it"
            ) in proc.stdout


BOOL_PARAMETER = textwrap.dedent("""
    from headwater import FlowSpec, Parameter, step


    class BoolFlow(FlowSpec):
        debug = Parameter("debug", default=False, type=bool)
        alpha = Parameter("alpha", default=0.1)

        @step
        def start(self):
            print(self.debug, self.alpha)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        BoolFlow()
""")


def test_an_option_that_swallowed_the_next_one_is_named(tmp_path):
    # `run --debug --alpha 0.5` (a boolean parameter written as a flag) said only
    # "Got unexpected extra argument (0.5)".
    path = write_flow(tmp_path, "bool_flow.py", BOOL_PARAMETER)
    proc = run_cli(path, "run", "--debug", "--alpha", "0.5", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 2
    assert ("Error: Got unexpected extra argument (0.5): --debug took '--alpha' as its value. "
            "Every parameter takes a value, a boolean one too: give --debug its own "
            "(--debug true)") in proc.stderr
    assert not (tmp_path / ".headwater").exists()
    fine = run_cli(path, "run", "--debug", "true", "--alpha", "0.5", cwd=tmp_path, hermetic=True)
    assert fine.returncode == 0, fine.stderr
    other = run_cli(path, "run", "stray", cwd=tmp_path, hermetic=True)
    assert other.returncode == 2
    assert "Error: Got unexpected extra argument (stray)\n" in other.stderr


def test_a_reader_that_left_gets_no_traceback(tmp_path):
    # `headwater configure show | head -1` printed a BrokenPipeError traceback when head had
    # gone before the last lines were written. Here the pipe's reader is gone from the start.
    for args in (["configure", "show"], ["--help"], ["version"]):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            proc = subprocess.run([sys.executable, "-m", "headwater", *args], cwd=tmp_path,
                                  env=hermetic_env(), stdout=write_end, stderr=subprocess.PIPE,
                                  text=True, timeout=120)
        finally:
            os.close(write_end)
        # status 0 since leftovers7, as `run | head -1` (tests/integration/test_reader_left.py)
        assert proc.returncode == 0, (args, proc.stderr)
        assert proc.stderr == "", (args, proc.stderr)


PYPI_STEP = textwrap.dedent("""
    from headwater import FlowSpec, pypi, step


    class PypiFlow(FlowSpec):
        @pypi(packages={"not-installed-here": "1.0"})
        @step
        def start(self):
            import not_installed_here  # noqa: F401
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        PypiFlow()
""")


def test_a_missing_module_in_a_step_whose_pypi_is_ignored_names_the_switch(tmp_path):
    # Without --environment the @pypi declaration is ignored (one Note line at launch); the
    # step's ModuleNotFoundError then said nothing of why the package was not there.
    path = write_flow(tmp_path, "pypi_flow.py", PYPI_STEP)
    proc = run_cli(path, "run", cwd=tmp_path, hermetic=True)
    assert proc.returncode == 1
    assert "ModuleNotFoundError: No module named 'not_installed_here'" in proc.stdout
    assert ("[1/start/1 (pid ") in proc.stdout
    assert ("] Step 'start' declares @pypi packages, which this run ignores: add "
            "--environment=pypi to build its environment\n") in proc.stdout
