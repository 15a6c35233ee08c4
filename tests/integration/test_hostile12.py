"""The twelfth hostile-input audit. Each test runs the real thing: ``python flow.py`` runs, a
real ``headwater ui`` over HTTP, the command line as another user would see it in ``ps``."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from servers import free_port, stop_process

from .faultkit import hw
from .flowrun import hermetic_env, write_flow
from .uiserver import UIServer, ui_command, wait_until

TOKEN = "h12-token-0f1e2d3c4b5a"

TINY_FLOW = '''
from headwater import FlowSpec, step


class TinyFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TinyFlow()
'''


# Tags and a user name that look like others: a Cyrillic "р" (U+0440), a zero-width space, a
# fullwidth "ｐ", a word of Cyrillic letters drawn like Latin ones; and ordinary other scripts.
LOOKALIKE_TAGS = ["prod", "\u0440rod", "prod\u200b", "\uff50rod", "\u0440\u043e\u0440"]
OTHER_SCRIPTS = ["équipe:données", "команда:данные", "チーム"]
LOOKALIKE_USER = "\u0430lice"  # a Cyrillic "а"
SHOWN = ["prod", "\\u0440rod", "prod\\u200b", "\\uff50rod", "\\u0440\\u043e\\u0440"]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A folder holding one run of TinyFlow by a user whose name holds a Cyrillic letter, tagged
    with names that look alike and with names in other scripts."""
    folder = tmp_path_factory.mktemp("h12-home")
    tags = [arg for tag in [*LOOKALIKE_TAGS, *OTHER_SCRIPTS] for arg in ("--tag", tag)]
    proc = hw(write_flow(folder, "tiny_flow.py", TINY_FLOW), "run", *tags, cwd=folder,
              HEADWATER_USER=LOOKALIKE_USER)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


def _start_ui(folder: Path, *args: str) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    log = folder / f"ui-{port}.log"
    with open(log, "wb") as handle:
        proc = subprocess.Popen(ui_command(folder, "--port", str(port), *args),  # noqa: S603
                                env=hermetic_env(), stdout=handle, stderr=subprocess.STDOUT,
                                cwd=folder)
    return proc, port, log


def _answering(server: UIServer) -> bool:
    if server.proc.poll() is not None:
        raise AssertionError(f"headwater ui exited:\n{server.output()}")
    try:
        return server.get("/api/flows")[0] == 200
    except OSError:
        return False


def _command_line(proc: subprocess.Popen) -> str:
    """What every local user reads of the process in ``ps``."""
    return Path(f"/proc/{proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


# -- the UI's token kept out of `ps` --------------------------------------------------------------


def test_the_ui_token_comes_from_a_private_file_and_stays_out_of_ps(home):
    token_file = home / "ui-token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    proc, port, log = _start_ui(home, "--token-file", str(token_file))
    try:
        server = UIServer(proc, port, log, TOKEN)
        wait_until(lambda: _answering(server), "the UI to answer", timeout=120)
        assert server.get("/api/flows", token="")[0] == 401
        assert server.get("/api/flows", token="wrong-token-of-the-same-size")[0] == 401
        assert TOKEN not in _command_line(proc)
        assert TOKEN not in server.output() and "warning" not in server.output()
    finally:
        stop_process(proc)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o602])
