"""The sixth hostile-input audit: card HTML someone else's flow wrote, opened by ``card view``
and in a notebook, and what an outsider can hand the command line, the client, the web UI and
the datastore. Each test runs the real thing: a ``python flow.py`` process, Chromium opening the
page ``card view`` wrote, a real HTTP server standing in for the outside world."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from .faultkit import DEADLINE_S, hw
from .flowrun import write_flow

DEADLINE_MS = int(DEADLINE_S * 1000)


class _Recorder:
    """A real HTTP server on loopback keeping the path of every request it gets."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        seen = self.paths

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def outside():
    recorder = _Recorder()
    yield recorder
    recorder.close()


# -- card view: a card is someone's HTML -----------------------------------------------------

# The card's script reports what it could reach on its own element, then tries to send it away.
PROBE_CARD = """<!doctype html><html><head><title>probe</title></head><body>
<h1 id="shown">the card is shown</h1>
<script>
var r = {ran: true, origin: String(self.origin)};
try { r.parent = String(parent.document.title); } catch (e) { r.parent = "blocked"; }
try { r.cookie = String(document.cookie); } catch (e) { r.cookie = "blocked"; }
try { localStorage.setItem("k", "v"); r.storage = "open"; } catch (e) { r.storage = "blocked"; }
document.getElementById("shown").setAttribute("data-probe", JSON.stringify(r));
var out = "http://127.0.0.1:PORT/";
new Image().src = out + "image";
fetch(out + "fetch").catch(function () {});
fetch("file:///etc/hostname").then(function () { document.body.setAttribute("data-file", "read"); },
                                   function () { document.body.setAttribute("data-file", "blocked"); });
</script></body></html>"""

PROBE_FLOW = '''
from headwater import FlowSpec, card, step
from headwater.cards import MetaflowCard


class ProbeCard(MetaflowCard):
    type = "probe"

    def render(self, task):
        return {card!r}


class ProbeFlow(FlowSpec):
    @card(type="probe")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProbeFlow()
'''


