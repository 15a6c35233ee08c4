"""Bad input gets a clear error that names what is wrong, never a traceback of headwater's code.

Input refused at launch (a parameter, ``--with``, a decorator option) records no run at all; input
found wrong while the run goes (a foreach over the wrong thing) fails the task that met it, and the
run is recorded as failed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from headwater import Flow, Run, Step, Task
from headwater.client._errors import TaggingError
from headwater.exceptions import NotFoundError

from .faultkit import client, datastore, env_for, fault_flow, hw, no_headwater_traceback
from .flowrun import run_count, task_lines

INPUT = fault_flow("input_flow.py")
BAD_OPTION = fault_flow("bad_option_flow.py")
RESERVED = fault_flow("reserved_assign_flow.py")


def refused(proc: subprocess.CompletedProcess, headline: str, *phrases: str) -> None:
    """Exit 1 (2 for a parameter: a usage error, as Metaflow's click exits), ``headline:`` then a
    message holding every phrase, no traceback of ours."""
    assert proc.returncode == (2 if headline == "Invalid parameter" else 1), (
        proc.stdout + proc.stderr)
    assert f"{headline}:" in proc.stderr, proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert no_headwater_traceback(proc.stdout + proc.stderr)


def nothing_recorded(tmp_path) -> None:
    assert run_count(datastore(tmp_path)) == 0


# ---------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(("args", "phrases"), [
    (["--needed", "x", "--count", "many"],
     ["parameter 'count' expects an integer; got 'many'", "fix: pass e.g. --count 3"]),
    ([], ["required parameter 'needed'", "fix: pass --needed VALUE"]),
    (["--needed", "x", "--conf", "{depth: 1"],
     ["parameter 'conf' expects JSON; could not parse '{depth: 1'", "fix:"]),
    (["--needed", "x", "--notes", "no_such_notes.txt"],
     ["IncludeFile 'notes': file 'no_such_notes.txt' does not exist", "fix:"]),
])
def test_a_bad_parameter_is_refused_before_anything_runs(tmp_path, args, phrases):
    proc = hw(INPUT, "run", *args, cwd=tmp_path)
    refused(proc, "Invalid parameter", *phrases)
    nothing_recorded(tmp_path)


@pytest.mark.parametrize("depth", [300, 60_000])
def test_a_deeply_nested_json_parameter_is_refused_naming_it(tmp_path, depth):
    # 60,000 levels used to end in a RecursionError traceback through headwater's frames;
    # 300 parsed, then failed to pickle with advice to `del self.conf`.
    deep = "[" * depth + "]" * depth
    proc = hw(INPUT, "run", "--needed", "x", "--conf", deep, cwd=tmp_path)
    refused(proc, "Invalid parameter",
            "parameter 'conf': its JSON value is nested more than 200 levels deep",
            "fix: flatten the value of --conf")
    assert "RecursionError" not in proc.stdout + proc.stderr
    nothing_recorded(tmp_path)


DEEP_FLOW = """
from headwater import Config, FlowSpec, JSONType, Parameter, step

def deep_list(ctx=None):
    return "[" * 100_000 + "]" * 100_000  # JSON text, as a JSONType default function returns

class DeepFlow(FlowSpec):
    conf = Parameter("conf", type=JSONType, default=deep_list)
    cfg = Config("cfg", default=None, required=False)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    DeepFlow()
"""


def test_deep_json_from_a_default_a_config_file_or_the_environment_is_refused_by_name(tmp_path):
    # 100,000 levels cannot travel on a command line (128 KiB per argument); they come from a
    # parameter's default function, a config file or HEADWATER_FLOW_CONFIG_VALUE instead.
    flow = tmp_path / "deep_flow.py"
    flow.write_text(DEEP_FLOW)
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "deep.json").write_text(deep)
    proc = hw(flow, "run", cwd=tmp_path)
    refused(proc, "Invalid parameter",
            "parameter 'conf': its JSON value is nested more than 200 levels deep")
    fine = ("run", "--conf", "[]")
    for args, env, phrase in (
            (("--config", "cfg", "deep.json", *fine), {},
             "config 'cfg' (deep.json) is nested more than 200 levels deep"),
            (fine, {"HEADWATER_FLOW_CONFIG_VALUE":  # 128 KiB per variable too
                    '{"cfg": ' + "[" * 60_000 + "]" * 60_000 + "}"},
             "HEADWATER_FLOW_CONFIG_VALUE is nested more than 200 levels deep")):
        proc = hw(flow, *args, cwd=tmp_path, **env)
        refused(proc, "Invalid configuration", phrase)
        assert "RecursionError" not in proc.stdout + proc.stderr
    nothing_recorded(tmp_path)


def test_an_include_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    (tmp_path / "big.txt").write_text("x" * 2048)
    proc = hw(INPUT, "run", "--needed", "x", "--notes", "big.txt", cwd=tmp_path,
              HEADWATER_INCLUDE_FILE_MAX="1K")
    refused(proc, "Invalid parameter",
            "IncludeFile 'notes': 'big.txt' is larger than the limit of 1024 bytes "
            "(it has 2048 bytes)",
            "fix: pass a smaller file with --notes, or raise the limit with "
            "HEADWATER_INCLUDE_FILE_MAX=")
    nothing_recorded(tmp_path)
    ok = hw(INPUT, "run", "--needed", "x", "--notes", "big.txt", cwd=tmp_path,
            HEADWATER_INCLUDE_FILE_MAX="4K")
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_an_include_file_that_never_ends_is_refused_at_the_limit(tmp_path):
    # /dev/zero used to be read without end (8 GB in 15 s).
    proc = hw(INPUT, "run", "--needed", "x", "--notes", "/dev/zero", cwd=tmp_path,
              HEADWATER_INCLUDE_FILE_MAX="1M")
    refused(proc, "Invalid parameter",
            "IncludeFile 'notes': '/dev/zero' is larger than the limit of 1048576 bytes "
            "(it does not end there",
            "HEADWATER_INCLUDE_FILE_MAX")
    nothing_recorded(tmp_path)


def test_an_include_file_naming_a_pipe_nothing_writes_to_is_refused_not_waited_on(tmp_path):
    # Before, the launch opened the pipe and waited for a writer for ever.
    os.mkfifo(tmp_path / "pipe")
    proc = hw(INPUT, "run", "--needed", "x", "--notes", "pipe", cwd=tmp_path,
              HEADWATER_INCLUDE_FILE_WAIT="0.5")
    refused(proc, "Invalid parameter",
            "IncludeFile 'notes': nothing wrote to the pipe 'pipe' within 0.5 s",
            "HEADWATER_INCLUDE_FILE_WAIT=SECONDS")
    nothing_recorded(tmp_path)


def test_an_include_file_read_from_a_pipe_with_a_writer_gets_what_was_written(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    writer = subprocess.Popen(["sh", "-c", "printf 'piped notes' > pipe"], cwd=tmp_path)
    try:
        proc = hw(INPUT, "run", "--needed", "x", "--notes", "pipe", cwd=tmp_path)
    finally:
        writer.wait(timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    client(tmp_path)
    assert Flow("InputFlow").latest_run.data.notes == "piped notes"


def test_an_include_file_naming_a_folder_is_refused_by_name(tmp_path):
    (tmp_path / "notes").mkdir()
    proc = hw(INPUT, "run", "--needed", "x", "--notes", "notes", cwd=tmp_path)
    refused(proc, "Invalid parameter", "IncludeFile 'notes': 'notes' is a folder, not a file",
            "fix: pass a file with --notes PATH")
    nothing_recorded(tmp_path)


def test_an_include_file_limit_that_is_not_a_size_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("some notes")
    proc = hw(INPUT, "run", "--needed", "x", "--notes", "notes.txt", cwd=tmp_path,
              HEADWATER_INCLUDE_FILE_MAX="lots")
    refused(proc, "Invalid parameter",
            "IncludeFile 'notes': HEADWATER_INCLUDE_FILE_MAX='lots' is not a size")
    nothing_recorded(tmp_path)


def test_an_include_file_with_an_unknown_encoding_is_refused_by_name(tmp_path):
    # Before, the run started and the launch ended in a LookupError traceback.
    flow = tmp_path / "encoding_flow.py"
    flow.write_text(
        "from headwater import FlowSpec, IncludeFile, step\n"
        "class EncodingFlow(FlowSpec):\n"
        "    notes = IncludeFile('notes', default='notes.txt', encoding='utf-9')\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
        "if __name__ == '__main__':\n"
        "    EncodingFlow()\n")
    (tmp_path / "notes.txt").write_text("some notes")
    proc = hw(flow, "run", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Invalid flow definition:" in proc.stderr, proc.stderr
    assert "IncludeFile 'notes': there is no text encoding named 'utf-9'" in proc.stderr
    assert "fix: use a codec Python knows, e.g. encoding='utf-8'" in proc.stderr
    # As for any mistake in the class body: the user's own line, none of headwater's frames.
    assert f'File "{flow}", line 3, in EncodingFlow' in proc.stderr
    assert no_headwater_traceback(proc.stderr) and "LookupError" not in proc.stderr
    nothing_recorded(tmp_path)


def test_good_parameters_run(tmp_path):
    (tmp_path / "notes.txt").write_text("some notes")
    proc = hw(INPUT, "run", "--needed", "x", "--count", "3", "--conf", '{"depth": 2}', "--notes",
              "notes.txt", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "total 6 needed x conf {'depth': 2}" in proc.stdout


# ------------------------------------------------------------------------------- foreach


@pytest.mark.parametrize(("shape", "type_name"), [
    ("int", "builtins.int"),
    ("generator", "builtins.generator"),
    ("dict", "builtins.dict"),
    ("none", "builtins.NoneType"),
])
def test_a_foreach_over_something_that_is_not_a_sequence(tmp_path, shape, type_name):
    proc = hw(INPUT, "run", "--needed", "x", "--shape", shape, cwd=tmp_path)
    assert proc.returncode == 1
    said = [t.text for t in task_lines(proc.stdout) if t.step == "start"]
    message = (f"foreach over 'items' needs a list, tuple, range, set or other sequence; "
               f"got {type_name}")
    assert any(message in t for t in said), said
    # a dict is usually a grid of settings: its fix says how to make each shape of list
    fix = ("fix: a dict is not a list of items: set self.items to its keys" if shape == "dict"
           else "fix: convert it first, e.g. self.items = list(...)")
    assert any(fix in t for t in said), said
    assert said[-1] == "Task failed."
    assert no_headwater_traceback(proc.stdout + proc.stderr)
    client(tmp_path)
    run = Flow("InputFlow").latest_run
    assert run.status == "failed" and message in run["start"].task.exception.message
    assert "each" not in run


def test_a_foreach_over_a_set_runs_one_task_per_member(tmp_path):
    """As Metaflow's foreach accepts a set (its `self.input` is each member)."""
    proc = hw(INPUT, "run", "--needed", "x", "--shape", "set", "--count", "3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "total 6 needed x" in proc.stdout  # 2 * (0 + 1 + 2)
    client(tmp_path)
    run = Flow("InputFlow").latest_run
    assert sorted(task.data.doubled for task in run["each"]) == [0, 2, 4]
    assert run["start"].task.data.items == {0, 1, 2}  # the artifact stays the set it was


def test_a_foreach_over_more_items_than_max_num_splits(tmp_path):
    proc = hw(INPUT, "run", "--needed", "x", "--count", "5", "--max-num-splits", "3", cwd=tmp_path)
    assert proc.returncode == 1
    said = [t.text for t in task_lines(proc.stdout) if t.step == "start"]
    assert any("foreach over 'items' has 5 items, more than --max-num-splits (3)" in t
               for t in said), said
    assert any("fix: raise the limit with run --max-num-splits 5" in t for t in said), said
    assert no_headwater_traceback(proc.stdout + proc.stderr)
    client(tmp_path)
    assert "each" not in Flow("InputFlow").latest_run


@pytest.mark.parametrize("count", [10**7, 10**12])
def test_a_huge_foreach_is_refused_from_its_length_before_anything_is_stored(tmp_path, count):
    # Before: range(10**7) stored a 250 MB items blob before refusing; range(10**12) grew
    # without end. The length alone decides, and nothing is pickled or stored.
    proc = hw(INPUT, "run", "--needed", "x", "--shape", "range", "--count", str(count),
              cwd=tmp_path)
    assert proc.returncode == 1
    said = [t.text for t in task_lines(proc.stdout) if t.step == "start"]
    assert any(f"foreach over 'items' has {count} items, more than --max-num-splits (100000)"
               in t for t in said), said
    assert any(f"fix: raise the limit with run --max-num-splits {count}" in t for t in said), said
    assert no_headwater_traceback(proc.stdout + proc.stderr)
    blobs = [p for p in datastore(tmp_path).rglob("*") if p.is_file() and "meta.sqlite" not in p.name]
    assert max(p.stat().st_size for p in blobs) < 1 << 20, sorted(
        (p.stat().st_size, str(p)) for p in blobs)[-3:]


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_max_num_splits_must_be_a_positive_integer(tmp_path, value):
    proc = hw(INPUT, "run", "--needed", "x", "--max-num-splits", value, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Invalid value for '--max-num-splits'" in proc.stderr
    nothing_recorded(tmp_path)


# ------------------------------------------------------------------------ step decorators


@pytest.mark.parametrize("launcher", ["script", "headwater"])
@pytest.mark.parametrize("command", ["run", "check"])
def test_an_unknown_decorator_option_in_the_flow_file(tmp_path, launcher, command):
    if launcher == "script":
        argv = [sys.executable, str(BAD_OPTION), command]
    else:
        argv = [sys.executable, "-c", "from headwater.cli.main import main; main()", command,
                str(BAD_OPTION)]  # what the `headwater` console script runs
    proc = subprocess.run(argv, cwd=tmp_path, env=env_for(tmp_path), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Invalid flow definition:" in proc.stderr, proc.stderr
    assert "@retry has no option 'tims'" in proc.stderr
    assert "fix: the options of @retry are: minutes_between_retries, times" in proc.stderr
    assert no_headwater_traceback(proc.stderr), proc.stderr
    if launcher == "script":
        # the user's own line is shown: where the typo is
        assert f'File "{BAD_OPTION}", line 7, in BadOptionFlow' in proc.stderr
        assert "@retry(tims=3)" in proc.stderr
    nothing_recorded(tmp_path)


@pytest.mark.parametrize(("spec", "phrases"), [
    ("retry:tims=3", ["--with retry:tims=3: @retry has no option 'tims'",
                      "fix: the options of @retry are"]),
    ("retry:times=many", ["--with retry:times=many: @retry(times='many'): must be an integer"]),
    ("retry:times", ["--with retry:times: expected OPTION=VALUE, got 'times'"]),
    ("nosuch", ["--with nosuch: unknown step decorator 'nosuch'",
                "fix: known step decorators: catch, concurrency, environment, "]),
    ("timeout:seconds=0", ["--with timeout:seconds=0: @timeout(seconds=0): the total time limit"]),
])
def test_a_bad_with_option_is_refused_before_anything_runs(tmp_path, spec, phrases):
    proc = hw(INPUT, "--with", spec, "run", "--needed", "x", cwd=tmp_path)
    refused(proc, "Invalid flow definition", *phrases)
    nothing_recorded(tmp_path)


# ------------------------------------------------------- runs, pathspecs and ids that do not exist


@pytest.fixture
def one_run(tmp_path):
    proc = hw(INPUT, "run", "--needed", "x", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    client(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", ["logs", "dump"])
@pytest.mark.parametrize(("path", "phrase"), [
    ("42/start", "run 'InputFlow/42' not found; the latest runs of InputFlow are 1"),
    ("1/nosuch", "step 'InputFlow/1/nosuch' not found; run InputFlow/1 has steps"),
    ("1/start/99", "task 'InputFlow/1/start/99' not found; step InputFlow/1/start has tasks 1"),
    # path traversal: ids are looked up, never joined into a file path
    ("../x/start", "run 'InputFlow/..' not found"),
    ("1/../start", "step 'InputFlow/1/..' not found"),
    ("1/start/..", "task 'InputFlow/1/start/..' not found"),
])
def test_logs_and_dump_of_something_that_does_not_exist(one_run, command, path, phrase):
    proc = hw(INPUT, command, path, cwd=one_run)
    refused(proc, "Not found", phrase)


@pytest.mark.parametrize("command", ["logs", "dump"])
@pytest.mark.parametrize("path", ["../../../etc/passwd", "1/start/1/../../.."])
def test_logs_and_dump_of_a_path_of_the_wrong_shape_is_an_invalid_command(one_run, command,
                                                                          path):
    # Nothing is looked up (so not "Not found"); exit 1, as Metaflow's "Invalid command".
    proc = hw(INPUT, command, path, cwd=one_run)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Invalid command" in proc.stderr, proc.stderr
    assert f"{command} takes RUN_ID/STEP or RUN_ID/STEP/TASK_ID" in proc.stderr, proc.stderr
    assert f"fix: e.g. {command} 12/start" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and no_headwater_traceback(proc.stderr)


@pytest.mark.parametrize("origin", ["42", "../1", "1/../1"])
def test_resume_of_a_run_that_does_not_exist(one_run, origin):
    proc = hw(INPUT, "resume", "--origin-run-id", origin, cwd=one_run)
    refused(proc, "Not found", f"run InputFlow/{origin} does not exist",
            "the latest runs of InputFlow are: 1")
    assert run_count(datastore(one_run)) == 1


def test_resume_from_a_step_that_does_not_exist(one_run):
    proc = hw(INPUT, "resume", "nosuch", cwd=one_run)
    refused(proc, "Not found", "flow InputFlow has no step 'nosuch' to resume from",
            "steps: start, each, join, end")
    assert run_count(datastore(one_run)) == 1


def test_resume_with_no_run_to_resume(tmp_path):
    proc = hw(INPUT, "resume", cwd=tmp_path)
    refused(proc, "Not found", "flow InputFlow has no run to resume")
    nothing_recorded(tmp_path)


@pytest.mark.parametrize(("make", "phrase"), [
    (lambda: Flow("NoSuchFlow"), "flow 'NoSuchFlow' not found; known flows: InputFlow"),
    (lambda: Run("InputFlow/42"), "run 'InputFlow/42' not found"),
    (lambda: Step("InputFlow/1/nosuch"), "step 'InputFlow/1/nosuch' not found"),
    (lambda: Task("InputFlow/1/start/99"), "task 'InputFlow/1/start/99' not found"),
    (lambda: Task("InputFlow/1/start/1", attempt=3), "has no attempt 3"),
    (lambda: Task("InputFlow/1/start/1", attempt="first"), "attempt 'first' of task"),
    (lambda: Task("InputFlow/1/start/1", attempt="3"), "has no attempt 3"),
    (lambda: Flow("InputFlow")["42"], "run 'InputFlow/42' not found"),
    (lambda: Run("InputFlow/1")["nosuch"], "step 'InputFlow/1/nosuch' not found"),
    # path traversal through the client
    (lambda: Flow(".."), "flow '..' not found"),
    (lambda: Flow("../InputFlow"), "is not a flow pathspec"),
    (lambda: Run("InputFlow/.."), "run 'InputFlow/..' not found"),
    (lambda: Run("../../InputFlow/1"), "is not a run pathspec"),
    (lambda: Step("InputFlow/1/.."), "step 'InputFlow/1/..' not found"),
    (lambda: Task("InputFlow/1/start/.."), "task 'InputFlow/1/start/..' not found"),
    (lambda: Task("InputFlow/1/../../start/1"), "is not a task pathspec"),
])
def test_the_client_on_something_that_does_not_exist(one_run, make, phrase):
    with pytest.raises(NotFoundError) as err:
        make()
    assert phrase in str(err.value)


@pytest.mark.parametrize("tag", ["../x", "a/../../b", "/etc/passwd"])
def test_a_tag_shaped_like_an_escaping_path_is_refused(one_run, tag):
    proc = hw(INPUT, "run", "--needed", "x", "--tag", tag, cwd=one_run)
    assert proc.returncode == 1  # a refused tag exits 1, as Metaflow's "Tagging error"
    assert "Invalid tag operation" in proc.stderr and "looks like a path" in proc.stderr
    assert "given to --tag of" in proc.stderr
    assert no_headwater_traceback(proc.stderr)
    assert run_count(datastore(one_run)) == 1
    with pytest.raises(TaggingError, match="looks like a path"):
        Run("InputFlow/1").add_tag(tag)
    assert tag not in Run("InputFlow/1").tags


# ------------------------------------------------------------------ framework attributes


@pytest.mark.parametrize(("what", "phrase"), [
    ("next", "step cannot assign 'self.next' in flow ReservedAssignFlow"),
    ("input", "step cannot assign 'self.input' in flow ReservedAssignFlow"),
])
def test_assigning_a_framework_attribute_fails_the_step_clearly(tmp_path, what, phrase):
    proc = hw(RESERVED, "run", cwd=tmp_path, WHAT=what)
    assert proc.returncode == 1
    said = [t.text for t in task_lines(proc.stdout) if t.step == "start"]
    assert any(phrase in t for t in said), said
    assert any(t.startswith("fix: choose another name") or "fix: choose another name" in t
               for t in said), said
    # the traceback shows the user's line and none of headwater's
    assert any(f"self.{what} = " in t for t in said), said
    assert no_headwater_traceback(proc.stdout + proc.stderr)
    client(tmp_path)
    task = Flow("ReservedAssignFlow").latest_run["start"].task
    assert task.exception.type_name == "ReservedAttributeError"


# ------------------------------------------------------------------ where results go


def test_a_run_id_file_that_cannot_be_written_is_one_clear_error(tmp_path):
    proc = hw(INPUT, "run", "--needed", "x", "--run-id-file", str(tmp_path / "no" / "id"),
              cwd=tmp_path)
    refused(proc, "Run failed", f"cannot write the run id to --run-id-file {tmp_path / 'no' / 'id'}",
            f"the folder {tmp_path / 'no'} does not exist")
    nothing_recorded(tmp_path)
    # a write that fails only when made (a full disk): after the run is recorded, still clear
    proc = hw(INPUT, "run", "--needed", "x", "--run-id-file", "/dev/full", cwd=tmp_path)
    refused(proc, "Run failed", "cannot write the run id of InputFlow/1 to --run-id-file "
            "/dev/full", "resume")


@pytest.mark.skipif(os.getuid() != 0, reason="making another user's link needs root")
def test_a_run_id_file_planted_as_another_users_link_is_never_written_through(tmp_path):
    """``--run-id-file /tmp/id`` in a script: another user who made ``/tmp/id`` a link to one of
    your files first would have had the run id written over it (outside a sticky folder)."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    planted = tmp_path / "id"
    planted.symlink_to(victim)
    os.lchown(planted, 65534, 65534)
    proc = hw(INPUT, "run", "--needed", "x", "--run-id-file", str(planted), cwd=tmp_path)
    refused(proc, "Run failed", f"cannot write the run id of InputFlow/1 to --run-id-file "
            f"{planted}", "symbolic link made by another user")
    assert victim.read_text() == "precious\n"
    # a file of one's own is replaced whole (never seen half written), private when new
    own = tmp_path / "own-id"
    proc = hw(INPUT, "run", "--needed", "x", "--run-id-file", str(own), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert own.read_text() == "2" and (own.stat().st_mode & 0o777) == 0o600


def test_a_file_given_as_the_datastore_root_is_one_clear_error(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder\n")
    proc = hw(INPUT, "run", "--needed", "x", cwd=tmp_path,
              HEADWATER_DATASTORE_ROOT=str(a_file))
    refused(proc, "Metadata error", f"cannot create the folder {a_file}",
            "a file, not a folder, is there", "fix: point --datastore-root")
    assert a_file.read_text() == "not a folder\n"


def test_a_datastore_anyone_may_write_found_above_is_refused_and_left_alone(tmp_path):
    """A ``.headwater`` others can write, found by walking up: refused before anything is
    written into it, with the folder and the fix named; a chosen root still works."""
    planted = tmp_path / ".headwater"
    planted.mkdir()
    planted.chmod(0o777)
    project = tmp_path / "project"
    project.mkdir()
    env = {k: v for k, v in env_for(project).items() if k != "HEADWATER_DATASTORE_ROOT"}
    proc = subprocess.run([sys.executable, str(INPUT), "run", "--needed", "x"], cwd=project,
                          env=env, capture_output=True, text=True, timeout=300)
    refused(proc, "Storage error", f"refusing the datastore {planted}",
            "any user may write into it", "--datastore-root")
    assert list(planted.iterdir()) == []
    proc = subprocess.run([sys.executable, str(INPUT), "--datastore-root", str(project / "mine"),
                           "run", "--needed", "x"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_user_name_with_a_terminal_escape_is_one_clear_error(tmp_path):
    proc = hw(INPUT, "run", "--needed", "x", cwd=tmp_path, HEADWATER_USER="eve\x1b]0;owned\x07")
    refused(proc, "Invalid user name", "(from HEADWATER_USER) contains a control character",
            "fix: set HEADWATER_USER to a plain name")
    assert "\x1b" not in proc.stderr
    nothing_recorded(tmp_path)


# ------------------------------------------------------------------ what reaches the terminal

ESCAPES_FLOW = '''
from headwater import FlowSpec, step


class Row:
    """Its class name is the label: it pickles as a plain 0."""

    def __reduce__(self):
        return (int, (0,))


Row.__qualname__ = "Row\\x1b[31m"


class EscapesFlow(FlowSpec):
    @step
    def start(self):
        # column names read from a file, say: any string can name an artifact
        setattr(self, "col\\x1b]0;retitled\\x07\\x1b[2J", 1)
        self.kind = Row()
        print("step output \\x1b[32mgreen\\x1b[0m")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EscapesFlow()
'''


def test_dump_prints_artifact_and_type_names_with_their_control_characters_escaped(tmp_path):
    """A name in ``dump``'s table is a label: its ESC sequences would retitle or clear the
    terminal. (The step's own output is the step's to colour: ``logs`` gives it as printed on a
    terminal; click strips its colours in a pipe.)"""
    flow = tmp_path / "escapes_flow.py"
    flow.write_text(ESCAPES_FLOW)
    proc = hw(flow, "--quiet", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = hw(flow, "dump", "1/start", "--max-value-size", "0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr
    assert "col\\x1b]0;retitled\\x07\\x1b[2J  " in proc.stdout
    assert "Row\\x1b[31m" in proc.stdout
    proc = hw(flow, "spin", "1/start", cwd=tmp_path)  # spin prints the names of what it made
    assert proc.returncode == 0, proc.stderr
    assert "\x1b]" not in proc.stdout and "col\\x1b]0;retitled\\x07\\x1b[2J = 1" in proc.stdout