def test_a_token_file_other_users_may_read_or_change_is_refused(home, mode):
    token_file = home / f"shared-token-{mode:o}"
    token_file.write_text(TOKEN)
    token_file.chmod(mode)
    done = subprocess.run(ui_command(home, "--port", "0", "--token-file", str(token_file)),  # noqa: S603
                          env=hermetic_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert str(token_file) in done.stderr and f"chmod 600 {token_file}" in done.stderr
    assert TOKEN not in done.stderr + done.stdout and "Traceback" not in done.stderr


def test_a_token_file_that_is_a_link_or_empty_is_refused_naming_it(home):
    target = home / "real-token"
    target.write_text(TOKEN)
    target.chmod(0o600)
    link = home / "linked-token"
    link.symlink_to(target)
    empty = home / "empty-token"
    empty.write_text("\n")
    empty.chmod(0o600)
    for path, why in ((link, "symbolic link"), (empty, "holds no token"),
                      (home / "missing-token", "cannot be read")):
        done = subprocess.run(ui_command(home, "--port", "0", "--token-file", str(path)),  # noqa: S603
                              env=hermetic_env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and why in done.stderr and str(path) in done.stderr, \
            done.stderr
        assert "Traceback" not in done.stderr


def test_a_token_on_the_command_line_is_warned_about_and_still_works(home):
    proc, port, log = _start_ui(home, "--token", TOKEN)
    try:
        server = UIServer(proc, port, log, TOKEN)
        wait_until(lambda: _answering(server), "the UI to answer", timeout=120)
        assert server.get("/api/flows", token="")[0] == 401
        said = server.output()
        assert "warning: a token given with --token is shown to every user" in said
        assert "--token-file" in said and "HEADWATER_UI_TOKEN" in said and TOKEN not in said
    finally:
        stop_process(proc)


def test_a_new_token_is_made_and_printed_once_in_the_link(home):
    proc, port, log = _start_ui(home, "--new-token")
    try:
        link = wait_until(lambda: re.search(r"\?token=(\S+)", log.read_text()),
                          "the link with the new token", timeout=120)
        token = link.group(1)
        assert len(token) >= 24 and token not in _command_line(proc)
        server = UIServer(proc, port, log, token)
        wait_until(lambda: _answering(server), "the UI to answer", timeout=120)
        assert server.get("/api/flows", token="")[0] == 401
        assert server.output().count(token) == 1
    finally:
        stop_process(proc)


def test_two_sources_of_the_token_are_one_error(home):
    token_file = home / "both-token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    done = subprocess.run(ui_command(home, "--port", "0", "--token-file", str(token_file),  # noqa: S603
                                     "--new-token"),
                          env=hermetic_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "--token-file and --new-token both give the UI's token" in done.stderr
    assert os.path.exists(token_file)


# -- names that look alike --------------------------------------------------------------------


def test_the_command_line_shows_lookalike_tags_and_users_apart(home):
    env = hermetic_env({"HEADWATER_DATASTORE_ROOT": str(home / ".headwater")})
    listing = subprocess.run([*ui_command(None)[:1], "runs"], env=env, cwd=home,  # noqa: S603
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line.startswith("TinyFlow/1"))
    for shown in SHOWN:
        assert re.search(rf"(^|[ ,]){re.escape(shown)}(,|$)", row), (shown, row)
    assert "\\u0430lice" in row and LOOKALIKE_USER not in row
    for tag in OTHER_SCRIPTS:  # a name of one script is shown as written
        assert tag in row
    as_json = subprocess.run([*ui_command(None)[:1], "runs", "--json"], env=env,  # noqa: S603
                             cwd=home, capture_output=True, text=True, timeout=120)
    import json

    (run,) = json.loads(as_json.stdout)
    assert set(LOOKALIKE_TAGS) <= set(run["tags"]) and run["user"] == LOOKALIKE_USER


def test_the_web_ui_shows_lookalike_tags_and_users_apart(home, browser):
    from playwright.sync_api import expect

    from .uiserver import new_context, ui_server

    with ui_server(home) as server:
        context = new_context(browser)
        page = context.new_page()
        page.goto(server.url + "/")
        row = page.locator("#runs-table tbody tr").first
        expect(row).to_contain_text("TinyFlow/1", timeout=90_000)
        links = row.locator("a.tag")
        expect(links).to_have_count(len(LOOKALIKE_TAGS) + len(OTHER_SCRIPTS), timeout=90_000)
        shown = links.all_text_contents()
        assert set(SHOWN) <= set(shown), shown
        assert set(OTHER_SCRIPTS) <= set(shown), shown
        assert "\\u0430lice" in row.inner_text()
        # each link still filters by the tag as recorded
        row.locator("a.tag", has_text="\\u0440rod").first.click()
        page.wait_for_url(re.compile(r"\?tag=%D1%80rod$"))
        page.goto(server.url + "/runs/TinyFlow/1")
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text("\\u0430lice")
        expect(facts).to_contain_text("user:\\u0430lice")  # the system tag too
        context.close()


def test_a_pages_title_shows_a_lookalike_flow_name_apart(tmp_path, browser):
    """A flow class may be named with a Cyrillic letter (a valid identifier): the tab's title
    shows it as an escape, as the page's names do, in the server's title and the script's."""
    from urllib.parse import quote

    from playwright.sync_api import expect

    from .uiserver import new_context, ui_server

    name = "\u0422inyFlow"  # a Cyrillic "Т"
    flow = write_flow(tmp_path, "tiny_flow.py", TINY_FLOW.replace("TinyFlow", name))
    for _ in range(2):
        proc = hw(flow, "run", cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    with ui_server(tmp_path) as server:
        status, _, body = server.get(f"/runs/{quote(name)}/1")
        assert status == 200
        assert "<title>\\u0422inyFlow/1 · headwater</title>" in body.decode()
        context = new_context(browser)
        page = context.new_page()
        page.goto(f"{server.url}/compare/{quote(name)}/1/2")
        expect(page.locator("main h1")).to_contain_text("compared", timeout=90_000)
        expect(page).to_have_title(re.compile(r"^\\u0422inyFlow/1 and 2 compared"),
                                   timeout=90_000)
        context.close()


# -- what headwater writes for a user, under a umask of 000 -------------------------------------


def test_under_a_umask_of_000_no_file_or_folder_written_for_the_user_is_open_to_others(tmp_path):
    """A DAG file Airflow runs, a code package, a `metaflow` shim on the user's path: under
    umask 000 (many containers) they were made 0666/0777, so anyone could change the Python
    their user (or Airflow) runs next."""
    flow = write_flow(tmp_path, "tiny_flow.py", TINY_FLOW)
    env = hermetic_env()
    headwater = ui_command(None)[0]
    for argv in ([headwater, "airflow", "create", str(flow), str(tmp_path / "tiny_dag.py")],
                 [headwater, "package", "save", str(flow), str(tmp_path / "tiny.tgz")],
                 [headwater, "shim", str(tmp_path / "shim" / "deeper")]):
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,  # noqa: S603
                              timeout=240, umask=0)
        assert done.returncode == 0, (argv, done.stdout + done.stderr)
    made = [tmp_path / "tiny_dag.py", tmp_path / "tiny.tgz",
            *(tmp_path / "shim").rglob("*"), tmp_path / "shim"]
    assert (tmp_path / "shim" / "deeper" / "metaflow" / "__init__.py") in made
    assert [f"{p} {p.stat().st_mode & 0o777:o}" for p in made if p.stat().st_mode & 0o002] == []
    # still readable where it is meant to be read (Airflow's scheduler, a teammate)
    assert (tmp_path / "tiny_dag.py").stat().st_mode & 0o044 == 0o044
