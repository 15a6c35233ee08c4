"""The fourth hostile-input audit: what a careless user or a hostile record can hand headwater on
the surfaces added last (cloud datastores, derived task facts, config-valued decorator options,
the UI's log tail and token) and on the command line at large. Each test runs the real thing: a
``python flow.py`` process, a real ``headwater ui`` server spoken to over HTTP, a SQLite record
changed as another program would change it."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .faultkit import DEADLINE_S, datastore, env_for, hw, no_headwater_traceback
from .flowrun import hermetic_env, run_cli, write_flow
from .uiserver import ui_server

ESCAPE = "\x1b]0;PWNED\x07\x1b[2J\r"


def clean_error(proc: subprocess.CompletedProcess, headline: str, *phrases: str) -> None:
    """Exit 1, ``headline:``, every phrase, no traceback of ours, no raw control character."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{headline}:" in proc.stderr, proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert no_headwater_traceback(proc.stdout + proc.stderr)
    assert not any(ch in proc.stderr for ch in "\x1b\x07\r"), repr(proc.stderr)


# -- the command line: errors quoting what the user typed ------------------------------------

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


def test_an_error_quoting_a_terminal_escape_shows_it_as_text(tmp_path) -> None:
    # Before, the `--with` name, a datastore URL and a metadata host reached the terminal raw:
    # ESC ] 0 ; retitled it, ESC [ 2 J cleared it, \r overwrote the error line.
    flow = write_flow(tmp_path, "plain_flow.py", PLAIN_FLOW)
    done = hw(flow, "run", "--with", f"zz{ESCAPE}", cwd=tmp_path)
    clean_error(done, "Invalid flow definition", "--with zz\\x1b]0;PWNED\\x07\\x1b[2J\\r")
    done = hw(flow, "--datastore-root", f"zz{ESCAPE}://bucket/x", "run", cwd=tmp_path)
    clean_error(done, "Storage error", "zz\\x1b]0;PWNED")
    done = hw(flow, "--metadata", f"postgresql://hw:pw@h{ESCAPE}/db", "run", cwd=tmp_path)
    clean_error(done, "Metadata error", "\\x1b[2J")
    assert "pw@" not in done.stderr
    # A right-to-left override would show the rest of the line reversed.
    done = hw(flow, "run", "--with", "zz\u202eexe.txt", cwd=tmp_path)
    clean_error(done, "Invalid flow definition", "--with zz\\u202eexe.txt")
    assert "\u202e" not in done.stderr


def test_dump_shows_invisible_and_reordering_characters_in_names_as_escapes_and_long_ones_whole(tmp_path) -> None:
    flow = write_flow(tmp_path, "names_flow.py", """
        from headwater import FlowSpec, step


        class NamesFlow(FlowSpec):
            @step
            def start(self):
                setattr(self, "report\u202etxt.exe", 1)  # reads as "reportexe.txt"
                setattr(self, "to\u200btal", 2)  # looks like "total"
                self.total = 3
                setattr(self, "n" * 100_000, 4)  # widened every other row to its length
                self.next(self.end)

            @step
            def end(self):
                pass


        if __name__ == "__main__":
            NamesFlow()
    """)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    dumped = hw(flow, "dump", "1/start", cwd=tmp_path)
    assert dumped.returncode == 0, dumped.stderr
    assert "report\\u202etxt.exe" in dumped.stdout and "to\\u200btal" in dumped.stdout
    assert "\u202e" not in dumped.stdout and "\u200b" not in dumped.stdout
    total = next(line for line in dumped.stdout.splitlines() if line.strip().startswith("total"))
    assert len(total) < 200, len(total)
    assert "n" * 100_000 in dumped.stdout  # the long name itself is printed whole


# -- cloud datastores: credentials never shown, odd roots refused ----------------------------

AZURE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONNECTION = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURE_KEY};"
              "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;")


@pytest.mark.parametrize(("root", "secret", "said"), [
    # a SAS URL pasted as the root: the token became part of every blob's name
    ("az://container/runs?sv=2022-11-02&sig=S3CRETSIGNATURE", "S3CRETSIGNATURE",
     "holds a query string"),
    ("gs://bucket/runs?X-Goog-Signature=S3CRETSIGNATURE", "S3CRETSIGNATURE",
     "holds a query string"),
    ("s3://AKIAEXAMPLE:S3CRETKEY@bucket/runs", "S3CRETKEY", "holds a password"),
    ("gs://bucket/team/../other-team", None, "'..' segment"),
    ("az://container/./runs", None, "'..' segment"),
])
def test_a_datastore_root_that_is_no_plain_location_is_refused(tmp_path, root, secret,
                                                               said) -> None:
    flow = write_flow(tmp_path, "plain_flow.py", PLAIN_FLOW)
    done = hw(flow, "--datastore-root", root, "run", cwd=tmp_path)
    clean_error(done, "Storage error", said, "BUCKET/PREFIX")
    if secret:
        assert secret not in done.stdout + done.stderr
    assert "Task is starting" not in done.stdout


