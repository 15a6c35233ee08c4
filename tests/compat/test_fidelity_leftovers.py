"""What the mfdocs round left different from Metaflow, made the same (the mfdocs2 round).

Each flow imports ``metaflow``, served by ``headwater shim``, and runs in its own process, as a
Metaflow user's would: ``str()`` of a ``@catch`` variable, the help of a parameter whose default
is a function, a missing S3 key, and the output of ``show`` and ``tag`` that scripts parse. What
Metaflow 2.19.38 prints for the same flows was read side by side (docs/decisions.md, mfdocs2).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid

import servers

from .helpers import shim_folder

_CATCH_FLOW = """
    import os

    from metaflow import FlowSpec, catch, step


    class CatchTextFlow(FlowSpec):
        @catch(var="error", print_exception=False)
        @step
        def start(self):
            raise ValueError("boom on purpose")
            self.next(self.crash)

        @catch(var="crashed", print_exception=False)
        @step
        def crash(self):
            os._exit(3)
            self.next(self.end)

        @step
        def end(self):
            print("STR<<" + str(self.error) + ">>")
            print("REPR-SAME", repr(self.error) == str(self.error))
            print("CRASH<<" + str(self.crashed) + ">>")
            print("PARTS", self.error.type, "|", self.error.exception)


    if __name__ == "__main__":
        CatchTextFlow()
"""

_HELP_FLOW = """
    from metaflow import FlowSpec, Parameter, step


    def broken(ctx):
        raise RuntimeError("cannot tell yet")


    class HelpDefaultFlow(FlowSpec):
        when = Parameter("when", help="A stamp.", type=int, default=lambda ctx: 40 + 2)
        label = Parameter("label", help="A label.", default=lambda ctx: ctx.flow_name + "-x")
        later = Parameter("later", help="Not known yet.", default=broken)
        plain = Parameter("plain", help="Plain.", default=3)

        @step
        def start(self):
            print("when", self.when, "label", self.label)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        HelpDefaultFlow()
"""

_SHOW_FLOW = '''
    """The module docstring."""
    from metaflow import FlowSpec, retry, step


    class ShowTagFlow(FlowSpec):
        """What the flow is for.

        More about it."""

        @step
        def start(self):
            """Begin here.

            Details."""
            self.items = [1, 2]
            self.next(self.each, foreach="items")

        @retry(times=1)
        @step
        def each(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            """Join them."""
            self.next(self.end)

        @step
        def end(self):
            """The end."""


    if __name__ == "__main__":
        ShowTagFlow()
'''


def _python(tmp_path, *args: str, env: dict[str, str] | None = None,
            user: str = "alice") -> subprocess.CompletedProcess:
    """``python ARGS`` in the test's folder as ``user``, ``import metaflow`` served by the shim."""
    child = {**os.environ, **(env or {}), "PYTHONPATH": shim_folder(tmp_path), "USER": user}
    child.pop("HEADWATER_USER", None)
    child.pop("METAFLOW_USER", None)
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=child, capture_output=True,
                          text=True, timeout=300)


def _write(tmp_path, name: str, source: str) -> str:
    (tmp_path / name).write_text(textwrap.dedent(source))
    return name


def _between(text: str, start: str, end: str = ">>") -> str:
    """What the flow printed between ``start`` and ``end``, without the log prefixes."""
    lines = [line.split("] ", 1)[-1] if line.startswith("20") else line
             for line in text.splitlines()]
    joined = "\n".join(lines)
    return joined[joined.index(start) + len(start):joined.index(end, joined.index(start))]


def test_a_caught_exception_prints_as_its_traceback(tmp_path):
    flow = _write(tmp_path, "catchflow.py", _CATCH_FLOW)
    done = _python(tmp_path, flow, "run")
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    text = _between(out, "STR<<")
    assert text.startswith("Traceback (most recent call last):"), text
    assert 'raise ValueError("boom on purpose")' in text
    assert text.rstrip().endswith("ValueError: boom on purpose")
    assert "REPR-SAME True" in out
    assert "PARTS builtins.ValueError | boom on purpose" in out
    # A crash raised nothing: Metaflow's "[no stacktrace]" line, then the type and message.
    crashed = _between(out, "CRASH<<")
    assert crashed.startswith("[no stacktrace]\n"), crashed
    assert "FailureHandledByCatch" in crashed


