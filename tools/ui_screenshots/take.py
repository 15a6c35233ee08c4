"""Retake the web UI's pictures in docs/img from the UI as it is now.

    python tools/ui_screenshots/take.py [--out docs/img]

Runs ``demo_flow.py`` (beside this script) twice in a scratch folder (one run that succeeds,
one whose fold 2 fails), serves that folder's runs with ``headwater ui`` on a free loopback port
(no token: loopback only, as by default), and photographs the pages with Debian's Chromium
(``/usr/bin/chromium``) through Playwright: the runs list (``ui-runs.png``), a run
(``ui-run.png``), a task's card (``ui-card.png``) and a log's find box searching a task's log
(``ui-find.png``). docs/ui.md shows them. Needs ``headwater[ui]`` and Playwright installed; the
scratch folder is removed afterwards. Nothing it prints holds a secret.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLOW = HERE / "demo_flow.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WIDTH, HEIGHT = 1280, 900
DEADLINE_MS = 90_000


def _env(folder: Path) -> dict[str, str]:
    """This environment without any headwater or Metaflow setting (no profile, no remote
    store: the pictures show the scratch folder's runs only), as user ``demo``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "METAFLOW_"))}
    env.update(HEADWATER_USER="demo", HEADWATER_DATASTORE_ROOT=str(folder / ".headwater"))
    return env


def make_runs(folder: Path) -> None:
    """TrainFlow/1 (succeeds, tagged nightly) and TrainFlow/2 (fold 2 fails), run from a copy
    of the flow in ``folder`` (so a traceback in the pictures names no checkout's path)."""
    flow = folder / FLOW.name
    shutil.copyfile(FLOW, flow)
    for args, code in ((("--tag", "nightly"), 0),
                       (("--tag", "experiment", "--learning_rate", "0.2", "--fail_fold", "2"), 1)):
        done = subprocess.run([sys.executable, flow.name, "run", *args], cwd=folder,  # noqa: S603
                              env=_env(folder), capture_output=True, text=True, timeout=600)
        if done.returncode != code:
            raise SystemExit(f"TrainFlow run {args} exited {done.returncode}, not {code}:\n"
                             f"{done.stdout}{done.stderr}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(folder: Path) -> tuple[subprocess.Popen, str]:
    """``headwater ui`` over ``folder``'s runs on a free loopback port, once it answers."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "headwater"), "ui", "--port", str(port)]
    proc = subprocess.Popen(command, cwd=folder, env=_env(folder),  # noqa: S603
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"headwater ui exited early ({proc.returncode})")
        try:
            with urllib.request.urlopen(url + "/api/flows", timeout=10):  # noqa: S310 - loopback
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("headwater ui did not answer within 90 s")


def photograph(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=DEADLINE_MS)
    taken: list[Path] = []
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, headless=True,
                                       args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.set_default_timeout(DEADLINE_MS)

            def shot(name: str, whole: bool = False) -> None:
                """The window, or (``whole``) the whole page: the window made as tall as the
                page first, since a full-page picture leaves a card's frame (another origin,
                drawn apart) blank below the window's height."""
                if whole:
                    tall = page.evaluate("() => document.documentElement.scrollHeight")
                    page.set_viewport_size({"width": WIDTH, "height": tall})
                    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => "
                                  "requestAnimationFrame(done)))")
                path = out / name
                page.screenshot(path=str(path))
                page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
                taken.append(path)

            page.goto(url + "/")
            expect(page.locator("#runs-table tbody tr")).to_have_count(2)
            shot("ui-runs.png")

            page.goto(url + "/runs/TrainFlow/1")
            expect(page.locator("#tasks-table tbody tr")).to_have_count(8)
            expect(page.locator("#dag g.step.succeeded")).to_have_count(5)
            shot("ui-run.png", whole=True)

            report = _task(page, url, "1", "report")
            page.goto(f"{url}/runs/TrainFlow/1/report/{report}")
            frame = page.locator("iframe.card")
            expect(frame).to_have_attribute("data-fitted", "true")
            expect(page.frame_locator("iframe.card").locator("svg.marks, canvas")).to_be_visible()
            shot("ui-card.png", whole=True)

            train = _task(page, url, "2", "train", "status=failed")
            page.goto(f"{url}/runs/TrainFlow/2/train/{train}")
            expect(page.locator("#stdout-state")).to_have_text("complete")
            page.get_by_role("searchbox", name="find in stdout").fill("epoch 2")
            expect(page.locator("#stdout-matches")).to_have_text("1 matching line")
            shot("ui-find.png")
        finally:
            browser.close()
    return taken


def _task(page, url: str, run: str, step: str, query: str = "") -> str:  # type: ignore[no-untyped-def]
    """The id of the first task of ``step`` in TrainFlow/``run``, through the API."""
    answer = page.request.get(f"{url}/api/runs/TrainFlow/{run}/tasks?step={step}&{query}")
    return answer.json()["tasks"][0]["task_id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE.parents[1] / "docs" / "img",
                        help="where the pictures go (default: docs/img)")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hw-ui-pictures-") as scratch:
        folder = Path(scratch)
        make_runs(folder)
        proc, url = serve(folder)
        try:
            taken = photograph(url, out)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    for path in taken:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
