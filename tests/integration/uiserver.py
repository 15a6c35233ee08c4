"""A real ``headwater ui`` server in a subprocess, for the UI's tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from servers import free_port, stop_process

from .flowrun import flow_file, hermetic_env, start_cli

READY_S = 90  # generous: the machine is shared and loaded
DEADLINE_MS = 90_000  # what a page may take to show something, on the same loaded machine


def new_context(browser, **options):  # type: ignore[no-untyped-def]
    """A browser context as the UI tests use one: a laptop's window (unless ``options`` say
    otherwise) and :data:`DEADLINE_MS` for every wait."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
    context.set_default_timeout(DEADLINE_MS)
    return context


def watched_page(context):  # type: ignore[no-untyped-def]
    """A new page of ``context`` recording every console error or warning, uncaught exception,
    failed request (but one the page's navigation aborted) and error answer as ``page.problems``
    (a test asserts there are none)."""
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    # A request cut off by the page's own navigation (a poll in flight when the test goes to
    # the next page) fails as ERR_ABORTED: the browser's doing, not the UI's, so not a problem.
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}")
            if r.failure != "net::ERR_ABORTED" else None)
    page.on("response", lambda r: problems.append(f"{r.status}: {r.url}")
            if r.status >= 400 else None)
    page.problems = problems  # type: ignore[attr-defined]
    return page


