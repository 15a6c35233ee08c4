"""The seventh hostile-input audit: what another user of the same machine, a crafted run, or a
setting planted for the user can do to ``headwater ui``, the code cache and the terminal. Each
test runs the real thing: a ``headwater ui`` server reached over TCP by a process of another
user, ``python flow.py`` runs, ``logs`` on a real pseudo-terminal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .faultkit import env_for, hw
from .flowrun import write_flow
from .terminal import on_a_terminal
from .uiserver import ui_server

NOBODY = 65534
as_root_only = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                  reason="acting as another user needs root and setpriv")

SMALL_FLOW = '''
from headwater import FlowSpec, step


class SmallFlow(FlowSpec):
    @step
    def start(self):
        self.secret = "only-for-my-eyes"
        print("private log line")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SmallFlow()
'''


def as_user(uid: int, *argv: str) -> subprocess.CompletedProcess:
    """``argv`` run as the user ``uid`` (its group too, no supplementary groups)."""
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                           *argv], capture_output=True, text=True, timeout=120, cwd="/")


def http_status(uid: int, url: str, *headers: str) -> tuple[str, str]:
    """(status, body) of a GET of ``url`` sent by a process of user ``uid`` (curl)."""
    extra = [arg for header in headers for arg in ("-H", header)]
    proc = as_user(uid, "curl", "-s", "-o", "-", "-w", "\n%{http_code}", *extra, url)
    body, _, status = proc.stdout.rpartition("\n")
    return status, body


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile7-ui")
    flow = write_flow(folder, "small_flow.py", SMALL_FLOW)
    proc = hw(flow, "run", cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


# -- the web UI on loopback is not every local user's ---------------------------------------

@as_root_only
@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_another_local_user_cannot_read_the_ui_on_loopback_without_the_token(small_run):
    task = "/api/tasks/SmallFlow/1/start/1"
    with ui_server(small_run) as ui:
        status, body = http_status(os.geteuid(), ui.url + task + "/logs/stdout")
        assert (status, body.strip()) == ("200", "private log line")
        for path in ("/", "/api/flows", task + "/logs/stdout", task + "/artifact?name=secret"):
            status, body = http_status(NOBODY, ui.url + path)
            assert status == "403", (path, status, body)
            assert "only the user who started it" in body and "HEADWATER_UI_TOKEN" in body
            assert "only-for-my-eyes" not in body and "private log line" not in body
        # A forwarded-for header naming the owner's own address changes nothing.
        status, _ = http_status(NOBODY, ui.url + "/api/flows", "X-Forwarded-For: 127.0.0.1")
        assert status == "403"
    token = "shared-with-the-team-on-purpose"
    with ui_server(small_run, token=token) as ui:  # a token is how the UI is shared
        status, body = http_status(NOBODY, ui.url + task + "/logs/stdout",
                                   f"Authorization: Bearer {token}")
        assert (status, body.strip()) == ("200", "private log line")
        status, _ = http_status(NOBODY, ui.url + "/api/flows")
        assert status == "401"


# -- HEADWATER_CODE_CACHE under a folder another user controls --------------------------------

UNPACK = """
import sys
sys.path.insert(0, ".")
from small_flow import SmallFlow
from headwater.runtime.packaged_task import load_task_flow
from headwater.store import code_package, open_datastore

