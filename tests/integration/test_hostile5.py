"""The fifth hostile-input audit: what a package or record someone else stored in a shared
datastore, a webhook, or a crafted address can do to the surfaces added last (``headwater
code``, ``ArgoEvent``, the UI's sorted task list, ``@transient`` with ``gc``, card templates).
Each test runs the real thing: ``headwater code`` and ``python flow.py`` processes, a real HTTP
server standing in for the webhook, a real ``headwater ui`` server spoken to over HTTP."""

from __future__ import annotations

import gzip
import io
import json
import resource
import sqlite3
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pytest

from .faultkit import DEADLINE_S, datastore, hw, no_headwater_traceback
from .flowrun import hermetic_env, write_flow

ESCAPE = "\x1b]0;PWNED\x07"

PLAIN_FLOW = """
    from headwater import FlowSpec, step


    class PlainFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        PlainFlow()
"""


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory) -> Path:
    """A project folder holding one finished local run of PlainFlow (PlainFlow/1)."""
    project = tmp_path_factory.mktemp("hostile5")
    flow = write_flow(project, "plain_flow.py", PLAIN_FLOW)
    done = hw(flow, "--quiet", "run", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    return project


def _planted(project: Path, packed: bytes, tmp_path: Path) -> Path:
    """A copy of ``project``'s datastore whose run 1 names ``packed`` as its code package, as
    someone who can write a shared datastore and its metadata could store it."""
    root = tmp_path / "shared" / ".headwater"
    import shutil

    shutil.copytree(datastore(project), root)
    from headwater.store import open_datastore

    store = open_datastore(str(root))
    try:
        key = store.save_bytes(packed).key
    finally:
        store.close()
    code = {"key": key, "path": "plain_flow.py", "module": "plain_flow", "class": "PlainFlow"}
    with sqlite3.connect(root / "meta.sqlite") as db:
        db.execute("UPDATE runs SET code = ? WHERE flow = 'PlainFlow' AND run_id = '1'",
                   (json.dumps(code),))
    return root


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue())


def _code(*args: str, cwd: Path, root: Path, limit_memory: int | None = None
          ) -> subprocess.CompletedProcess:
    """``headwater code ARGS`` in ``cwd`` against the datastore ``root``; with ``limit_memory``
    (bytes) the process may map no more than that (as a container's memory limit would)."""

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_memory, limit_memory))

    return subprocess.run([sys.executable, "-m", "headwater", "code", *args], cwd=cwd,
                          env=hermetic_env({"HEADWATER_DATASTORE_ROOT": str(root)}),
                          capture_output=True, text=True, timeout=DEADLINE_S,
                          preexec_fn=limited if limit_memory else None)


# -- headwater code: packages someone else stored ---------------------------------------------

BOMB_BYTES = 3 << 30  # what the bomb unzips to: far more than the process may map