def test_an_azure_connection_string_given_as_the_sysroot_is_never_shown(tmp_path) -> None:
    flow = write_flow(tmp_path, "plain_flow.py", PLAIN_FLOW)
    done = run_cli(flow, "--datastore", "azure", "run", cwd=tmp_path, hermetic=True,
                   env={"METAFLOW_DATASTORE_SYSROOT_AZURE": CONNECTION})
    assert done.returncode == 2, done.stderr
    assert AZURE_KEY not in done.stdout + done.stderr
    assert AZURE_KEY[:12] not in done.stderr
    assert "AccountKey=***" in done.stderr
    assert "AZURE_STORAGE_CONNECTION_STRING" in done.stderr  # where it belongs


def test_configure_show_masks_an_azure_key_and_a_signature(tmp_path) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "headwater", "configure", "show"], cwd=tmp_path,
        capture_output=True, text=True, timeout=DEADLINE_S,
        env=hermetic_env({"HEADWATER_DATASTORE_ROOT": "az://c/x?sig=S3CRETSIG",
                          "HEADWATER_METADATA": f"{tmp_path}/{CONNECTION}"}))
    assert shown.returncode == 0, shown.stderr
    assert "S3CRETSIG" not in shown.stdout and AZURE_KEY not in shown.stdout
    assert "sig=***" in shown.stdout and "AccountKey=***" in shown.stdout


# -- derived task facts over records another program changed ---------------------------------

FOREACH_FLOW = """
    from headwater import FlowSpec, step


    class FeFlow(FlowSpec):
        @step
        def start(self):
            self.items = ["a", "b"]
            self.next(self.body, foreach="items")

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
        FeFlow()
"""

READ_EVERY_FACT = """
from headwater import Flow, namespace
from headwater.cards import CardNotPresentException, get_cards
namespace(None)
for step in Flow("FeFlow").latest_run:
    for task in step:
        task.metadata_dict, task.exception, task.successful
        try:
            list(get_cards(task))
        except CardNotPresentException:  # a task with no card (the damaged list is an error)
            pass
print("READ", Flow("FeFlow").latest_run["body"].task.metadata_dict.get("foreach-execution-path"))
"""


@pytest.fixture(scope="module")
def foreach_run(tmp_path_factory) -> Path:
    """A finished foreach run, its metadata database kept aside to be copied and changed."""
    folder = tmp_path_factory.mktemp("tamper")
    flow = write_flow(folder, "fe_flow.py", FOREACH_FLOW)
    done = hw(flow, "--quiet", "run", cwd=folder)
    assert done.returncode == 0, done.stderr
    shutil.copy(datastore(folder) / "meta.sqlite", folder / "pristine.sqlite")
    return folder


def _tampered(folder: Path, sql: str, *values: object) -> None:
    shutil.copy(folder / "pristine.sqlite", datastore(folder) / "meta.sqlite")
    conn = sqlite3.connect(datastore(folder) / "meta.sqlite")
    try:
        conn.execute(sql, values)
        conn.commit()
    finally:
        conn.close()


def _read_facts(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", READ_EVERY_FACT], cwd=folder,
                          env=env_for(folder), capture_output=True, text=True,
                          timeout=DEADLINE_S)


BODY = "UPDATE tasks SET {} = ? WHERE step = 'body'"
START = "UPDATE tasks SET {} = ? WHERE step = 'start'"


