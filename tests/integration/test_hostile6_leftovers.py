"""What the sixth hostile round left open, each run for real: the web UI downloading artifacts
whose names hold ``/`` or control characters (a real server over HTTP), numeric ``HEADWATER_*``
settings given ``nan``, ``inf`` or a negative number (real ``python flow.py`` processes), and
``logs`` printing another run's terminal escapes to a real terminal (a pseudo-terminal)."""

from __future__ import annotations

import sys
from urllib.parse import quote

import pytest

from .faultkit import env_for, hw
from .flowrun import write_flow
from .terminal import on_a_terminal

# -- the web UI: every listed artifact downloads ---------------------------------------------

ODD_NAMES_FLOW = """
    from headwater import FlowSpec, step


    class OddNamesFlow(FlowSpec):
        @step
        def start(self):
            setattr(self, "a/b", b"slash")
            setattr(self, "line\\nbreak", "two lines")
            setattr(self, "tab\\there", [1, 2])
            setattr(self, "..", "dots")
            setattr(self, "back\\\\slash\\x1b]0;x\\x07", b"escape")
            setattr(self, "long" + "g" * 900, b"long")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        OddNamesFlow()
"""


def test_every_artifact_the_ui_lists_downloads_under_a_safe_file_name(tmp_path):
    # The page listed `a/b` and `line\nbreak` but their download links were 404s: the route
    # took no `/`, and control characters were refused.
    import json

    from .uiserver import ui_server

    flow = write_flow(tmp_path, "odd_names_flow.py", ODD_NAMES_FLOW)
    done = hw(flow, "--quiet", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    task = "/api/tasks/OddNamesFlow/1/start/1"
    expected = {  # name: (body starts with, file name offered)
        "a/b": (b"slash", "a_b.bin"),
        "line\nbreak": (b"two lines", "line_break.txt"),
        "tab\there": (b"\x80\x05", "tab_here.pickle"),
        "..": (b"dots", "_..txt"),
        "back\\slash\x1b]0;x\x07": (b"escape", "back_slash_]0;x_.bin"),
    }
    with ui_server(tmp_path) as server:
        status, _, body = server.get(task)
        assert status == 200, body
        listed = {a["name"]: a for a in json.loads(body)["artifacts"]}
        for name, (start, filename) in expected.items():
            assert listed[name]["download"], listed[name]
            for path in (f"{task}/artifact?name={quote(name, safe='')}",
                         f"{task}/artifacts/{quote(name, safe='')}"):
                if name in ("..", "line\nbreak") and "/artifacts/" in path:
                    continue  # a browser rewrites `..`, a route takes no line break: the page
                    # links to the query form, the path form stays for the names it can carry
                status, headers, body = server.get(path)
                assert status == 200, (name, path, body)
                assert body.startswith(start), (name, body[:40])
                disposition = headers["content-disposition"]
                assert disposition.startswith(f'attachment; filename="{_ascii(filename)}"; ')
                assert disposition.endswith(f"filename*=UTF-8''{quote(filename, safe='')}")
        # a name longer than a file system takes keeps its start and extension
        long_name = "long" + "g" * 900
        status, headers, _ = server.get(f"{task}/artifact?name={long_name}")
        assert status == 200
        offered = headers["content-disposition"].split("filename*=UTF-8''")[1]
        assert offered.startswith("longggg") and offered.endswith(".bin") and len(offered) <= 120
        # a name the task never recorded is still a 404 naming the fix, never a file path
        for missing in ("a%2F..%2F..%2Fmeta.sqlite", "nothing", ""):
            status, _, body = server.get(f"{task}/artifact?name={missing}")
            assert status == 404, (missing, body)


def _ascii(filename: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in filename)


# -- numeric settings: one clear error -------------------------------------------------------

PLAIN_FLOW = """
    from headwater import FlowSpec, step


    class PlainFlow(FlowSpec):
        @step
        def start(self):
            print("\\x1b[31mred\\x1b[0m then \\x1b]0;pwned\\x07 title, \\x1b[2J clear, bell\\x07")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        PlainFlow()
"""


@pytest.mark.parametrize("variable", ["HEADWATER_SQLITE_BUSY_TIMEOUT_S",
                                      "HEADWATER_PROGRESS_INTERVAL"])
@pytest.mark.parametrize("value", ["nan", "inf", "-5", "abc"])
def test_a_numeric_setting_that_is_no_number_of_seconds_is_one_clear_error(
        tmp_path, variable, value):
    # Both took nan, inf or a negative number without a word (falling back to their default).
    flow = write_flow(tmp_path, "plain_flow.py", PLAIN_FLOW)
    done = hw(flow, "run", cwd=tmp_path, **{variable: value})
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{variable}={value!r} is not a number of seconds" in done.stderr, done.stderr
    assert f"set {variable} to a number of seconds" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_the_postgres_reconnect_window_is_checked_by_the_same_rule(tmp_path):
    # A reconnect window of -5 silently became 0 (never retry); now it is named, with the fix,
    # when a server connection drops and the window is read.
    pytest.importorskip("psycopg")
    flow = write_flow(tmp_path, "plain_flow.py", PLAIN_FLOW)
    for value in ("-5", "nan", "inf"):
        done = hw(flow, "run", cwd=tmp_path, HEADWATER_METADATA="postgresql://127.0.0.1:9/none",
                  HEADWATER_METADATA_RECONNECT_S=value)
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"HEADWATER_METADATA_RECONNECT_S={value!r}" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr, done.stderr


# -- logs on a terminal ----------------------------------------------------------------------

def test_logs_on_a_terminal_keep_colours_but_show_other_escapes_as_text(tmp_path):
    flow = write_flow(tmp_path, "plain_flow.py", PLAIN_FLOW)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    env = env_for(tmp_path)
    shown = on_a_terminal([sys.executable, str(flow), "logs", "1/start"], tmp_path, env)
    assert b"\x1b[31mred\x1b[0m" in shown, shown  # colours pass
    assert b"\x1b]0;" not in shown and b"\x1b[2J" not in shown and b"\x07" not in shown, shown
    assert b"\\x1b]0;pwned\\x07 title, \\x1b[2J clear, bell\\x07" in shown, shown
    # --raw: as stored, for whoever wants it
    raw = on_a_terminal([sys.executable, str(flow), "logs", "--raw", "1/start"], tmp_path, env)
    assert b"\x1b]0;pwned\x07" in raw and b"\x1b[2J" in raw, raw
    # into a pipe, as before: what the step printed (click drops the colours there)
    piped = hw(flow, "logs", "--stdout", "1/start", cwd=tmp_path)
    assert "\x1b]0;pwned\x07 title" in piped.stdout, piped.stdout
