"""The thirteenth hostile-input audit. Each test runs the real thing: ``python flow.py`` runs and
commands in a child process, the client over the datastore they wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from .faultkit import client, hw
from .flowrun import write_flow

TINY_FLOW = '''
from headwater import FlowSpec, step


class TinyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TinyFlow()
'''

LOOKALIKE_PROD = "\u0440rod"  # a Cyrillic "р"
LATIN_LOOKALIKE = "adm\u0131n"  # a dotless i, a Latin letter


@pytest.fixture(scope="module")
def tagged(tmp_path_factory) -> Path:
    """A folder with two runs of TinyFlow: run 1 tagged ``prod``, run 2 ``рrod`` and ``admın``."""
    folder = tmp_path_factory.mktemp("h13-tags")
    flow = write_flow(folder, "tiny_flow.py", TINY_FLOW)
    for tags in (["prod"], [LOOKALIKE_PROD, LATIN_LOOKALIKE]):
        proc = hw(flow, "run", *[arg for tag in tags for arg in ("--tag", tag)], cwd=folder)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


def test_a_tag_filter_says_which_other_tags_look_like_the_one_asked(tagged):
    """``runs --tag prod`` lists run 1 only (the exact text) and says run 2's ``рrod`` looks like
    it, as an escape; the note is on stderr, so ``--json`` stays parseable; asking for the
    lookalike names ``prod`` the same way."""
    flow = tagged / "tiny_flow.py"
    asked = hw(flow, "runs", "--tag", "prod", cwd=tagged)
    assert asked.returncode == 0, asked.stderr
    assert "TinyFlow/1" in asked.stdout and "TinyFlow/2" not in asked.stdout
    assert "\\u0440rod" in asked.stderr and LOOKALIKE_PROD not in asked.stderr
    assert "looks like it but is another" in asked.stderr
    as_json = hw(flow, "runs", "--json", "--tag", LOOKALIKE_PROD, cwd=tagged)
    assert as_json.returncode == 0, as_json.stderr
    import json

    assert [r["run_id"] for r in json.loads(as_json.stdout)] == ["2"]
    assert "--tag \\u0440rod matches that exact text only" in as_json.stderr
    assert ": prod (" in as_json.stderr
    latin = hw(flow, "runs", "--tag", "admin", cwd=tagged)
    assert "adm\\u0131n" in latin.stderr, latin.stderr
    plain = hw(flow, "runs", "--tag", "nothing-like-it", cwd=tagged)
    assert plain.returncode == 0 and "Note:" not in plain.stderr


def test_the_clients_tag_filter_warns_of_a_lookalike_tag(tagged):
    from headwater import Flow

    client(tagged)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = [r.id for r in Flow("TinyFlow").runs("prod")]
    assert runs == ["1"]
    (warning,) = [w for w in caught if "looks like it" in str(w.message)]
    assert "\\u0440rod" in str(warning.message)
    assert Path(warning.filename).name == Path(__file__).name  # points at the caller's line
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [r.id for r in Flow("TinyFlow").runs("unrelated")] == []
        assert [r.id for r in Flow("TinyFlow").runs()] == ["2", "1"]
    assert not [w for w in caught if "looks like it" in str(w.message)]


def test_an_error_naming_a_lookalike_shows_it_apart(tagged):
    """A run id typed with a Cyrillic "а" (``1а``): the not-found error quotes it as an escape,
    so it does not read as the run ``1a``; a Latin lookalike too."""
    flow = tagged / "tiny_flow.py"
    for run_id, shown in (("1\u0430", "1\\u0430"), ("\u0131", "\\u0131")):
        proc = hw(flow, "tag", "add", "--run-id", run_id, "x", cwd=tagged)
        assert proc.returncode == 1
        assert f"'TinyFlow/{shown}' not found" in proc.stderr, proc.stderr
        assert run_id not in proc.stderr


def test_removing_a_tag_the_run_lacks_names_the_lookalike_it_has(tagged):
    proc = hw(tagged / "tiny_flow.py", "tag", "remove", "--run-id", "2", "prod", cwd=tagged)
    assert proc.returncode == 0, proc.stderr
    assert "has no tag prod, only \\u0440rod" in proc.stderr
    client(tagged)
    from headwater import Run

    assert LOOKALIKE_PROD in Run("TinyFlow/2").tags  # nothing was removed


def test_adding_a_user_tag_says_whose_namespace_the_run_joins(tmp_path):
    """As in Metaflow, ``user:bob`` is a user tag like any other and puts the run in bob's
    default namespace (his ``latest_run``); the command says so and how to undo it. Removing
    the run's own ``user:`` system tag is refused, as in Metaflow."""
    flow = write_flow(tmp_path, "tiny_flow.py", TINY_FLOW)
    assert hw(flow, "run", cwd=tmp_path).returncode == 0
    added = hw(flow, "tag", "add", "--run-id", "1", "user:bob", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "is now in the namespace user:bob too" in added.stderr
    assert "tag remove --run-id 1 user:bob" in added.stderr
    check = subprocess.run(
        [sys.executable, "-c", "from headwater import Flow, namespace; namespace('user:bob'); "
         "print(Flow('TinyFlow').latest_run.id)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert check.stdout.strip() == "1", check.stderr
    own = hw(flow, "tag", "add", "--run-id", "1", "user:tester", cwd=tmp_path)
    assert own.returncode == 0 and "Note:" not in own.stderr
    refused = hw(flow, "tag", "remove", "--run-id", "1", "user:tester", cwd=tmp_path)
    assert refused.returncode == 1 and "cannot remove system tag" in refused.stderr


PRINTING_FLOW = '''
from headwater import FlowSpec, step


class LogFlow(FlowSpec):
    @step
    def start(self):
        print("hello from start")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LogFlow()
'''


def _stdout_blob(folder: Path) -> Path:
    import sqlite3

    db = sqlite3.connect(folder / ".headwater" / "meta.sqlite")
    try:
        (key,) = db.execute("SELECT stdout_key FROM attempts WHERE flow = 'LogFlow' "
                            "AND step = 'start'").fetchone()
    finally:
        db.close()
    (blob,) = (folder / ".headwater").rglob(f"{key}*")
    return blob


def test_a_log_replaced_by_a_link_or_a_pipe_is_refused_not_followed(tmp_path):
    """Whoever can write a shared datastore's folders may put a symlink (to the reader's own
    files) or a named pipe where a task's log is: ``logs`` refuses both, naming the file, and
    returns at once (a pipe's open used to wait for a writer for ever)."""
    flow = write_flow(tmp_path, "log_flow.py", PRINTING_FLOW)
    assert hw(flow, "run", cwd=tmp_path).returncode == 0
    blob = _stdout_blob(tmp_path)
    assert "hello from start" in hw(flow, "logs", "1/start/1", cwd=tmp_path).stdout
    secret = tmp_path / "secret.txt"
    secret.write_text("PRIVATE-KEY-MATERIAL\n")
    blob.unlink()
    blob.symlink_to(secret)
    linked = hw(flow, "logs", "1/start/1", cwd=tmp_path)
    assert linked.returncode == 1
    assert "a symbolic link where its key" in linked.stderr and str(blob) in linked.stderr
    assert "PRIVATE-KEY-MATERIAL" not in linked.stdout + linked.stderr
    blob.unlink()
    os.mkfifo(blob)
    piped = hw(flow, "logs", "1/start/1", cwd=tmp_path, timeout=120)
    assert piped.returncode == 1 and "a named pipe where its key" in piped.stderr


def test_a_live_log_segment_that_is_a_link_is_never_read(tmp_path):
    """A running task's output so far is not checked against a hash: a link in its place would
    show the reader's own file as the task's output (``logs``, the web UI)."""
    from headwater.exceptions import StoreError
    from headwater.store.datastore import live_log_key, live_log_segment_key, read_live_log
    from headwater.store.local_storage import LocalStorage

    storage = LocalStorage(tmp_path / ".headwater")
    stem = live_log_key("LogFlow", "1", "start", "1", 0, "stdout")
    storage.put(live_log_segment_key(stem, 1), [b"printed so far\n"])
    assert read_live_log(storage, stem) == b"printed so far\n"
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE-KEY-MATERIAL\n")
    segment = tmp_path / ".headwater" / live_log_segment_key(stem, 2)
    segment.symlink_to(secret)
    with pytest.raises(StoreError, match="a symbolic link") as caught:
        read_live_log(storage, stem)
    assert "PRIVATE-KEY-MATERIAL" not in str(caught.value)


def test_a_metadata_database_replaced_by_a_pipe_is_refused_at_once(tmp_path):
    """A named pipe where ``meta.sqlite`` is made every command wait for ever in SQLite's open
    (``runs``, ``run``, the client); now each refuses it at once, naming it."""
    flow = write_flow(tmp_path, "log_flow.py", PRINTING_FLOW)
    assert hw(flow, "run", cwd=tmp_path).returncode == 0
    db = tmp_path / ".headwater" / "meta.sqlite"
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    db.unlink()
    os.mkfifo(db)
    for args in (["runs"], ["run"]):
        proc = hw(flow, *args, cwd=tmp_path, timeout=120)
        assert proc.returncode == 1, proc.stderr
        assert f"the metadata database {db} is a named pipe" in proc.stderr


CONCURRENT_FLOW = '''
from headwater import FlowSpec, concurrency, step


class WideFlow(FlowSpec):
    @step
    def start(self):
        self.xs = [1, 2]
        self.next(self.body, foreach="xs")

    @concurrency(limit=LIMIT)
    @step
    def body(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WideFlow()
'''


def test_an_absurd_concurrency_limit_is_refused_before_it_reaches_a_manifest(tmp_path):
    """``@concurrency(limit=10**30)`` ran locally and went into an Argo manifest as written,
    which Kubernetes refuses only at submission; it is refused before anything runs or is
    written, naming the largest limit and that leaving it off is what such a limit means."""
    flow = write_flow(tmp_path, "wide_flow.py", CONCURRENT_FLOW.replace("LIMIT", "10**30"))
    for args in (["run"], ["argo-workflows", "create", "--only-json"]):
        proc = hw(flow, *args, cwd=tmp_path)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "must be at most 2147483647" in proc.stderr
        assert "leave @concurrency off" in proc.stderr
        assert "parallelism" not in proc.stdout
    fine = write_flow(tmp_path, "fine_flow.py", CONCURRENT_FLOW.replace("LIMIT", "2**31 - 1"))
    assert hw(fine, "run", cwd=tmp_path).returncode == 0


WAITING_FLOW = '''
import os
import time

from headwater import FlowSpec, step


class WaitFlow(FlowSpec):
    @step
    def start(self):
        open(os.environ["STARTED"], "w").close()
        deadline = time.time() + 120
        while not os.path.exists(os.environ["RELEASE"]) and time.time() < deadline:
            time.sleep(0.05)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WaitFlow()
'''


def test_a_run_lock_replaced_by_a_pipe_or_a_link_holds_no_reader(tmp_path):
    """While a run goes, readers ask its lock file whether its scheduler is alive. A named pipe
    put in its place held every listing (``runs``, the UI) in ``open`` for ever; a link is not
    followed. The run is still listed, and told alive by its heartbeat."""
    from .faultkit import env_for
    from .uiserver import wait_until

    flow = write_flow(tmp_path, "wait_flow.py", WAITING_FLOW)
    started, release = tmp_path / "started", tmp_path / "release"
    env = env_for(tmp_path, STARTED=str(started), RELEASE=str(release))
    run = subprocess.Popen([sys.executable, str(flow), "run"], cwd=tmp_path, env=env,  # noqa: S603
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: started.exists() or run.poll() is not None, "the step to start")
        lock = tmp_path / ".headwater" / "run-locks" / "WaitFlow" / "1.lock"
        assert lock.exists()
        lock.unlink()  # the scheduler's descriptor keeps its own lock; the name is another's
        os.mkfifo(lock)
        listed = hw(flow, "runs", cwd=tmp_path, timeout=120)
        assert listed.returncode == 0, listed.stderr
        assert "WaitFlow/1  running" in listed.stdout
        lock.unlink()
        lock.symlink_to(tmp_path / "elsewhere.lock")
        listed = hw(flow, "runs", cwd=tmp_path, timeout=120)
        assert "WaitFlow/1  running" in listed.stdout
        assert not (tmp_path / "elsewhere.lock").exists()
    finally:
        release.touch()
        out, _ = run.communicate(timeout=120)
    assert run.returncode == 0, out


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="making a link owned by another user needs root (the suite runs as root)")
def test_a_metadata_link_another_user_made_is_never_opened(tmp_path):
    """Another writer of a shared datastore's folder replaces ``meta.sqlite`` with a link to a
    database of the reader's own: headwater would create its tables there. Refused, naming the
    link; the reader's database is unchanged. A link of the user's own still works."""
    import sqlite3

    flow = write_flow(tmp_path, "log_flow.py", PRINTING_FLOW)
    assert hw(flow, "run", cwd=tmp_path).returncode == 0
    store = tmp_path / ".headwater"
    db = store / "meta.sqlite"
    kept = tmp_path / "kept.sqlite"
    db.rename(kept)  # the store's own database, now kept elsewhere
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    victim = tmp_path / "places.sqlite"
    conn = sqlite3.connect(victim)
    conn.execute("CREATE TABLE places (url TEXT)")
    conn.commit()
    conn.close()
    before = victim.read_bytes()
    db.symlink_to(victim)
    os.lchown(db, 65534, 65534)  # nobody's link
    for args in (["runs"], ["run"]):
        proc = hw(flow, *args, cwd=tmp_path)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert f"the metadata database {db} is a link to {victim} made by another user" \
            in proc.stderr
    assert victim.read_bytes() == before
    db.unlink()
    db.symlink_to(kept)  # the user's own link: a database kept elsewhere on purpose
    listed = hw(flow, "runs", cwd=tmp_path)
    assert listed.returncode == 0 and "LogFlow/1" in listed.stdout, listed.stderr


TIMED_FLOW = '''
from headwater import FlowSpec, step, timeout


class TimedFlow(FlowSpec):
    @timeout(LIMIT)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TimedFlow()
'''


def test_an_absurd_timeout_is_refused_at_launch_not_by_an_overflow_in_the_step(tmp_path):
    """``@timeout(seconds=10**30)`` failed its step with a bare ``OverflowError`` from inside
    headwater's timer; it is refused at launch, naming the option and the largest limit."""
    for limit, option in (("seconds=10**30", "seconds"), ("hours=10**7", "hours")):
        flow = write_flow(tmp_path, "timed_flow.py", TIMED_FLOW.replace("LIMIT", limit))
        proc = hw(flow, "run", cwd=tmp_path)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert f"@timeout({option}=" in proc.stderr and "at most 2147483647 seconds" in proc.stderr
        assert "OverflowError" not in proc.stdout + proc.stderr
    flow = write_flow(tmp_path, "timed_flow.py", TIMED_FLOW.replace("LIMIT", "seconds=2**31 - 1"))
    done = hw(flow, "run", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_web_uis_tag_filter_names_the_tags_that_look_like_it(tagged, browser):
    """``/?tag=prod`` lists the runs tagged exactly so, and names ``\\u0440rod`` (a link to its
    own filter) as a tag that looks like it; the API page carries them for other clients."""
    import json
    from urllib.parse import quote

    from playwright.sync_api import expect

    from .uiserver import new_context, ui_server

    with ui_server(tagged) as server:
        status, _, body = server.get("/api/runs?limit=50&offset=0&tag=prod")
        assert status == 200
        page_data = json.loads(body)
        assert [r["run_id"] for r in page_data["runs"]] == ["1"]
        assert page_data["lookalike_tags"] == [LOOKALIKE_PROD]
        status, _, body = server.get("/api/runs?limit=50&offset=0&tag=" + quote("nothing"))
        assert json.loads(body)["lookalike_tags"] == []
        context = new_context(browser)
        page = context.new_page()
        page.goto(server.url + "/?tag=prod")
        note = page.locator("#tag-lookalikes")
        expect(note).to_contain_text("matches that exact text only")
        expect(note.locator("a.tag")).to_have_text(["\\u0440rod"])
        page.goto(server.url + "/?tag=" + quote("\u0440rod\u0440"))  # nothing matches
        expect(page.locator("#no-runs-match")).to_contain_text("\\u0440rod\\u0440")
        context.close()


def test_a_user_filter_says_which_users_names_look_like_the_one_asked(tmp_path):
    """``runs --user alice`` lists alice's runs and names the user ``\\u0430lice`` (a Cyrillic
    "а"), whose runs it does not list."""
    flow = write_flow(tmp_path, "tiny_flow.py", TINY_FLOW)
    for user in ("alice", "\u0430lice"):
        assert hw(flow, "run", cwd=tmp_path, HEADWATER_USER=user).returncode == 0
    asked = hw(flow, "runs", "--user", "alice", cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert "TinyFlow/1" in asked.stdout and "TinyFlow/2" not in asked.stdout
    assert "--user alice matches that exact text only; this user looks like it but is " \
        "another: \\u0430lice" in asked.stderr
    plain = hw(flow, "runs", "--user", "bob", cwd=tmp_path)
    assert "Note:" not in plain.stderr