@pytest.mark.parametrize(("sql", "value", "column"), [
    (BODY.format("transition"), "[1, 2]", "transition"),
    (BODY.format("transition"), "{not json", "transition"),
    (BODY.format("transition"), json.dumps({"metadata": [1, 2]}), "transition"),
    (BODY.format("transition"), json.dumps({"cards": [1, "x"]}), "transition"),
    (BODY.format("frames"), json.dumps({"a": 1}), "frames"),
    (BODY.format("frames"), json.dumps([{"step": "start", "index": "zero"}]), "frames"),
    (BODY.format("frames"), json.dumps([{"step": ["x"], "task_id": "1", "index": 0,
                                         "num_splits": 2, "is_foreach": True}]), "frames"),
    (BODY.format("parents"), json.dumps([1]), "parents"),
    ("UPDATE attempts SET failure = ? WHERE step = 'body'", json.dumps(["x"]), "failure"),
    # SQLite keeps text in a number's column
    (BODY.format("created_at"), "yesterday", "created_at"),
    (BODY.format("attempts"), "two", "attempts"),
    ("UPDATE attempts SET started_at = ? WHERE step = 'body'", "abc" * 10_000, "started_at"),
    ("UPDATE attempts SET attempt = ? WHERE step = 'body'", "zz", "attempt"),
])
def test_a_damaged_task_record_is_named_not_a_traceback(foreach_run, sql, value,
                                                        column) -> None:
    _tampered(foreach_run, sql, value)
    done = _read_facts(foreach_run)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Metadata error:" in done.stderr, done.stderr
    assert "the metadata record of task FeFlow/1/body/" in done.stderr
    assert f"its {column} field cannot be read" in done.stderr
    assert "headwater delete FeFlow/1" in done.stderr  # the fix
    assert no_headwater_traceback(done.stderr), done.stderr
    # The command line says the same, naming the task, with no traceback.
    dumped = hw(foreach_run / "fe_flow.py", "dump", "1/body", cwd=foreach_run)
    clean_error(dumped, "Metadata error", "FeFlow/1/body/")


@pytest.mark.parametrize("graph", [
    {"file": ["not", "text"], "steps": [1, 2]},
    {"steps": {"start": "not an object"}},
    {"steps": {"start": {"next": 5, "foreach_artifact": ["items"]}}},
])
def test_a_reshaped_recorded_graph_leaves_out_the_facts_it_cannot_give(foreach_run,
                                                                       graph) -> None:
    original = sqlite3.connect(foreach_run / "pristine.sqlite").execute(
        "SELECT transition FROM tasks WHERE step = 'start'").fetchone()[0]
    changed = {**json.loads(original), "graph": graph}
    _tampered(foreach_run, START.format("transition"), json.dumps(changed))
    done = _read_facts(foreach_run)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "READ start:" in done.stdout  # the step the foreach ran, from the task's own record


# -- config-valued options of user decorators ------------------------------------------------

CONFIG_FLOW = """
    from headwater import Config, FlowSpec, UserStepDecorator, step


    class Scale(UserStepDecorator):
        def init(self, factor=2):
            if not isinstance(factor, int):
                raise ValueError(f"factor must be an int, got {factor!r}")
            self.factor = factor

        def pre_step(self, step_name, flow, inputs=None):
            flow.factor = self.factor


    class ConfiguredFlow(FlowSpec):
        cfg = Config("cfg", default_value={"opts": {"factor": 3}, "f": 3})

        @Scale(**cfg.opts)
        @step
        def start(self):
            self.next(self.end)

        @Scale(factor=cfg.f)
        @step
        def end(self):
            print("factor", self.factor)


    if __name__ == "__main__":
        ConfiguredFlow()
"""


@pytest.mark.parametrize(("value", "phrases"), [
    ({"opts": [1, 2], "f": 3}, ["@Scale on step 'start'", "is a list, not an object"]),
    ({"opts": None, "f": 3}, ["@Scale on step 'start'", "is a NoneType"]),
    ({"opts": "abc", "f": 3}, ["@Scale on step 'start'", "is a str"]),
    ({"opts": {"bogus": 1}, "f": 3},
     ["@Scale on step 'start'", "(bogus=1)", "unexpected keyword argument 'bogus'"]),
    ({"opts": {"factor": 3}, "f": "x" * 100_000},
     ["@Scale on step 'end'", "ValueError: factor must be an int", "Scale.init accepts"]),
    ({"opts": {"factor": 3}, "f": [[[[[["deep"]]]]]]},
     ["@Scale on step 'end'", "factor=[[[...]]]"]),
])
def test_a_config_value_a_decorator_cannot_take_is_named(tmp_path, value, phrases) -> None:
    flow = write_flow(tmp_path, "configured_flow.py", CONFIG_FLOW)
    done = hw(flow, "--config-value", "cfg", json.dumps(value), "run", cwd=tmp_path)
    clean_error(done, "Invalid configuration", *phrases)
    assert len(done.stderr) < 5_000  # a huge value is shortened, not printed whole
    assert not (datastore(tmp_path) / "meta.sqlite").exists() or "Task is starting" not in \
        done.stdout