root = sys.argv[1]
tarball, code = code_package.build(SmallFlow)
code = code_package.save(open_datastore(root), tarball, code)
flow_cls, _, _ = load_task_flow(root, code)
print("UNPACKED", flow_cls.__name__)
"""


def unpack_with_cache(folder: Path, cache: Path) -> subprocess.CompletedProcess:
    """A worker's unpacking of the latest SmallFlow run's code, in a process of its own."""
    root = str(folder / ".headwater")
    return subprocess.run([sys.executable, "-c", UNPACK, root], cwd=folder,
                          env=env_for(folder, HEADWATER_CODE_CACHE=str(cache)),
                          capture_output=True, text=True, timeout=300)


@as_root_only
def test_a_code_cache_inside_a_folder_another_user_controls_is_refused(small_run, tmp_path):
    """The cache itself is made 0700, but whoever may rename entries of a folder above it can
    swap it, after the check, for a folder of their own holding the flow's code: so the folders
    above must be this user's or root's, and not writable by anyone without the sticky bit."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, NOBODY)
    proc = unpack_with_cache(small_run, theirs / "cache")
    assert proc.returncode != 0, proc.stdout
    assert "UNPACKED" not in proc.stdout
    assert f"is inside {theirs}, which belongs to another user (uid {NOBODY})" in proc.stderr
    assert "CodeCacheError" in proc.stderr and "HEADWATER_CODE_CACHE" in proc.stderr
    assert not (theirs / "cache").exists()

    open_to_all = tmp_path / "open"
    open_to_all.mkdir()
    os.chmod(open_to_all, 0o777)
    proc = unpack_with_cache(small_run, open_to_all / "cache")
    assert "anyone can write (mode 777, no sticky bit)" in proc.stderr, proc.stderr

    group_writable = tmp_path / "team"  # umask 002: the group is the user's choice
    group_writable.mkdir()
    os.chmod(group_writable, 0o775)
    proc = unpack_with_cache(small_run, group_writable / "cache")
    assert proc.returncode == 0 and "UNPACKED SmallFlow" in proc.stdout, proc.stderr

    # A shared /tmp-like folder (sticky) is fine, but not through a link another user put there.
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    planted = sticky / "cache-home"
    planted.symlink_to(mine)
    os.lchown(planted, NOBODY, NOBODY)
    proc = unpack_with_cache(small_run, planted / "cache")
    assert f"is reached through {planted}, a link another user (uid {NOBODY})" in proc.stderr

    proc = unpack_with_cache(small_run, sticky / "cache")
    assert proc.returncode == 0 and "UNPACKED SmallFlow" in proc.stdout, proc.stderr


# -- logs on a terminal: a line cannot be made to read in another order -----------------------

BIDI_FLOW = '''
from headwater import FlowSpec, step


class BidiFlow(FlowSpec):
    @step
    def start(self):
        print("saved report\\u202efdp.exe and \\u2067isolated\\u2069")
        print("\\u05e9\\u05dc\\u05d5\\u05dd\\u200f ok, emoji \\U0001f469\\u200d\\U0001f52c")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BidiFlow()
'''


def test_logs_on_a_terminal_show_bidi_overrides_as_escapes_and_keep_other_scripts(tmp_path):
    flow = write_flow(tmp_path, "bidi_flow.py", BIDI_FLOW)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    shown = on_a_terminal([sys.executable, str(flow), "logs", "1/start"], tmp_path,
                          env_for(tmp_path)).decode()
    assert "saved report\\u202efdp.exe and \\u2067isolated\\u2069" in shown, shown
    assert "\u202e" not in shown and "\u2067" not in shown
    # Hebrew with its right-to-left mark, and an emoji's zero-width joiner, stay text.
    assert "\u05e9\u05dc\u05d5\u05dd\u200f ok, emoji \U0001f469\u200d\U0001f52c" in shown
    raw = on_a_terminal([sys.executable, str(flow), "logs", "--raw", "1/start"], tmp_path,
                        env_for(tmp_path)).decode()
    assert "report\u202efdp.exe" in raw


# -- a flow nesting splits hundreds deep fails clearly, before anything runs -------------------

def deep_foreach_flow(levels: int) -> str:
    """A flow of ``levels`` foreaches, each inside the one before, closed by as many joins."""
    splits = ["start"] + [f"f{i}" for i in range(1, levels)]
    lines = ["from headwater import FlowSpec, step", "", "", "class DeepFlow(FlowSpec):"]
    for i, name in enumerate(splits):
        after = splits[i + 1] if i + 1 < levels else "body"
        lines += ["    @step", f"    def {name}(self):", "        self.xs = [1]",
                  f"        self.next(self.{after}, foreach='xs')", ""]
    lines += ["    @step", "    def body(self):", "        self.next(self.j0)", ""]
    for i in range(levels):
        after = f"j{i + 1}" if i + 1 < levels else "end"
        lines += ["    @step", f"    def j{i}(self, inputs):", f"        self.next(self.{after})",
                  ""]
    lines += ["    @step", "    def end(self):", "        pass", "", "",
              "if __name__ == '__main__':", "    DeepFlow()", ""]
    return "\n".join(lines)