def _gzip_bomb() -> bytes:
    """A few MB of gzip holding a tar whose one file is BOMB_BYTES of zeros."""
    info = tarfile.TarInfo("plain_flow.py")
    info.size = BOMB_BYTES
    squeeze = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: a gzip stream
    out = [squeeze.compress(info.tobuf())]
    chunk = bytes(1 << 24)
    for _ in range(BOMB_BYTES // len(chunk)):
        out.append(squeeze.compress(chunk))
    out.append(squeeze.flush())
    return b"".join(out)


def test_a_zip_bomb_package_is_refused_without_unzipping_it_whole(plain_run, tmp_path):
    # Before, the client unzipped the whole package in memory (gzip.decompress) before the
    # archive's limits were checked: 3 GB from a 3 MB blob, a MemoryError traceback under a
    # container's memory limit (or the machine swapping without one).
    root = _planted(plain_run, _gzip_bomb(), tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    for command in (["pull", "--dir", "pulled"], ["diff"], ["patch", "--file", "p.patch"]):
        done = _code(*command[:1], "PlainFlow/1", *command[1:], cwd=work, root=root,
                     limit_memory=2 << 30)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "Unsafe code cache:" in done.stderr, done.stderr
        assert "a zip bomb" in done.stderr and "is refused" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and no_headwater_traceback(done.stderr)
    assert list(work.iterdir()) == []


def test_gzip_around_something_that_is_no_tar_is_refused_naming_the_package(plain_run,
                                                                           tmp_path):
    # The workers refused it already; the client's in-memory reading raised tarfile's
    # ReadError as a traceback.
    root = _planted(plain_run, gzip.compress(b"hello world " * 100), tmp_path)
    done = _code("diff", "PlainFlow/1", cwd=tmp_path, root=root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "is refused: it is not a tar archive" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and no_headwater_traceback(done.stderr)


@pytest.mark.parametrize("entry, folder", [(".git/config", ".git"),
                                           ("sub/.GIT/hooks/post-checkout", ".git"),
                                           (".hg/hgrc", ".hg")])
def test_a_package_carrying_git_configuration_is_refused(plain_run, tmp_path, entry, folder):
    # A pulled folder holding .git/config ran its core.fsmonitor command at the user's next
    # `git status` there; `code patch` in the user's repository compared their own .git/config
    # with the package's, and `patch -p1` (the hint without git) rewrote it.
    hook = b'[core]\n\tfsmonitor = "touch ../owned; false"\n'
    root = _planted(plain_run, _tarball({"plain_flow.py": b"x = 1\n", entry: hook}), tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    subprocess.run(["git", "init", "-q", str(work)], check=True, timeout=60)
    mine = (work / ".git" / "config").read_bytes()
    for command in (["pull", "--dir", "pulled"], ["diff"], ["patch", "--file", "p.patch"]):
        done = _code(command[0], "PlainFlow/1", *command[1:], cwd=work, root=root)
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"is refused: its entry {entry!r} is inside a {folder} folder" in done.stderr, \
            done.stderr
        assert "Traceback" not in done.stderr
    assert sorted(p.name for p in work.iterdir()) == [".git"]
    assert (work / ".git" / "config").read_bytes() == mine


def test_names_in_a_package_never_reach_the_terminal_as_control_characters(plain_run, tmp_path):
    # The notes `code diff` and `patch` print on stderr name the package's files; a name holding
    # an escape retitled (or cleared) the reader's terminal.
    name = f"{ESCAPE}evil.py"
    root = _planted(plain_run, _tarball({"plain_flow.py": b"x = 1\n", name: b"y = 2\n"}),
                    tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    (work / "plain_flow.py").write_text("x = 1\n")
    for command in (["diff"], ["patch", "--file", "p.patch"]):
        done = _code(command[0], "PlainFlow/1", *command[1:], cwd=work, root=root)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "\\x1b]0;PWNED\\x07evil.py" in done.stderr, done.stderr
        assert not any(ch in done.stderr for ch in "\x1b\x07"), repr(done.stderr)


def test_the_apply_command_patch_prints_runs_as_printed_whatever_the_names(plain_run, tmp_path):
    # The hint is pasted into a shell: a folder or patch name with a space (or a `;`) was cut
    # into several words there, so the printed command failed (or ran the rest as a command).
    root = _planted(plain_run, _tarball({"plain_flow.py": b"x = 2\n"}), tmp_path)
    repo = tmp_path / "repo"
    work = repo / "my flows; touch owned"
    work.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=60)
    (work / "plain_flow.py").write_text("x = 1\n")
    done = _code("patch", "PlainFlow/1", "--file", "the fix.patch", cwd=work, root=root)
    assert done.returncode == 0, done.stdout + done.stderr
    hint = done.stderr.split("Apply the patch by running:\n", 1)[1].strip()
    assert hint.startswith("git apply --verbose "), hint
    applied = subprocess.run(["bash", "-c", hint], cwd=work, capture_output=True, text=True,
                             timeout=60)
    assert applied.returncode == 0, hint + applied.stdout + applied.stderr
    assert (work / "plain_flow.py").read_text() == "x = 2\n"
    assert not (work / "owned").exists() and not (repo / "owned").exists()


def test_a_file_built_to_stall_the_line_matcher_still_gives_a_patch_that_applies(plain_run,
                                                                                 tmp_path):
    # Sixty thousand short lines, many repeated, on both sides: difflib's matcher took hours
    # over them (its time grows faster than the product of the two lengths), so `code diff`
    # and `code patch` never came back. Now the patch comes back, and applies.
    theirs = b"".join(b"%d\n" % ((i * 7) % 151) for i in range(60_000)) + b"last\n"
    mine = b"".join(b"%d\n" % (i % 150) for i in range(60_000))
    root = _planted(plain_run, _tarball({"plain_flow.py": theirs}), tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    (work / "plain_flow.py").write_bytes(mine)
    done = _code("patch", "PlainFlow/1", "--file", "back.patch", cwd=work, root=root)
    assert done.returncode == 0, done.stdout + done.stderr
    applied = subprocess.run(["patch", "-p1", "-i", "back.patch"], cwd=work,
                             capture_output=True, text=True, timeout=DEADLINE_S)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert (work / "plain_flow.py").read_bytes() == theirs


# -- ArgoEvent: where an event and its token go -------------------------------------------------

PUBLISHING_FLOW = """
    import os

    from headwater import FlowSpec, step
    from headwater.compat.argo_events import ArgoEvent


    class PublishingFlow(FlowSpec):
        @step
        def start(self):
            self.sent = ArgoEvent("data_ready", url=os.environ.get("HOOK_URL")).publish(
                payload={"table": "t"})
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        PublishingFlow()
"""
TOKEN = "tok-3f9a-SECRET"


class _Recorder:
    """A real HTTP server on loopback that answers every request with ``status`` (a redirect to
    ``location`` when given) and keeps each request's method and Authorization header."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        import http.server
        import threading

        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                seen.append((self.command, self.headers.get("Authorization")))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_event_is_never_sent_on_with_its_token_to_where_a_redirect_points(tmp_path):
    # urllib followed a 302 from the webhook with a GET carrying every header: the bearer token
    # went to whatever host the answer named.
    elsewhere = _Recorder()
    hook = _Recorder(302, f"http://localhost:{elsewhere.port}/collect")
    try:
        flow = write_flow(tmp_path, "publishing_flow.py", PUBLISHING_FLOW)
        done = hw(flow, "run", cwd=tmp_path, HOOK_URL=f"http://127.0.0.1:{hook.port}/hook",
                  HEADWATER_EVENTS_TOKEN=TOKEN)
    finally:
        hook.close()
        elsewhere.close()
    assert done.returncode == 0, done.stdout + done.stderr
    assert hook.seen == [("POST", f"Bearer {TOKEN}")]
    assert elsewhere.seen == []
    assert "Unable to publish Argo Event (data_ready): the webhook answered with a redirect " \
        "(HTTP 302)" in done.stdout + done.stderr
    assert TOKEN not in done.stdout + done.stderr


@pytest.mark.parametrize("url, why", [
    ("file:///dev/zero", "is not http:// or https:// (it is 'file')"),
    ("http://ops:hunter2@127.0.0.1:9/hook", "holds a user name or password"),
])
def test_a_webhook_url_no_event_could_go_to_is_named_without_repeating_it(tmp_path, url, why):
    # A file: URL was read as the answer (/dev/zero for ever); a password in the URL was never
    # sent, and the event failed on a host lookup of 'ops:hunter2@127.0.0.1'.
    flow = write_flow(tmp_path, "publishing_flow.py", PUBLISHING_FLOW)
    done = hw(flow, "run", cwd=tmp_path, HOOK_URL=url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Unable to publish Argo Event (data_ready): the webhook URL {why}" \
        in done.stdout + done.stderr
    assert "hunter2" not in done.stdout + done.stderr


# -- the UI's sorted task list ------------------------------------------------------------------


@pytest.mark.parametrize("odd_id", ["\u00b2", "9" * 5000])
def test_a_task_id_no_number_reads_as_sorts_and_is_never_a_500(plain_run, tmp_path, odd_id):
    # Task ids are compared as numbers when they are digits: `"²".isdigit()` is true but
    # int("²") fails, and int() refuses text of over 4,300 digits; a record another program
    # wrote made `?sort=task` a 500 (a traceback in the server's log).
    import shutil

    from .uiserver import ui_server

    project = tmp_path / "copy"
    shutil.copytree(plain_run, project)
    with sqlite3.connect(datastore(project) / "meta.sqlite") as db:
        db.execute("UPDATE tasks SET task_id = ? WHERE flow = 'PlainFlow' AND step = 'end'",
                   (odd_id,))
    with ui_server(project) as ui:
        for order in ("asc", "desc"):
            status, _, body = ui.get(f"/api/runs/PlainFlow/1/tasks?sort=task&order={order}")
            assert status == 200, body[:2000]
            listed = [t["task_id"] for t in json.loads(body)["tasks"]]
            assert sorted(listed) == sorted(["1", odd_id]), listed
        log = ui.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


# -- @transient and gc ------------------------------------------------------------------------


def test_a_resume_cloning_transient_data_refreshes_it_so_a_gc_running_then_keeps_it(tmp_path):
    # gc counts no succeeded run's @transient data. A resume that found the data still there
    # only looked for it, so a gc collecting at that moment could free it before the clone was
    # recorded, leaving the new run referring to nothing. Now the clone touches each blob, as
    # a write finding it there does, which puts it past any running gc's cutoff.
    import os
    import time

    from .flowrun import flow_file

    project = tmp_path / "project"
    project.mkdir()
    env = {"HEADWATER_DATASTORE_ROOT": str(project / ".headwater")}
    flow = flow_file("transient_flow.py")
    assert hw(flow, "run", "--seed", "z", cwd=project, **env).returncode == 0
    with sqlite3.connect(project / ".headwater" / "meta.sqlite") as db:
        keys = [k for (k,) in db.execute(
            "SELECT key FROM artifacts WHERE run_id = '1' AND step = 'start' "
            "AND name IN ('raw', 'scratch')")]
    assert len(keys) == 2
    blobs = [next(p for p in (project / ".headwater" / "blobs").rglob(f"*{key[2:]}*")
                  if p.is_file()) for key in keys]
    week_ago = time.time() - 7 * 24 * 3600
    for blob in blobs:
        os.utime(blob, (week_ago, week_ago))
    before = time.time()
    done = hw(flow, "resume", "middle", "--origin-run-id", "1", cwd=project, **env)
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(project / ".headwater" / "meta.sqlite") as db:
        cloned = db.execute("SELECT COUNT(*) FROM artifacts WHERE run_id = '2' AND step = 'start' "
                            "AND name IN ('raw', 'scratch') AND key IN (?, ?)", keys).fetchone()[0]
    assert cloned == 2  # start was cloned, not run again
    for blob in blobs:
        assert blob.stat().st_mtime >= before - 1, blob  # refreshed by the clone


# -- metaflow_extensions packages in a Dask run's code package ----------------------------------


def test_an_extension_package_never_carries_a_link_to_a_file_outside_it(tmp_path):
    # The extension files travel in the code package, into a datastore others read. Links
    # were followed wherever they pointed (a `creds` link to ~/.aws/credentials was packed);
    # the flow folder's rule holds for them now: a link is packed only when it stays inside.
    import os

    site = tmp_path / "site"
    org = site / "metaflow_extensions" / "acme"
    (org / "plugins").mkdir(parents=True)
    (org / "plugins" / "mfextinit_acme.py").write_text("DECORATORS = []\n")
    (org / "plugins" / "helper.py").write_text("X = 1\n")
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key = hunter2\n")
    os.symlink(secret, org / "plugins" / "creds")
    os.symlink(org / "plugins" / "helper.py", org / "same.py")  # inside: packed
    listed = subprocess.run(
        [sys.executable, "-c", "from headwater.compat.extension_points import package_files\n"
         "for path, name in package_files(): print(name)"],
        env=hermetic_env({"PYTHONPATH": str(site)}), capture_output=True, text=True,
        timeout=DEADLINE_S)
    assert listed.returncode == 0, listed.stderr
    names = set(listed.stdout.split())
    assert {"metaflow_extensions/acme/plugins/mfextinit_acme.py",
            "metaflow_extensions/acme/plugins/helper.py",
            "metaflow_extensions/acme/same.py"} <= names, names
    assert "metaflow_extensions/acme/plugins/creds" not in names


def test_a_folder_without_the_runs_flow_file_is_named_as_maybe_not_the_flows(plain_run,
                                                                             tmp_path):
    # Paths are relative to the flow's folder: from another folder holding a file of the same
    # name (an __init__.py), diff compared, and patch wrote a patch changing, an unrelated file
    # without a word. Now both say the flow file is missing here.
    root = _planted(plain_run, _tarball({"plain_flow.py": b"x = 1\n",
                                         "pkg/__init__.py": b"VERSION = 2\n"}), tmp_path)
    other = tmp_path / "other"
    (other / "pkg").mkdir(parents=True)
    (other / "pkg" / "__init__.py").write_text("VERSION = 1\n")
    for command in (["diff"], ["patch", "--file", "p.patch"]):
        done = _code(command[0], "PlainFlow/1", *command[1:], cwd=other, root=root)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Warning: the run's flow file plain_flow.py is not in the current directory" \
            in done.stderr, done.stderr
    (other / "plain_flow.py").write_text("x = 1\n")
    done = _code("diff", "PlainFlow/1", cwd=other, root=root)
    assert done.returncode == 0 and "Warning" not in done.stderr, done.stderr


@pytest.mark.parametrize("record", ["not json", '{"path": 1}', '[1]',
                                    '{"key": 5, "path": "plain_flow.py"}',
                                    '{"key": "../../../etc/passwd", "path": "plain_flow.py"}'])
def test_a_damaged_code_record_is_named_not_a_traceback(plain_run, tmp_path, record):
    # The run's code record was read as whatever JSON it held: a KeyError, a TypeError or a
    # JSONDecodeError traceback from deep inside the client. Now a MetadataError naming the run
    # and the fix, as the fourth audit made a damaged task record.
    root = _planted(plain_run, _tarball({"plain_flow.py": b"x = 1\n"}), tmp_path)
    with sqlite3.connect(root / "meta.sqlite") as db:
        db.execute("UPDATE runs SET code = ? WHERE flow = 'PlainFlow' AND run_id = '1'",
                   (record,))
    for command in (["pull", "--dir", "pulled"], ["diff"]):
        done = _code(command[0], "PlainFlow/1", *command[1:], cwd=tmp_path, root=root)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "Metadata error:" in done.stderr, done.stderr
        assert "the metadata record of run PlainFlow/1 is damaged: its code field" in done.stderr
        assert "headwater delete PlainFlow/1" in done.stderr
        assert "Traceback" not in done.stderr and no_headwater_traceback(done.stderr)
    assert not (tmp_path / "pulled").exists()