class UIServer:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path, token: str | None) -> None:
        self.proc, self.port, self.log, self.token = proc, port, log, token
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str, *, token: str | None = None, headers: dict | None = None,
            method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of one request; a token is sent as a Bearer header."""
        sent = dict(headers or {})
        token = token if token is not None else self.token
        if token:
            sent["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, headers=sent, method=method)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=60) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}, \
                    response.read()
        except urllib.error.HTTPError as err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()

    def json(self, path: str) -> object:
        status, _, body = self.get(path)
        assert status == 200, (status, body)
        return json.loads(body)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object) -> None:
        return None


def ui_command(folder: Path | None, *args: str) -> list[str]:
    """``headwater ui ARGS`` over ``folder/.headwater`` (None: whatever the environment says)."""
    where = ["--datastore-root", str(folder / ".headwater")] if folder is not None else []
    return [str(Path(sys.executable).parent / "headwater"), "ui", *where, *args]


@contextmanager
def ui_server(folder: Path, *, token: str | None = None, env: dict | None = None,
              prefix: tuple[str, ...] = (), args: tuple[str, ...] = ()) -> Iterator[UIServer]:
    """``headwater ui`` over ``folder/.headwater`` on a free loopback port, until the block ends;
    with HEADWATER_DATASTORE_ROOT in ``env``, over what the environment names instead.
    ``prefix``: a command the server is started through (``prlimit --nofile=...``); ``args``:
    more options of ``headwater ui`` (``--metadata URL``)."""
    port = free_port()
    log = folder / f"ui-{port}.log"
    full_env = hermetic_env(env)
    if token:
        full_env["HEADWATER_UI_TOKEN"] = token
    with open(log, "wb") as handle:
        chosen = None if "HEADWATER_DATASTORE_ROOT" in (env or {}) else folder
        command = [*prefix, *ui_command(chosen, "--port", str(port), *args)]
        proc = subprocess.Popen(command, env=full_env,  # noqa: S603
                                stdout=handle, stderr=subprocess.STDOUT, cwd=folder)
    server = UIServer(proc, port, log, token)
    try:
        _wait_ready(server)
        yield server
    finally:
        stop_process(proc)


def _wait_ready(server: UIServer) -> None:
    """Poll until the server answers (or has died, or the deadline passed)."""
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"headwater ui exited early:\n{server.output()}")
        try:
            status, _, _ = server.get("/api/flows")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"headwater ui did not answer within {READY_S} s:\n{server.output()}")


def running_task(ui, flow: str, step: str) -> tuple[str, str] | None:  # type: ignore[no-untyped-def]
    """(run id, task id) of the first task of ``step`` in the running run of ``flow``, through
    the API; None while there is none yet (a condition for :func:`wait_until`)."""
    runs = ui.json(f"/api/runs?flow={flow}&status=running")["runs"]
    if not runs:
        return None
    tasks = ui.json(f"/api/runs/{flow}/{runs[0]['run_id']}/tasks?step={step}")["tasks"]
    return (runs[0]["run_id"], tasks[0]["task_id"]) if tasks else None


def wait_until(condition, what: str, timeout: float = 120):  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")



@contextmanager
def gated_run(flow: Path, home: Path, gates_name: str, gates: tuple[str, ...],
              *args: str) -> Iterator[tuple[subprocess.Popen, Path]]:
    """``python FLOW run ARGS`` started in ``home``, its steps held until the test creates the
    gate files they wait for in ``home/gates_name`` (the flow's ``GATE_DIR``). On the way out
    every gate in ``gates`` is opened and the run waited for, whatever the test did.

    The run's output goes to ``home/gates_name.log``, not to a pipe nobody reads: a run of
    thousands of tasks fills a pipe's buffer and would stall on its next line."""
    folder = home / gates_name
    folder.mkdir()
    with open(home / f"{gates_name}.log", "wb") as output:
        run = start_cli(flow, "run", *args, cwd=home, stdout=output, stderr=subprocess.STDOUT,
                        env={**hermetic_env(), "GATE_DIR": str(folder),
                             "HEADWATER_DATASTORE_ROOT": str(home / ".headwater")})
    try:
        yield run, folder
    finally:
        for gate in gates:
            (folder / gate).touch()
        run.wait(timeout=300)


@contextmanager
def held_ui_run(home: Path, gate_name: str) -> Iterator[tuple[subprocess.Popen, Path]]:
    """A run of ``ui/ui_flow.py`` started in ``home`` (datastore ``home/.headwater``), its
    ``wait`` step held until the test creates ``home/gate_name``. On the way out the gate is
    opened, the run waited for and its pipes closed, whatever the test did."""
    gate = home / gate_name
    run = start_cli(flow_file("ui/ui_flow.py"), "run", "--gate", str(gate), cwd=home,
                    env={**hermetic_env(), "HEADWATER_DATASTORE_ROOT": str(home / ".headwater")})
    try:
        yield run, gate
    finally:
        gate.touch()
        run.wait(timeout=120)
        run.stdout.close()
        run.stderr.close()


def sse_events(stream):  # type: ignore[no-untyped-def]
    """(event, data) pairs of a server-sent event stream, as they arrive."""
    name, data = None, []
    for raw in stream:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif not line and name:
            yield name, json.loads("\n".join(data))
            name, data = None, []


def make_caught_end_runs(folder: Path, **env: str) -> None:
    """FirstTryFailsFlow/1, which succeeds, then FirstTryFailsFlow/2, whose end step raises and
    ``@catch`` (given with ``--with``) catches: it finishes, exit code 0, yet reads failed."""
    from .faultkit import fault_flow, hw

    flow = fault_flow("first_try_fails_flow.py")
    ok = hw(flow, "run", cwd=folder, FIRST_TRY_FAILS="none", **env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    caught = hw(flow, "--with", "catch:var=oops", "run", cwd=folder, FIRST_TRY_FAILS="end",
                **env)
    assert caught.returncode == 0, caught.stdout + caught.stderr  # Metaflow exits 0 too
    assert "its end step failed and @catch caught it" in caught.stdout


def assert_caught_end_reads_failed(ui: UIServer) -> None:
    """What the API says of :func:`make_caught_end_runs`' runs: the second failed, everywhere
    (list, filters, the flows' latest runs, the run itself, with why)."""
    listed = ui.json("/api/runs")["runs"]
    assert {r["run_id"]: r["status"] for r in listed} == {"1": "succeeded", "2": "failed"}
    assert [r["run_id"] for r in ui.json("/api/runs?status=failed")["runs"]] == ["2"]
    assert [r["run_id"] for r in ui.json("/api/runs?status=succeeded")["runs"]] == ["1"]
    flows = ui.json("/api/flows")
    assert [(f["latest_run"]["run_id"], f["latest_run"]["status"]) for f in flows] == [
        ("2", "failed")]
    head = ui.json("/api/runs/FirstTryFailsFlow/2")
    assert head["status"] == "failed" and head["failures"] == [] and not head["interrupted"]
    assert head["caught_end"]["step"] == "end"
    assert head["caught_end"]["failure"]["message"] == "end fails on attempt 0"
    assert ui.json("/api/runs/FirstTryFailsFlow/1")["caught_end"] is None