def _probe_run(tmp_path: Path, port: int) -> Path:
    flow = write_flow(tmp_path, "probe_flow.py",
                      PROBE_FLOW.format(card=PROBE_CARD.replace("PORT", str(port))))
    done = hw(flow, "--quiet", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return flow


def _viewed(flow: Path, tmp_path: Path, pathspec: str) -> Path:
    """The file ``card view PATHSPEC`` wrote (no browser: it prints the path)."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    viewed = hw(flow, "card", "view", pathspec, cwd=tmp_path, TMPDIR=str(temp), BROWSER="false")
    assert viewed.returncode == 0, viewed.stdout + viewed.stderr
    return Path(viewed.stdout.strip().rsplit(" ", 1)[-1])


def _probe_result(frame) -> dict:
    frame.wait_for_selector("#shown[data-probe]", timeout=DEADLINE_MS)
    frame.wait_for_selector("body[data-file]", timeout=DEADLINE_MS)
    found = json.loads(frame.get_attribute("#shown", "data-probe"))
    found["file"] = frame.get_attribute("body", "data-file")
    return found


def _assert_contained(found: dict, outside: _Recorder) -> None:
    assert found["ran"] is True  # the card's own scripts run (charts need them) ...
    assert found["origin"] == "null"  # ... in an origin of their own
    assert found["parent"] == "blocked"
    assert found["cookie"] == "blocked" and found["storage"] == "blocked"
    assert found["file"] == "blocked"
    assert outside.paths == []  # nothing left for the outside server


def test_card_view_shows_a_card_in_a_sandbox_its_scripts_cannot_leave(tmp_path, browser,
                                                                      outside):
    # `card view` opened the card's own HTML from a file:// address: its scripts ran as a local
    # page, free to load from anywhere (and, in browsers that allow it, to read local files).
    flow = _probe_run(tmp_path, outside.port)
    page_file = _viewed(flow, tmp_path, "ProbeFlow/1/start/1")
    assert "<script" not in page_file.read_text().split("<iframe", 1)[0]  # the page runs nothing
    page = browser.new_page()
    try:
        page.goto(page_file.as_uri())
        frame = page.frame_locator("iframe")
        assert frame.locator("#shown").inner_text(timeout=DEADLINE_MS) == "the card is shown"
        _assert_contained(_probe_result(page.frames[1]), outside)
        assert page.title().startswith("headwater: <Card probe of ProbeFlow/1/start/1")
    finally:
        page.close()


def test_a_card_shown_in_a_notebook_cannot_reach_the_notebook(tmp_path, browser, outside):
    # Card._repr_html_ put the card in a bare srcdoc frame, which shares the notebook page's
    # origin: a card's script could have driven the notebook (and its kernel).
    from headwater import Flow
    from headwater.cards import get_cards

    from .faultkit import client

    _probe_run(tmp_path, outside.port)
    client(tmp_path)
    cell = get_cards(Flow("ProbeFlow").latest_run["start"].task)[0]._repr_html_()
    page = browser.new_page()
    try:
        page.set_content("<html><head><title>notebook</title></head><body>"
                         f"<div>a notebook cell</div>{cell}</body></html>")
        _assert_contained(_probe_result(page.frames[1]), outside)
    finally:
        page.close()


def test_card_view_still_draws_a_chart_inside_its_sandbox(tmp_path, browser):
    # The sandbox and policy must not break what a card is for: the default card's Vega chart.
    from .flowrun import flow_file

    flow = Path(flow_file("cards/report_flow.py"))
    done = hw(flow, "--quiet", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    page_file = _viewed(flow, tmp_path, "ReportFlow/1/start/1")
    context = browser.new_context(offline=True)
    try:
        page = context.new_page()
        page.goto(page_file.as_uri())
        card = page.frame_locator("iframe")
        card.locator(".hw-vega[data-drawn]").wait_for(timeout=DEADLINE_MS)
        assert card.locator(".hw-vega svg .mark-rect path").count() == 3
        assert card.locator("h1", has_text="Training report").is_visible()
    finally:
        context.close()


# -- names from records reaching the terminal ------------------------------------------------

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

# Retitle the terminal, clear it, and set the reader's clipboard (OSC 52) to `echo pwned`.
ESCAPES = "\x1b]0;PWNED\x07\x1b[2J\x1b]52;c;ZWNobyBwd25lZA==\x07"


def test_tags_and_user_names_a_shared_database_holds_are_listed_as_text(tmp_path):
    # `headwater runs` and `tag list` printed the tags and user names of the records as they
    # were: anyone who can write a shared metadata database could send the reader's terminal
    # escapes (a clipboard write among them); a bidi override, which `tag add` accepts, reordered
    # the line.
    import sqlite3
    import subprocess
    import sys

    from .faultkit import datastore, env_for

    flow = write_flow(tmp_path, "plain_flow.py", PLAIN_FLOW)
    assert hw(flow, "--quiet", "run", "--tag", "fine\u202eenif", cwd=tmp_path).returncode == 0
    with sqlite3.connect(datastore(tmp_path) / "meta.sqlite") as db:
        db.execute("INSERT INTO run_tags VALUES ('PlainFlow', '1', ?, 0)", ("evil" + ESCAPES,))
        db.execute("UPDATE runs SET username = ?", ("bob" + ESCAPES,))
    everywhere = subprocess.run([sys.executable, "-m", "headwater", "runs"], cwd=tmp_path,
                                env=env_for(tmp_path), capture_output=True, text=True,
                                timeout=DEADLINE_S)
    listings = [everywhere, hw(flow, "runs", cwd=tmp_path),
                hw(flow, "tag", "list", "--all", cwd=tmp_path),
                hw(flow, "tag", "list", "--run-id", "1", cwd=tmp_path),
                hw(flow, "tag", "list", "--run-id", "1", "--flat", cwd=tmp_path)]
    for shown in listings:
        assert shown.returncode == 0, shown.stdout + shown.stderr
        text = shown.stdout + shown.stderr
        assert "evil\\x1b]0;PWNED\\x07" in text and "fine\\u202eenif" in text, text
        assert not any(ch in text for ch in "\x1b\x07\u202e"), repr(text)
    assert "bob\\x1b]0;PWNED\\x07\\x1b[2J\\x1b]52;c;ZWNobyBwd25lZA==\\x07" in listings[0].stdout


# -- config files: read in bounded memory and time -------------------------------------------

CONFIG_FLOW = """
    from headwater import Config, FlowSpec, step


    class ConfigFlow(FlowSpec):
        cfg = Config("cfg", default_value={"lr": 0.1})

        @step
        def start(self):
            print("lr is", self.cfg.lr)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ConfigFlow()
"""


def _config_run(tmp_path: Path, source: str, **env: str):
    import resource
    import subprocess
    import sys

    from .faultkit import env_for

    def limited() -> None:  # as a container's memory limit would
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    flow = write_flow(tmp_path, "config_flow.py", CONFIG_FLOW)
    return subprocess.run([sys.executable, str(flow), "--config", "cfg", source, "run"],
                          cwd=tmp_path, env=env_for(tmp_path, **env), capture_output=True,
                          text=True, timeout=DEADLINE_S, preexec_fn=limited)


def _refused(proc, *phrases: str) -> None:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Invalid configuration:" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr


def test_a_config_file_that_never_ends_is_refused_at_the_limit(tmp_path):
    # `--config cfg /dev/zero` read until memory ran out (a MemoryError traceback here, under a
    # 2 GB limit; the whole machine's memory without one).
    _refused(_config_run(tmp_path, "/dev/zero"),
             "config 'cfg': '/dev/zero' (--config cfg /dev/zero) is larger than the limit",
             "fix: pass a file with --config cfg PATH")


def test_a_config_file_naming_a_pipe_nothing_writes_to_is_refused_not_waited_on(tmp_path):
    # The launch opened the pipe and waited for a writer for ever.
    import os

    os.mkfifo(tmp_path / "pipe")
    _refused(_config_run(tmp_path, "pipe", HEADWATER_INCLUDE_FILE_WAIT="0.5"),
             "config 'cfg': nothing wrote to the pipe 'pipe' (--config cfg pipe) within 0.5 s")


def test_a_config_read_from_a_pipe_with_a_writer_or_not_utf8_is_handled(tmp_path):
    # A pipe with a writer (what `--config cfg <(make-config)` hands over) is read as a file;
    # bytes that are no UTF-8 were a UnicodeDecodeError traceback.
    import os
    import subprocess

    os.mkfifo(tmp_path / "pipe")
    writer = subprocess.Popen(["sh", "-c", "printf '{\"lr\": 0.5}' > pipe"], cwd=tmp_path)
    try:
        piped = _config_run(tmp_path, "pipe")
    finally:
        writer.wait(timeout=DEADLINE_S)
    assert piped.returncode == 0 and "lr is 0.5" in piped.stdout, piped.stdout + piped.stderr
    (tmp_path / "latin.json").write_bytes(b'{"lr": "\xe9"}')
    _refused(_config_run(tmp_path, "latin.json"), "'latin.json' (--config cfg latin.json) is "
             "not UTF-8 text", "fix: save the file as UTF-8")


def test_a_profiles_file_that_is_no_file_is_one_clear_error(tmp_path):
    # HEADWATER_CONFIG=/dev/zero (with a profile selected) read until memory ran out; a pipe
    # nobody writes to blocked every command; bytes that are no UTF-8 were a traceback.
    import os

    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "latin.toml").write_bytes(b"[profiles.x]\nuser = '\xe9'\n")
    cases = {"/dev/zero": "is larger than 16777216 bytes", "pipe": "is a pipe nothing wrote to",
             "latin.toml": "is not UTF-8 text"}
    for path, why in cases.items():
        proc = _config_run(tmp_path, "/dev/null", HEADWATER_CONFIG=path, HEADWATER_PROFILE="x",
                           HEADWATER_INCLUDE_FILE_WAIT="0.5")
        assert proc.returncode in (1, 2), proc.stdout + proc.stderr  # 2: a usage error, as
        assert f"the config file {path} {why}" in proc.stderr, proc.stderr  # for a missing file
        assert "Traceback" not in proc.stderr, proc.stderr


# -- the web UI: downloads named by anyone's string ------------------------------------------

NAMED_FLOW = """
    from headwater import FlowSpec, step


    class NamedFlow(FlowSpec):
        @step
        def start(self):
            setattr(self, "report\\u202efdp", b"not a pdf")
            setattr(self, "zero\\u200bwidth", "text")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        NamedFlow()
"""


def test_a_download_is_never_named_with_a_bidi_override_or_an_invisible_character(tmp_path):
    # The UI named a download after its artifact as is: `report\u202efdp` + `.bin` is shown by
    # a browser's download list and file manager as `reportnib.pdf`.
    from urllib.parse import quote

    from .uiserver import ui_server

    flow = write_flow(tmp_path, "named_flow.py", NAMED_FLOW)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    with ui_server(tmp_path) as server:
        for name, shown in (("report\u202efdp", "report_fdp.bin"),
                            ("zero\u200bwidth", "zero_width.txt")):
            status, headers, body = server.get(
                f"/api/tasks/NamedFlow/1/start/1/artifacts/{quote(name, safe='')}")
            assert status == 200, body
            disposition = headers["content-disposition"]
            assert disposition == (f'attachment; filename="{shown}"; '
                                   f"filename*=UTF-8''{quote(shown, safe='')}"), disposition


def test_card_view_names_its_file_safely_whatever_the_record_says(tmp_path, outside):
    # The view's file name was built from the card's type and id as the record holds them: a
    # NUL was a ValueError traceback, a `/..` part of a path, 300 characters too long a name.
    import sqlite3

    from .faultkit import datastore

    flow = _probe_run(tmp_path, outside.port)
    where = "flow = 'ProbeFlow' AND run_id = '1' AND step = 'start'"
    with sqlite3.connect(datastore(tmp_path) / "meta.sqlite") as db:
        record = json.loads(db.execute(f"SELECT transition FROM tasks WHERE {where}").fetchone()[0])
        record["cards"][0]["type"] = "x\x00y/../../" + "z" * 300
        db.execute(f"UPDATE tasks SET transition = ? WHERE {where}", (json.dumps(record),))
    page_file = _viewed(flow, tmp_path, "ProbeFlow/1/start/1")
    views = tmp_path / "tmp" / next(p.name for p in (tmp_path / "tmp").iterdir())
    assert page_file.parent.parent == views and page_file.is_file()
    assert page_file.name.startswith("ProbeFlow_1_start_1_x_y_.._.._zzz")
    assert len(page_file.name) <= 155 and "the card is shown" in page_file.read_text()


# -- caches under a umask of 000 -------------------------------------------------------------

PYPI_FLOW = """
    from headwater import FlowSpec, pypi, step


    class PypiFlow(FlowSpec):
        @pypi(packages={})
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        PypiFlow()
"""


def test_under_a_umask_of_000_no_cache_folder_is_left_open_to_others(tmp_path):
    # The environment cache made a missing ~/.cache and ~/.cache/headwater anyone could write
    # (Path.mkdir(parents=True) gives its mode to the last folder only), and uv, run by
    # headwater, made ~/.cache/uv the same: anyone could plant a wheel in it.
    import stat
    import subprocess
    import sys

    from .faultkit import env_for

    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    flow = write_flow(tmp_path, "pypi_flow.py", PYPI_FLOW)
    env = env_for(tmp_path, HOME=str(home))
    for name in ("XDG_CACHE_HOME", "UV_CACHE_DIR"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, str(flow), "--quiet", "--environment", "pypi", "run"],
                          cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=DEADLINE_S, umask=0)
    assert done.returncode == 0, done.stdout + done.stderr
    cache = home / ".cache"
    assert (cache / "headwater" / "environments").is_dir() and (cache / "uv").is_dir()
    folders = [cache, *(p for p in cache.rglob("*") if p.is_dir() and not p.is_symlink())]
    open_ones = [f"{stat.S_IMODE(p.stat().st_mode):o} {p}" for p in folders
                 if p.stat().st_mode & 0o002]
    assert open_ones == []
    for mine in (cache, cache / "headwater", cache / "headwater" / "environments"):
        assert stat.S_IMODE(mine.stat().st_mode) == 0o700, mine


# -- names as long as Python allows ----------------------------------------------------------

LONG_FLOW = "Long" + "F" * 260
LONG_STEP = "s" * 300
LONG_NAMES_FLOW = f"""
    from headwater import FlowSpec, step


    class {LONG_FLOW}(FlowSpec):
        @step
        def start(self):
            self.next(self.{LONG_STEP})

        @step
        def {LONG_STEP}(self):
            self.x = 1
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        {LONG_FLOW}()
"""


def test_a_flow_and_step_with_very_long_names_can_be_spun_and_browsed(tmp_path):
    # Python names have no length limit: `spin` of such a step ended in a ValueError traceback
    # (its spin_of: tag was over 512 characters) and the UI answered "no flow named ..." for a
    # run that exists (its names were capped at 200 characters).
    from .uiserver import ui_server

    flow = write_flow(tmp_path, "long_flow.py", LONG_NAMES_FLOW)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    spun = hw(flow, "spin", f"1/{LONG_STEP}", cwd=tmp_path)
    assert spun.returncode == 0 and "Traceback" not in spun.stderr, spun.stdout + spun.stderr
    with ui_server(tmp_path) as server:
        tasks = server.json(f"/api/runs/{LONG_FLOW}/1/tasks")
        assert LONG_STEP in json.dumps(tasks)
        status, _, _ = server.get(f"/runs/{LONG_FLOW}/1/{LONG_STEP}/2")
        assert status == 200


# -- settings from the environment -----------------------------------------------------------

def test_a_dask_timeout_that_is_no_number_of_seconds_is_one_clear_error(tmp_path):
    # HEADWATER_DASK_TIMEOUT=abc was a ValueError traceback; nan and -1 went on to Dask.
    (tmp_path / "cfg.json").write_text('{"lr": 0.1}')
    for value in ("abc", "nan", "-1"):
        proc = _config_run(tmp_path, "cfg.json", HEADWATER_DASK_TIMEOUT=value,
                           HEADWATER_EXECUTOR="dask", HEADWATER_DASK_ADDRESS="tcp://127.0.0.1:1")
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert f"HEADWATER_DASK_TIMEOUT={value!r} is not a number of seconds" in proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