def test_config_valued_options_that_fit_still_run(tmp_path) -> None:
    flow = write_flow(tmp_path, "configured_flow.py", CONFIG_FLOW)
    done = hw(flow, "--config-value", "cfg", json.dumps({"opts": {"factor": 5}, "f": 7}),
              "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "factor 7" in done.stdout


# -- the web UI: a token any characters, a log cut inside a character ------------------------

def _sign_in(ui, link_token: str) -> str:
    """Follow the ``?token=`` link as a browser would; the cookie it sets, as sent back."""
    status, headers, _ = ui.get(f"/?token={link_token}", token="")
    assert status == 303, (status, headers)
    return headers["set-cookie"].split(";", 1)[0]


@pytest.mark.parametrize(("token", "typed"), [
    ("my pass; word,x", "my%20pass%3B%20word%2Cx"),  # ';' ',' ' ' used to end the cookie early
    ("abc+def/ghi=jkl=", "abc+def/ghi=jkl="),  # base64 pasted as is: '+' is no space here
])
def test_a_token_of_any_characters_signs_in_through_the_link(tmp_path, token, typed) -> None:
    with ui_server(tmp_path, token=token) as ui:
        cookie = _sign_in(ui, typed)
        assert token not in cookie or token.isalnum()  # sent encoded
        status, _, body = ui.get("/api/flows", token="", headers={"Cookie": cookie})
        assert status == 200, body
        status, _, _ = ui.get("/api/flows", token="", headers={"Cookie": "headwater_ui_token=x"})
        assert status == 401


SPLIT_FLOW = """
    import os
    import sys
    import time

    from headwater import FlowSpec, step


    class SplitFlow(FlowSpec):
        @step
        def start(self):
            out = sys.stdout.buffer
            out.write("before \\u00e9".encode()[:-1])  # the first byte of é
            out.flush()
            go = os.environ["GO_FILE"]
            while not os.path.exists(go):
                time.sleep(0.05)
            out.write("\\u00e9".encode()[1:] + b" after\\n")
            out.flush()
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        SplitFlow()
"""


def test_a_followed_log_never_splits_a_character_between_two_reads(tmp_path) -> None:
    flow = write_flow(tmp_path, "split_flow.py", SPLIT_FLOW)
    go = tmp_path / "go"
    run = subprocess.Popen([sys.executable, str(flow), "run"], cwd=tmp_path,
                           env=env_for(tmp_path, GO_FILE=str(go)), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        with ui_server(tmp_path) as ui:
            deadline = time.monotonic() + DEADLINE_S
            events = None
            while events is None:
                assert time.monotonic() < deadline and run.poll() is None
                status, _, body = ui.get("/api/runs/SplitFlow/1/tasks") if \
                    (datastore(tmp_path) / "meta.sqlite").exists() else (404, {}, b"")
                if status == 200 and b'"start"' in body:
                    address = ui.url + "/api/tasks/SplitFlow/1/start/1/logs/stdout/events"
                    events = urllib.request.urlopen(address, timeout=DEADLINE_S)  # noqa: S310
                else:
                    time.sleep(0.1)  # polling the UI for the run to exist; not a measure
            texts: list[str] = []
            with events:
                for raw in events:
                    line = raw.decode()
                    if line.startswith("data:") and '"text"' in line:
                        texts.append(json.loads(line[5:])["text"])
                        if "before" in "".join(texts) and not go.exists():
                            go.touch()  # the first byte was read: now the rest
                    if line.startswith("event: end"):
                        break
        shown = "".join(texts)
        assert "before \u00e9 after" in shown, texts
        assert "\ufffd" not in shown, texts
    finally:
        go.touch()
        run.wait(timeout=DEADLINE_S)


# -- files headwater leaves behind -----------------------------------------------------------

CARD_FLOW = """
    from headwater import FlowSpec, card, step


    class CardFlow(FlowSpec):
        @card
        @step
        def start(self):
            self.x = 1
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        CardFlow()
"""


def test_card_view_keeps_its_copies_in_one_private_folder_and_removes_old_ones(tmp_path) -> None:
    # Every `card view` used to leave a headwater-card-* folder in the temp folder for good.
    import os
    import stat

    flow = write_flow(tmp_path, "card_flow.py", CARD_FLOW)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    temp = tmp_path / "tmp"
    temp.mkdir()
    views = temp / f"headwater-cards-{os.getuid()}"
    views.mkdir(mode=0o700)
    stale = views / "view-stale"
    stale.mkdir()
    (stale / "old.html").write_text("old")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    no_browser = {"TMPDIR": str(temp), "BROWSER": "false"}
    for _ in range(2):
        viewed = hw(flow, "card", "view", "CardFlow/1/start/1", cwd=tmp_path, **no_browser)
        assert viewed.returncode == 0, viewed.stderr
    assert [p.name for p in temp.iterdir()] == [views.name]  # nothing else in the temp folder
    copies = sorted(views.iterdir())
    assert len(copies) == 2 and not stale.exists()  # the stale view went, the new ones stay
    assert all(stat.S_IMODE(c.stat().st_mode) == 0o700 for c in copies)
    assert stat.S_IMODE(views.stat().st_mode) == 0o700

    # A views folder someone else could have planted (here: open to everyone) is refused.
    views.chmod(0o777)
    refused = hw(flow, "card", "view", "CardFlow/1/start/1", cwd=tmp_path, **no_browser)
    assert refused.returncode == 1
    assert "can be written by other users" in refused.stderr and "Traceback" not in refused.stderr


def test_a_deployer_attribute_file_planted_as_another_users_link_is_never_written_through(
        tmp_path) -> None:
    # `airflow create --deployer-attribute-file PATH` opened PATH, following any link.
    import os

    flow = write_flow(tmp_path, "plain_flow.py", PLAIN_FLOW)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    planted = tmp_path / "attributes.json"
    planted.symlink_to(victim)
    os.lchown(planted, 65534, 65534)
    dag = tmp_path / "dag.py"
    done = hw(flow, "airflow", "create", str(dag), "--deployer-attribute-file", str(planted),
              cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"--deployer-attribute-file {planted}" in done.stderr
    assert "symbolic link made by another user" in done.stderr
    assert "Traceback" not in done.stderr
    assert victim.read_text() == "precious\n"
    own = tmp_path / "own.json"
    done = hw(flow, "airflow", "create", str(dag), "--deployer-attribute-file", str(own),
              cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(own.read_text())["orchestrator"] == "airflow"
    assert (own.stat().st_mode & 0o777) == 0o600


def test_under_a_umask_of_000_the_datastore_is_closed_to_others_and_the_next_run_uses_it(
        tmp_path) -> None:
    # Containers often run with umask 000: the first run made a .headwater anyone could write
    # (pickles to plant), and the next run from the same folder refused its own datastore.
    import os
    import stat

    flow = write_flow(tmp_path, "blob_flow.py", """
        from headwater import FlowSpec, step


        class BlobFlow(FlowSpec):
            @step
            def start(self):
                self.payload = b"x" * 5000  # a blob file, not inline
                self.next(self.end)

            @step
            def end(self):
                print("size", len(self.payload))


        if __name__ == "__main__":
            BlobFlow()
    """)
    for _ in range(2):
        done = subprocess.run([sys.executable, str(flow), "run"], cwd=tmp_path,
                              env=hermetic_env(), capture_output=True, text=True,
                              timeout=DEADLINE_S, preexec_fn=lambda: os.umask(0))  # noqa: PLW1509
        assert done.returncode == 0, done.stdout + done.stderr
        assert "size 5000" in done.stdout
    written = [tmp_path / ".headwater", *(tmp_path / ".headwater").rglob("*")]
    open_to_others = [str(p) for p in written if stat.S_IMODE(p.lstat().st_mode) & 0o002]
    assert open_to_others == []
    assert any(p.is_file() and "blobs" in p.parts for p in written)


def test_the_page_keeps_back_an_escape_a_followed_chunk_ends_inside_of(tmp_path, browser) -> None:
    # The page's own script, in Chromium: an escape cut between two chunks of a followed log
    # showed its halves as text ("]0;TI" then "TLE").
    flow = write_flow(tmp_path, "plain_flow.py", PLAIN_FLOW)
    assert hw(flow, "--quiet", "run", cwd=tmp_path).returncode == 0
    with ui_server(tmp_path) as ui:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(ui.url + "/", timeout=DEADLINE_S * 1000)
            page.wait_for_function("typeof plainChunks === 'function'",
                                   timeout=DEADLINE_S * 1000)
            shown = page.evaluate(r"""() => {
                const chunk = plainChunks();
                return ["red \x1b[3", "1mRED\x1b]0;TI", "TLE\x07 ok \x1b]8;;http://x\x1b",
                        "\\link\x1b]8;;\x1b\\ end\x1b", "[0m."].map(chunk);
            }""")
        finally:
            context.close()
    assert shown == ["red ", "RED", " ok ", "link end", "."]