def test_run_help_shows_what_a_default_function_gives(tmp_path):
    flow = _write(tmp_path, "helpflow.py", _HELP_FLOW)
    shown = _python(tmp_path, flow, "run", "--help")
    assert shown.returncode == 0, shown.stderr
    lines = {line.split()[0]: " ".join(line.split()) for line in shown.stdout.splitlines()
             if line.strip().startswith("--")}
    assert lines["--when"].endswith("[default: 42]"), lines["--when"]
    assert lines["--label"].endswith("[default: HelpDefaultFlow-x]"), lines["--label"]
    assert lines["--plain"].endswith("[default: 3]"), lines["--plain"]
    # A function that fails is left out of the help; the run is where it is reported.
    assert "[default" not in lines["--later"] and "cannot tell yet" not in shown.stdout


def test_a_missing_s3_key_raises_metaflows_class_and_message(tmp_path, moto_endpoint):
    bucket = "headwater-leftovers"
    servers.make_bucket(moto_endpoint, bucket)
    root = f"s3://{bucket}/{uuid.uuid4().hex}"
    script = _write(tmp_path, "s3script.py", f"""
        from metaflow import S3
        from metaflow.plugins.datatools.s3 import MetaflowS3NotFound

        with S3(s3root={root!r}) as s3:
            try:
                s3.get("no-such-key")
            except MetaflowS3NotFound as err:
                print("CLASS", type(err).__name__)
                print("FIRST", str(err).splitlines()[0])
                print("MESSAGE", err.message)
            s3.get("no-such-key")
    """)
    done = _python(tmp_path, script, env=servers.s3_env(moto_endpoint))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "CLASS MetaflowS3NotFound" in done.stdout
    assert f"FIRST {root}/no-such-key" in done.stdout
    assert f"MESSAGE {root}/no-such-key" in done.stdout
    # Uncaught: headwater's report names Metaflow's class and headline, then the URL.
    assert "S3 object not found" in done.stderr and ".MetaflowS3NotFound" in done.stderr
    assert f"{root}/no-such-key" in done.stderr


def test_show_prints_metaflows_lines(tmp_path):
    flow = _write(tmp_path, "showflow.py", _SHOW_FLOW)
    shown = _python(tmp_path, flow, "show")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "Step start", "    Begin here.", "    ", "    Details.", "    => each",
        "@retry", "Step each", "    ?", "    => join",
        "Step join", "    Join them.", "    => end",
        "Step end", "    The end."]
    assert "What the flow is for." in shown.stderr


def test_tag_commands_print_metaflows_layout(tmp_path):
    flow = _write(tmp_path, "showflow.py", _SHOW_FLOW)
    for tag, user in (("first", "alice"), ("second", "bob")):
        ran = _python(tmp_path, flow, "run", "--tag", tag, user=user)
        assert ran.returncode == 0, ran.stderr
    # Every user's runs, as Metaflow's default: one heading, then every tag in columns.
    listed = _python(tmp_path, flow, "tag", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[:4] == ["", "System tags and tags; only tags can be modified", "-" * 56, ""]
    shown = {word for line in lines[4:] for word in line.split()}
    assert {"first", "second", "user:alice", "user:bob", "runtime:dev"} <= shown
    # --quiet: one parseable line a run, "RUNS ; SYSTEM ; USER".
    quiet = _python(tmp_path, flow, "--quiet", "tag", "list", "--group-by-run")
    assert quiet.returncode == 0, quiet.stderr
    rows = sorted(line.split(" ; ") for line in quiet.stdout.splitlines())
    assert [(run, user) for run, _, user in rows] == [("ShowTagFlow/1", "first"),
                                                      ("ShowTagFlow/2", "second")]
    assert "user:alice" in rows[0][1].split(",")
    mine = _python(tmp_path, flow, "--quiet", "tag", "list", "--my-runs")
    assert mine.stdout.split(" ; ")[0] == "ShowTagFlow/1", mine.stdout
    by_tag = _python(tmp_path, flow, "--quiet", "tag", "list", "--group-by-tag",
                     "--hide-system-tags")
    assert by_tag.stdout.splitlines() == ["user:first ; ShowTagFlow/1",
                                          "user:second ; ShowTagFlow/2"]
    added = _python(tmp_path, flow, "tag", "add", "--run-id", "1", "third")
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines()[0] == "Operation successful. New tags:"
    assert {"first", "third"} <= {w for line in added.stdout.splitlines()[5:] for w in line.split()}