def test_splits_nested_hundreds_deep_are_refused_naming_the_step(tmp_path):
    """250 nested foreaches: the start task died with exit code 70 and no word of why (its
    recorded graph was too deep to pickle); 1,200 were a RecursionError. Now refused at launch."""
    flow = tmp_path / "deep_flow.py"
    flow.write_text(deep_foreach_flow(250))
    proc = hw(flow, "run", cwd=tmp_path)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "step 'f100' opens a split nested 101 deep" in out, out
    assert f"{flow}:" in out and "itertools.product" in out
    assert "Workflow starting" not in out and "exit code 70" not in out
    assert "Traceback" not in out

    flow.write_text(deep_foreach_flow(100))  # at the limit: runs
    proc = hw(flow, "--quiet", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- a step printing a huge line without a line break ------------------------------------------

FEED_CONSOLE = """
import io
from headwater.runtime.console import Console

out = io.StringIO()
console = Console(out)
piece = b"x" * 64
for _ in range(500_000):  # 32 MB of one line, read in 64-byte pieces
    console.task_output("1/start/1", "1", "stdout", piece)
console.task_output("1/start/1", "1", "stdout", b"y\\nnext line\\n")
console.flush_task("1/start/1", "1")
lines = out.getvalue().splitlines()
assert len(lines) == 2, len(lines)
assert lines[0].endswith("x" * 64 + "y") and len(lines[0]) > 32_000_000, len(lines[0])
assert lines[1].endswith("] next line"), lines[1]
print("FED")
"""


def test_a_line_hundreds_of_megabytes_long_costs_the_scheduler_linear_time(tmp_path):
    """The scheduler joined a task's unfinished line with each new read: a step printing 400 MB
    without a line break held the run (every task's output and progress) for more than ten
    minutes, 32 MB read in small pieces for hours. Kept as pieces now, joined once the line
    ends: the same 32 MB takes well under a second, so the deadline below is a thousand times
    what it needs (before the fix it was never met)."""
    proc = subprocess.run([sys.executable, "-c", FEED_CONSOLE], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "FED" in proc.stdout, proc.stderr


# -- card get on a terminal -------------------------------------------------------------------

ESC_CARD_FLOW = '''
from headwater import FlowSpec, card, current, step
from headwater.cards import Markdown


class EscCardFlow(FlowSpec):
    @card(type="blank")
    @step
    def start(self):
        current.card.append(Markdown("clip \\x1b]52;c;cHduZWQ=\\x07 title \\x1b]0;pwned\\x07 end"))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EscCardFlow()
'''


def test_card_get_on_a_terminal_shows_the_cards_control_characters_as_text(tmp_path):
    """A card is someone's HTML; printed raw, its ``ESC ] 52`` set the reader's clipboard."""
    flow = write_flow(tmp_path, "esc_card_flow.py", ESC_CARD_FLOW)
    proc = hw(flow, "--quiet", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shown = on_a_terminal([sys.executable, str(flow), "card", "get", "1/start/1"], tmp_path,
                          env_for(tmp_path))
    assert b"</html>" in shown.lower()
    assert b"\x1b]" not in shown and b"\x07" not in shown, shown[:2000]
    assert b"clip \\x1b]52;c;cHduZWQ=\\x07 title \\x1b]0;pwned\\x07 end" in shown
    piped = hw(flow, "card", "get", "1/start/1", cwd=tmp_path)  # a pipe gets the card as stored
    assert "clip \x1b]52;c;cHduZWQ=\x07 title" in piped.stdout


PYPI_FLOW = '''
from headwater import FlowSpec, pypi, step


class PypiFlow(FlowSpec):
    @pypi(packages={"six": "1.16.0"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PypiFlow()
'''


@as_root_only
def test_an_environment_cache_inside_a_folder_another_user_controls_is_refused(tmp_path):
    """The same rule for HEADWATER_ENV_CACHE, whose environments are the interpreters and
    packages a @pypi step runs."""
    flow = write_flow(tmp_path, "pypi_flow.py", PYPI_FLOW)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, NOBODY)
    proc = hw(flow, "environment", "show", cwd=tmp_path,
              HEADWATER_ENV_CACHE=str(theirs / "envs"))
    assert proc.returncode != 0
    assert f"is inside {theirs}, which belongs to another user (uid {NOBODY})" in proc.stderr, \
        proc.stdout + proc.stderr
    assert "HEADWATER_ENV_CACHE" in proc.stderr and "Traceback" not in proc.stderr
    assert list(theirs.iterdir()) == []


# -- a cookie built to stall the parser -------------------------------------------------------

READ_COOKIE = """
from headwater.ui.security import COOKIE, _cookie

backslashes = chr(92) * 1_000_000
assert _cookie({"cookie": f'{COOKIE}="{backslashes}"'}) == backslashes
print("READ")
"""


def test_a_cookie_full_of_backslashes_costs_the_guard_linear_time(small_run, tmp_path):
    """The guard read every request's cookie with http.cookies, whose unquoting is quadratic in
    backslashes before Python 3.11.10 (CVE-2024-7592): a 16 KB header took 1.4 s of the
    server's only event loop, so a few requests a second from anyone who could reach a
    token-guarded UI kept every page from answering. Read in one pass now: 1 MB of
    backslashes takes milliseconds (quadratic, it took hours), so the deadline below is never
    what decides."""
    proc = subprocess.run([sys.executable, "-c", READ_COOKIE], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "READ" in proc.stdout, proc.stderr
    token = "cookie-token-for-hostile7"
    with ui_server(small_run, token=token) as ui:
        stall = 'headwater_ui_token="' + "\\" * 12_000 + '"'
        status, _, _ = ui.get("/api/flows", token="", headers={"Cookie": stall})
        assert status == 401
        signed_in = f'theme=dark; headwater_ui_token="{token}"; other=1'
        status, _, body = ui.get("/api/flows", token="", headers={"Cookie": signed_in})
        assert status == 200 and b"SmallFlow" in body
        assert "Traceback" not in ui.output()


# -- a metadata record nested past Python's stack ---------------------------------------------

DEEP_JSON = "[" * 100_000 + "]" * 100_000


def _tamper(folder: Path, sql: str, value: str) -> None:
    import sqlite3

    with sqlite3.connect(folder / ".headwater" / "meta.sqlite") as db:
        db.execute(sql, (value,))


@pytest.mark.parametrize("sql, value, named", [
    ("UPDATE tasks SET frames = ? WHERE step = 'start'", DEEP_JSON,
     "the metadata record of task SmallFlow/1/start/1 is damaged: its frames field"),
    ("UPDATE runs SET params = ?", DEEP_JSON,
     "the metadata record of run SmallFlow/1 is damaged: its params field"),
    ("UPDATE runs SET params = ?", "not json",  # never checked before either
     "the metadata record of run SmallFlow/1 is damaged: its params field"),
], ids=["task-frames-nested", "run-params-nested", "run-params-not-json"])
# Explicit ids: pytest puts a test's id in PYTEST_CURRENT_TEST, and a 200,000-character id
# made every child process fail to start (E2BIG, one environment string over 128 KiB).
def test_a_record_nested_past_pythons_stack_is_named_not_a_traceback(tmp_path, sql, value,
                                                                      named):
    """A shared metadata database's writer (or damage) put ``[[[[...]]]]`` where a task's frames
    or a run's parameters belong: ``dump``, the client and ``gc`` raised RecursionError (a
    run's params that were not JSON at all, a JSONDecodeError) as tracebacks."""
    flow = write_flow(tmp_path, "small_flow.py", SMALL_FLOW)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    _tamper(tmp_path, sql, value)
    dumped = hw(flow, "dump", "1/start", cwd=tmp_path)
    assert dumped.returncode != 0
    assert named in dumped.stderr and "headwater delete SmallFlow/1" in dumped.stderr, \
        dumped.stderr
    assert "Traceback" not in dumped.stderr
    collected = subprocess.run(
        [str(Path(sys.executable).parent / "headwater"), "gc", "--dry-run", "--datastore-root",
         str(tmp_path / ".headwater")], cwd=tmp_path, env=env_for(tmp_path),
        capture_output=True, text=True, timeout=300)
    assert collected.returncode != 0  # a record gc cannot read may name blobs in use
    assert "SmallFlow/1" in collected.stderr and "is damaged" in collected.stderr, \
        collected.stderr
    assert "Traceback" not in collected.stderr


def test_a_code_record_nested_past_pythons_stack_is_named_not_a_traceback(tmp_path):
    flow = write_flow(tmp_path, "small_flow.py", SMALL_FLOW)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    _tamper(tmp_path, "UPDATE runs SET code = ?", DEEP_JSON)
    read = subprocess.run(
        [sys.executable, "-c", "from headwater import Flow, namespace\nnamespace(None)\n"
         "Flow('SmallFlow')['1'].code"], cwd=tmp_path, env=env_for(tmp_path),
        capture_output=True, text=True, timeout=300)
    assert "MetadataError" in read.stderr and "SmallFlow/1" in read.stderr, read.stderr
    assert "nested too deeply" in read.stderr and "RecursionError" not in read.stderr


# -- a run's recorded @pypi/@conda environments, damaged (envrec) ---------------------------

_LOCK = '{"kind":"conda","python":"3.11.7","declared":{},"lock":%s}'


@pytest.mark.parametrize("value", [
    DEEP_JSON,
    "not json",
    '{"steps":{"start":"a1"},"locks":{}}',  # a step naming no lock: was a KeyError
    '{"steps":{"start":"a1"},"locks":{"a1":' + _LOCK % '"[[[["' + '}}',  # conda's inner JSON
], ids=["nested", "not-json", "no-lock", "conda-lock"])
def test_a_damaged_environments_record_is_named_by_every_reader(tmp_path, value):
    """``resume`` and ``spin`` of the run, and the client's ``environment_info``, decoded a run's
    recorded environments raw: a RecursionError, JSONDecodeError or KeyError traceback."""
    flow = write_flow(tmp_path, "small_flow.py", SMALL_FLOW)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    _tamper(tmp_path, "UPDATE runs SET environments = ?", value)
    named = "the metadata record of run SmallFlow/1 is damaged: its environments field"
    for argv in (("resume", "--origin-run-id", "1"), ("spin", "1/start")):
        done = hw(flow, *argv, cwd=tmp_path)
        assert done.returncode != 0, (argv, done.stdout)
        assert named in done.stderr and "headwater delete SmallFlow/1" in done.stderr, \
            (argv, done.stderr)
        assert "Traceback" not in done.stderr, (argv, done.stderr)
    for expression in ("run['start'].task.environment_info", "run['start'].environment_info"):
        read = subprocess.run(
            [sys.executable, "-c", "from headwater import Flow, namespace\nnamespace(None)\n"
             f"run = Flow('SmallFlow')['1']\n{expression}"], cwd=tmp_path,
            env=env_for(tmp_path), capture_output=True, text=True, timeout=300)
        assert read.returncode != 0
        assert "(headwater.exceptions.MetadataError)" in read.stderr, read.stderr
        assert named in read.stderr and "headwater delete SmallFlow/1" in read.stderr
        assert read.stderr.count('File "') == 1, read.stderr  # the script's line, no decoder's
    # The fix the errors give can be followed: delete reads no environments.
    deleted = subprocess.run(
        [str(Path(sys.executable).parent / "headwater"), "delete", "SmallFlow/1",
         "--datastore-root", str(tmp_path / ".headwater")], cwd=tmp_path, env=env_for(tmp_path),
        capture_output=True, text=True, timeout=300)
    assert deleted.returncode == 0, deleted.stderr


def test_a_damaged_trigger_record_is_named_not_a_traceback(tmp_path):
    """``Run.trigger`` read the events a deployed run's start task recorded with a raw
    ``json.loads``; nested past Python's stack, that was a RecursionError traceback."""
    import json
    import sqlite3

    flow = write_flow(tmp_path, "small_flow.py", SMALL_FLOW)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / ".headwater" / "meta.sqlite") as db:
        (text,) = db.execute("SELECT transition FROM tasks WHERE step = 'start'").fetchone()
        transition = json.loads(text)
        transition["metadata"] = {**(transition.get("metadata") or {}), "trigger": DEEP_JSON}
        db.execute("UPDATE tasks SET transition = ? WHERE step = 'start'",
                   (json.dumps(transition),))
    read = subprocess.run(
        [sys.executable, "-c", "from headwater import Flow, namespace\nnamespace(None)\n"
         "Flow('SmallFlow')['1'].trigger"], cwd=tmp_path, env=env_for(tmp_path),
        capture_output=True, text=True, timeout=300)
    assert "(headwater.exceptions.MetadataError)" in read.stderr, read.stderr
    assert "task SmallFlow/1/start/1 is damaged: its transition (trigger) field" in read.stderr
    assert "nested too deeply" in read.stderr and "RecursionError" not in read.stderr
