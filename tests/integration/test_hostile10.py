"""The tenth hostile-input audit: what another user of the same machine, or a setting left in the
environment, can do to ``headwater ui`` and to a run. Each test runs the real thing: a
``headwater ui`` server reached over TCP by a process of another user, ``python flow.py`` runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .faultkit import env_for, hw
from .flowrun import write_flow
from .uiserver import ui_server

NOBODY = 65534
as_root_only = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None
                                  or shutil.which("prlimit") is None,
                                  reason="acting as another user needs root, setpriv and prlimit")

SMALL_FLOW = '''
from headwater import FlowSpec, step


class SmallFlow(FlowSpec):
    @step
    def start(self):
        self.secret = "only-for-my-eyes"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SmallFlow()
'''


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile10-ui")
    flow = write_flow(folder, "small_flow.py", SMALL_FLOW)
    proc = hw(flow, "run", cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


# -- another local user holding idle connections to the UI -----------------------------------

HOLD_CONNECTIONS = """
import socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
held = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(count)]
print("HELD", len(held), flush=True)
sys.stdin.read()  # holds them, sending nothing, until the test closes stdin
"""


@as_root_only
def test_another_users_idle_connections_never_use_up_the_uis_descriptors(small_run):
    # uvicorn waits for ever for a connection's first request, and the guard refuses another
    # user only once one has arrived: 400 silent connections of `nobody` used up the 256
    # descriptors of a server started under that limit, and the owner's request then waited
    # for ever (the accept loop failing with "too many open files").
    python = shutil.which("python3", path="/usr/bin:/bin") or "/usr/bin/python3"
    with ui_server(small_run, prefix=("prlimit", "--nofile=256:256")) as ui:
        attacker = subprocess.Popen(  # noqa: S603
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
             python, "-c", HOLD_CONNECTIONS, str(ui.port), "400"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd="/")
        try:
            assert attacker.stdout is not None
            line = attacker.stdout.readline()
            assert line.startswith("HELD 400"), (line, attacker.stderr.read()
                                                 if attacker.poll() is not None else "")
            status, _, body = ui.get("/api/flows")  # while all 400 are still open
            assert status == 200 and b"SmallFlow" in body, (status, body)
            status, _, body = ui.get("/api/tasks/SmallFlow/1/start/1/artifact?name=secret")
            assert status == 200, (status, body)
        finally:
            attacker.communicate(timeout=60)  # closes its stdin: it lets go of them and exits


# -- the test-only fault points, armed in a folder another user controls ---------------------

def _run_until_held_or_done(flow: Path, folder: Path, shared: Path) -> subprocess.CompletedProcess:
    """``python FLOW run`` with the fault point armed in ``shared``; a held run is let go."""
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, str(flow), "run"], cwd=folder, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env_for(folder, HEADWATER_FAULT_POINT="task.stored#1",
                    HEADWATER_FAULT_DIR=str(shared)))
    try:
        deadline = time.monotonic() + 300
        while proc.poll() is None and not (shared / "held").exists():
            assert time.monotonic() < deadline, "the run neither held nor ended"
            time.sleep(0.05)
    finally:
        (shared / "gate").touch()  # before the fix, the run waited here for whoever wrote it
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@as_root_only
def test_a_fault_folder_another_user_controls_is_refused_and_nothing_written_through_it(
        tmp_path):
    # HEADWATER_FAULT_POINT/DIR are for tests, but a shell keeps what a test session exported.
    # Armed in a folder another user owns, the held task wrote "NAME PID" through the link
    # that user planted as `held.tmp` (into any file of the user's), and then waited for ever
    # on a `gate` only that user's files decided.
    flow = write_flow(tmp_path, "small_flow.py", SMALL_FLOW)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chown(shared, NOBODY, NOBODY)
    shared.chmod(0o777)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (shared / "held.tmp").symlink_to(victim)
    os.lchown(shared / "held.tmp", NOBODY, NOBODY)
    proc = _run_until_held_or_done(flow, tmp_path, shared)
    assert victim.read_text() == "precious\n"
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "HEADWATER_FAULT_DIR" in proc.stderr and "another user" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr or "SettingError" in proc.stderr, proc.stderr
    assert not (shared / "held").exists()
    # A folder of the user's own (made 0700 when missing) still arms the point.
    own = tmp_path / "own" / "hooks"
    proc = _run_until_held_or_done(flow, tmp_path, own)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (own / "held").read_text().startswith("task.stored ")
    assert os.stat(own).st_mode & 0o777 == 0o700


# -- the web UI: names holding bidirectional overrides ---------------------------------------

BIDI_FLOW = '''
from headwater import FlowSpec, step


class BidiFlow(FlowSpec):
    @step
    def start(self):
        setattr(self, "report\\u202efdp", b"not a pdf")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BidiFlow()
'''


def test_the_ui_shows_bidi_overrides_in_names_and_tags_as_escapes(tmp_path, browser):
    # An artifact's name and a tag are anyone's strings (a shared database's writer chooses
    # them too): the page showed `report\u202efdp` as "reportpdf" and the tag
    # `ok\u202edesiver` as "okrevised", while `dump`, `runs` and `logs` print the escape.
    from .faultkit import DEADLINE_S

    flow = write_flow(tmp_path, "bidi_flow.py", BIDI_FLOW)
    proc = hw(flow, "--quiet", "run", "--tag", "ok\u202edesiver", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with ui_server(tmp_path) as ui:
        context = browser.new_context()
        try:
            page = context.new_page()
            shown = {}
            for path, wanted in (("/runs/BidiFlow/1/start/1", "report\\u202efdp"),
                                 ("/", "ok\\u202edesiver")):
                page.goto(ui.url + path, timeout=DEADLINE_S * 1000)
                page.wait_for_function("(wanted) => document.body.innerText.includes(wanted)",
                                       arg=wanted, timeout=DEADLINE_S * 1000)
                shown[path] = page.evaluate("() => document.body.innerText + document.title")
            status, _, body = ui.get("/runs/BidiFlow/no%E2%80%AErun")  # an address anyone can link
        finally:
            context.close()
    for text in shown.values():
        assert not any(ch in text for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068"
                       "\u2069"), repr(text)
    assert status == 404 and "\u202e".encode() not in body and b"no\\u202erun" in body, body


# -- dump on a terminal: a failed task's recorded traceback ----------------------------------

FAILING_FLOW = '''
from headwater import FlowSpec, step


class FailingFlow(FlowSpec):
    @step
    def start(self):
        self.kept = 1
        raise ValueError("\\x1b]52;c;cm0gLXJmIH4K\\x07clipboard \\x1b]0;TITLE\\x07 "
                         "\\x1b[31mred\\x1b[0m report\\u202efdp")


if __name__ == "__main__":
    FailingFlow()
'''


def test_dump_on_a_terminal_shows_a_recorded_tracebacks_escapes_as_text(tmp_path):
    # `dump` of a failed task prints the traceback its record holds: in a shared datastore
    # the step may be anyone's, and its exception's message reached the reader's terminal
    # raw, as `logs` no longer lets a step's output: ESC ] 52 set the clipboard, ESC ] 0
    # retitled the window, U+202E reordered the line. Colours pass, as in `logs`.
    from .terminal import on_a_terminal

    flow = write_flow(tmp_path, "failing_flow.py", FAILING_FLOW)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode != 0
    shown = on_a_terminal([sys.executable, str(flow), "dump", "1/start/1"], tmp_path,
                          env_for(tmp_path)).decode()
    assert "ValueError" in shown and "clipboard" in shown, shown
    assert "\x1b]" not in shown and "\x07" not in shown and "\u202e" not in shown, repr(shown)
    assert "\\x1b]52;c;cm0gLXJmIH4K\\x07clipboard" in shown and "report\\u202efdp" in shown
    assert "\x1b[31mred\x1b[0m" in shown
    # Into a pipe (or with --file) the traceback is the record's, as stored.
    piped = hw(flow, "dump", "1/start/1", cwd=tmp_path)
    assert "\x1b]52;c;cm0gLXJmIH4K\x07clipboard" in piped.stdout + piped.stderr


# -- card get: the card a record names, named as text ----------------------------------------

CARD_FLOW = '''
from headwater import FlowSpec, card, step


class CardFlow(FlowSpec):
    @card
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardFlow()
'''


def test_card_get_names_a_card_whose_record_holds_escapes_as_text(tmp_path):
    # `card list` showed a card's type and id (a record's strings) with escapes as text, but
    # `card get PATHSPEC FILE` said "Wrote <Card TYPE ...>" with them raw.
    import json
    import sqlite3

    from .faultkit import datastore

    flow = write_flow(tmp_path, "card_flow.py", CARD_FLOW)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    where = "flow = 'CardFlow' AND run_id = '1' AND step = 'start'"
    with sqlite3.connect(datastore(tmp_path) / "meta.sqlite") as db:
        record = json.loads(db.execute(f"SELECT transition FROM tasks WHERE {where}").fetchone()[0])
        record["cards"][0]["type"] = "\x1b]52;c;cm0gLXJmIH4K\x07default\u202e"
        db.execute(f"UPDATE tasks SET transition = ? WHERE {where}", (json.dumps(record),))
    got = hw(flow, "card", "get", "1/start/1", str(tmp_path / "card.html"), cwd=tmp_path)
    assert got.returncode == 0, got.stdout + got.stderr
    said = got.stdout + got.stderr
    assert "Wrote <Card \\x1b]52;c;cm0gLXJmIH4K\\x07default\\u202e" in said, said
    assert "\x1b" not in said and "\x07" not in said and "\u202e" not in said, repr(said)
    assert (tmp_path / "card.html").read_text().startswith("<!")


def test_delete_names_a_live_run_whose_record_holds_escapes_as_text(tmp_path):
    # `delete --keep-last` keeps the origin of a live resume and says why, naming the resuming
    # run: anyone who can write a shared metadata database chooses its id, and it reached the
    # terminal raw while the kept run's id on the same line was shown as text.
    import sqlite3

    from .faultkit import datastore

    flow = write_flow(tmp_path, "small_flow.py", SMALL_FLOW)
    for _ in range(2):
        assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    with sqlite3.connect(datastore(tmp_path) / "meta.sqlite") as db:
        db.execute("UPDATE runs SET status = 'running', heartbeat_at = ?, origin_run_id = '1', "
                   "host = 'another-machine', run_id = ? WHERE run_id = '2'", (time.time() + 3600, "\x1b]0;PWNED\x07"))
    done = subprocess.run([str(Path(sys.executable).parent / "headwater"), "delete", "SmallFlow",  # noqa: S603
                           "--keep-last", "1"], cwd=tmp_path, env=env_for(tmp_path),
                          capture_output=True, text=True, timeout=300)
    said = done.stdout + done.stderr
    assert "Kept run SmallFlow/1: run SmallFlow/1 is the origin of run SmallFlow/" in said, said
    assert "SmallFlow/\\x1b]0;PWNED\\x07" in said and "\x1b" not in said, repr(said)


# -- Runner(...).run(**names): a name that is an option of `run`, not a parameter -------------

PARAM_FLOW = '''
from headwater import FlowSpec, Parameter, step


class ParamFlow(FlowSpec):
    alpha = Parameter("alpha", default="a")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParamFlow()
'''


@pytest.mark.parametrize("name, value", [
    ("run-id-file", "TARGET"),
    ("executor", "spawn"),
    ("dask-address", "tcp://127.0.0.1:1"),
    ("package-suffixes", ".pem,.env"),
], ids=["run-id-file", "executor", "dask-address", "package-suffixes"])
def test_a_runner_argument_naming_an_option_of_run_is_refused_not_passed_on(tmp_path, name,
                                                                           value):
    # run(**form) passed every key on as `--KEY VALUE`: a key naming an option of `run` set
    # that option (the run id written over any file the caller may write; the run's code and
    # data sent to another Dask cluster; secrets packed with the code). Metaflow's Runner
    # refuses any argument that is neither one of its own nor a parameter; so does this one,
    # before any run is recorded.
    from headwater import Runner

    flow = write_flow(tmp_path, "param_flow.py", PARAM_FLOW)
    target = tmp_path / "precious.txt"
    target.write_text("precious\n")
    given = {name: str(target) if value == "TARGET" else value, "alpha": "b"}
    with pytest.raises(ValueError, match=f"(?s)given '{name}', which is not a parameter of "
                                         "ParamFlow.*its parameters are alpha"):
        Runner(str(flow), cwd=str(tmp_path), env=env_for(tmp_path)).run(**given)
    assert target.read_text() == "precious\n"
    assert not (tmp_path / ".headwater" / "meta.sqlite").exists() or _no_runs(tmp_path)


def _no_runs(folder: Path) -> bool:
    import sqlite3

    from .faultkit import datastore

    with sqlite3.connect(datastore(folder) / "meta.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_logs_names_the_task_a_record_says_it_reused_as_text(tmp_path):
    # `logs` of a task @cache reused says which task it reused, as its record says: anyone who
    # can write a shared metadata database chooses that text, and it reached the terminal raw
    # (the output below it was already shown with its escapes as text).
    import json
    import sqlite3

    from .faultkit import datastore

    flow = write_flow(tmp_path, "small_flow.py", SMALL_FLOW)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    where = "flow = 'SmallFlow' AND run_id = '1' AND step = 'start'"
    with sqlite3.connect(datastore(tmp_path) / "meta.sqlite") as db:
        record = json.loads(db.execute(f"SELECT transition FROM tasks WHERE {where}").fetchone()[0])
        record.setdefault("metadata", {})["cached-from"] = "\x1b]52;c;cm0gLXJmIH4K\x07Other/1"
        db.execute(f"UPDATE tasks SET transition = ? WHERE {where}", (json.dumps(record),))
    done = hw(flow, "logs", "1/start", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reused from cache: \\x1b]52;c;cm0gLXJmIH4K\\x07Other/1" in done.stderr, done.stderr
    assert "\x1b" not in done.stderr, repr(done.stderr)
