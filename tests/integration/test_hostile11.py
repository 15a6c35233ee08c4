"""The eleventh hostile-input audit. Each test runs the real thing: ``python flow.py`` runs, a
real package server asking for credentials, the metadata database as written on disk."""

from __future__ import annotations

import base64
import http.server
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .faultkit import hw
from .flowrun import write_flow

WHEELS = Path("/opt/pypi/files")
SIX = next(iter(sorted(WHEELS.glob("six-*-py2.py3-none-any.whl"))), None) if WHEELS.is_dir() \
    else None
TOKEN = "S3CRETtok3n"

# -- credentials in a @pypi package URL ---------------------------------------------------------

PRIVATE_WHEEL_FLOW = '''
import os

from headwater import FlowSpec, pypi, step

WHEEL = os.environ["H11_WHEEL_URL"]  # the token comes from the environment, not the file


class PrivateWheelFlow(FlowSpec):
    @pypi(packages={"six": "@ " + WHEEL})
    @step
    def start(self):
        import six

        self.six_version = six.__version__
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PrivateWheelFlow()
'''


@pytest.fixture
def private_index() -> Iterator[str]:
    """A package server that serves the ``six`` wheel only to ``alice:TOKEN``; its base URL."""
    wanted = "Basic " + base64.b64encode(f"alice:{TOKEN}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
            self._answer(body=False)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            if self.headers.get("Authorization") != wanted:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="private"')
                self.end_headers()
                return
            data = SIX.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://alice:{TOKEN}@127.0.0.1:{server.server_address[1]}/{SIX.name}"
    finally:
        server.shutdown()
        server.server_close()


def _recorded_environments(folder: Path) -> str:
    databases = [p for p in (folder / ".headwater").rglob("*") if p.is_file()
                 and p.read_bytes()[:16] == b"SQLite format 3\x00"]
    assert databases, "no metadata database found"
    with sqlite3.connect(databases[0]) as db:
        rows = db.execute("SELECT environments FROM runs").fetchall()
    return " ".join(str(row[0]) for row in rows)


@pytest.mark.skipif(SIX is None, reason="needs the six wheel of the local package mirror")
def test_a_token_in_a_pypi_package_url_is_never_printed_nor_recorded(tmp_path, private_index):
    flow = write_flow(tmp_path, "private_wheel_flow.py", PRIVATE_WHEEL_FLOW)
    env = {"H11_WHEEL_URL": private_index, "HEADWATER_ENV_CACHE": str(tmp_path / "envs")}
    done = hw(flow, "--environment=pypi", "run", cwd=tmp_path, timeout=600, **env)
    # the wheel was fetched with the credentials: the step imported it
    assert done.returncode == 0, done.stdout + done.stderr
    assert TOKEN not in done.stdout + done.stderr, done.stdout + done.stderr
    assert "alice:***@127.0.0.1" in done.stdout + done.stderr
    # the run's record (every reader of a shared database sees it) holds no token either
    recorded = _recorded_environments(tmp_path)
    assert "six" in recorded
    assert TOKEN not in recorded
    for command in (["environment", "show"], ["environment", "show", "--lock"]):
        shown = hw(flow, "--environment=pypi", *command, cwd=tmp_path, **env)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "six" in shown.stdout
        assert TOKEN not in shown.stdout + shown.stderr, shown.stdout
    # a resume still builds the step (from the lock this user's private cache keeps)
    again = hw(flow, "--environment=pypi", "resume", "start", cwd=tmp_path, timeout=600, **env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert TOKEN not in again.stdout + again.stderr
    assert TOKEN not in _recorded_environments(tmp_path)


# -- @cache across @project branches -----------------------------------------------------------

BRANCH_CACHE_FLOW = '''
from headwater import FlowSpec, cache, current, project, step


@project(name="shop")
class BranchCacheFlow(FlowSpec):
    @cache
    @step
    def start(self):
        # what a step of a @project flow typically does: name its branch's own resources
        self.table = f"{current.branch_name}.features"
        self.next(self.end)

    @step
    def end(self):
        print("TABLE", self.table)


if __name__ == "__main__":
    BranchCacheFlow()
'''


def test_a_cache_hit_never_crosses_project_branches(tmp_path):
    flow = write_flow(tmp_path, "branch_cache_flow.py", BRANCH_CACHE_FLOW)
    mine = hw(flow, "run", cwd=tmp_path)
    assert mine.returncode == 0, mine.stdout + mine.stderr
    assert "TABLE user.tester.features" in mine.stdout, mine.stdout
    # production must never be handed what a user's branch computed (its tables, its paths)
    prod = hw(flow, "--production", "run", cwd=tmp_path)
    assert prod.returncode == 0, prod.stdout + prod.stderr
    assert "reused from cache" not in prod.stdout, prod.stdout
    assert "TABLE prod.features" in prod.stdout, prod.stdout
    # within one branch the cache still works
    again = hw(flow, "--production", "run", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "reused from cache" in again.stdout, again.stdout
    assert "TABLE prod.features" in again.stdout, again.stdout


# -- a flow's name is a name -------------------------------------------------------------------

RENAMED_FLOW = '''
from headwater import FlowSpec, step


class Renamed(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


Renamed.__name__ = Renamed.__qualname__ = 'Renamed"""\\nBOOM = __import__("os").getpid()\\n"""'

if __name__ == "__main__":
    Renamed()
'''


def test_a_flow_name_that_is_no_identifier_is_refused_before_it_reaches_a_dag_file(tmp_path):
    flow = write_flow(tmp_path, "renamed_flow.py", RENAMED_FLOW)
    out = tmp_path / "dag.py"
    made = hw(flow, "airflow", "create", str(out), cwd=tmp_path)
    assert made.returncode != 0, made.stdout + made.stderr
    assert not out.exists() or "BOOM" not in out.read_text()
    assert "is not a Python identifier" in made.stderr, made.stderr
    assert "Traceback" not in made.stderr, made.stderr
    ran = hw(flow, "run", cwd=tmp_path)
    assert ran.returncode != 0 and "is not a Python identifier" in ran.stderr, ran.stderr
    assert not (tmp_path / ".headwater").exists() or "Renamed" not in str(
        list((tmp_path / ".headwater").rglob("*")))


# -- what a run prints about the tasks it reuses ----------------------------------------------

CACHED_FLOW = '''
from headwater import FlowSpec, cache, step


class CachedFlow(FlowSpec):
    @cache
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CachedFlow()
'''

ESCAPE = "\x1b]0;PWNED\x07"


def _rename_run(folder: Path, old: str, new: str) -> None:
    """What a writer of a shared database can do: give a run an id of its choosing."""
    with sqlite3.connect(folder / ".headwater" / "meta.sqlite") as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            if "run_id" in columns:
                db.execute(f"UPDATE {table} SET run_id = ? WHERE run_id = ?", (new, old))


def test_the_tasks_a_run_reuses_or_clones_are_named_without_their_escapes(tmp_path):
    flow = write_flow(tmp_path, "cached_flow.py", CACHED_FLOW)
    first = hw(flow, "run", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    _rename_run(tmp_path, "1", "1" + ESCAPE)
    reused = hw(flow, "run", cwd=tmp_path)
    assert reused.returncode == 0, reused.stdout + reused.stderr
    assert "reused from cache: CachedFlow/1\\x1b]0;PWNED\\x07/start/1" in reused.stdout, \
        reused.stdout
    cloned = hw(flow, "resume", "--origin-run-id", "1" + ESCAPE, cwd=tmp_path)
    assert cloned.returncode == 0, cloned.stdout + cloned.stderr
    assert "\\x1b]0;PWNED" in cloned.stdout, cloned.stdout
    for done in (reused, cloned):
        assert "\x1b" not in done.stdout + done.stderr, done.stdout + done.stderr


# -- the current folder is no place to import from --------------------------------------------

HOOKED_FLOW = '''
from headwater import FlowSpec, exit_hook, step


def report(run):
    print("HOOK RAN", run.pathspec)


@exit_hook(on_success=[report])
class HookedFlow(FlowSpec):
    @step
    def start(self):
        print("STEP RAN")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HookedFlow()
'''

PLANTED = '''
import os
open(os.path.join({marks!r}, "planted-" + str(os.getpid())), "w").close()
raise ImportError("planted")
'''


def test_a_module_another_user_planted_in_the_current_folder_is_never_imported(tmp_path):
    """A run started from a folder others may write (``cd /tmp``) starts Pythons of its own (an
    exit hook's, each task's under ``--executor spawn``, an environment's server): ``python -c``
    and ``python -m`` put the current folder first on their import path, so a ``typing.py``
    planted there ran as the user."""
    flows, marks, shared = tmp_path / "flows", tmp_path / "marks", tmp_path / "shared"
    for folder in (flows, marks, shared):
        folder.mkdir()
    shared.chmod(0o1777)  # as /tmp
    planted = shared / "typing.py"
    planted.write_text(PLANTED.format(marks=str(marks)))
    if os.geteuid() == 0:
        os.chown(planted, 65534, 65534)  # another user's file (nobody's)
    flow = write_flow(flows, "hooked_flow.py", HOOKED_FLOW)
    for extra in ((), ("--executor", "spawn")):
        done = hw(flow, "run", *extra, cwd=shared, HEADWATER_DATASTORE_ROOT=str(tmp_path / "ds"))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "STEP RAN" in done.stdout and "HOOK RAN" in done.stdout, done.stdout + done.stderr
        assert not list(marks.iterdir()), (extra, done.stdout + done.stderr)


# -- a card built to stall the page around it --------------------------------------------------

COMMENTED_CARD_FLOW = '''
from headwater import FlowSpec, card, step
from headwater.cards import MetaflowCard


class CommentedCard(MetaflowCard):
    type = "commented"

    def render(self, task):
        # empty comments before the body, and no doctype after them
        return "<!---->" * 60 + "<p>CARD-BODY</p>"


class CommentedFlow(FlowSpec):
    @card(type="commented")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CommentedFlow()
'''

FRAME_IT = """
from headwater.client.card_sandbox import framed_cell, framed_page
card = "<!---->" * 60 + "<p>CARD-BODY</p>"
assert "CARD-BODY" in framed_page(card, "t") and "CARD-BODY" in framed_cell(card, "t")
print("FRAMED")
"""


def test_a_card_of_many_comments_is_served_and_framed_in_linear_time(tmp_path):
    """Finding a card's doctype (the UI's size script and the card policy go right after it)
    took time exponential in the comments before it: 60 empty ones and no doctype held the
    UI's event loop, so every page of every reader, for days."""
    import subprocess
    import sys

    framed = subprocess.run([sys.executable, "-c", FRAME_IT], capture_output=True, text=True,
                            timeout=120, check=False)
    assert framed.returncode == 0 and "FRAMED" in framed.stdout, framed.stderr
    from .uiserver import ui_server

    flow = write_flow(tmp_path, "commented_flow.py", COMMENTED_CARD_FLOW)
    done = hw(flow, "run", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    with ui_server(tmp_path) as server:
        status, headers, body = server.get("/api/tasks/CommentedFlow/1/start/1/cards/0")
        assert status == 200, body
        assert b"CARD-BODY" in body
        assert body.index(b"headwaterCardHeight") < body.index(b"<!---->")
        assert server.get("/api/flows")[0] == 200
