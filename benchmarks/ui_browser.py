"""The web UI at scale, in a real browser: every page over a datastore real runs filled.

Builds (or reuses, ``--home``) a folder whose ``.headwater/`` holds one run of
``flows/ui_scale.py`` (a foreach of ``--tasks`` trivial tasks, a task printing ``--log-mb`` MB,
a task keeping ``--artifacts`` artifacts; local executor) and ``--runs`` runs of
``flows/tiny.py``; starts a real ``headwater ui`` on loopback and drives Debian's Chromium
(Playwright, as the UI tests do) through each page and what a reader does there (scroll, sort,
filter, find). For each it prints how long until the page showed what it is for, the requests
and bytes it read from the API, its largest answer, and the longest the page's main thread was
busy at once (a long task: the page does not answer the reader meanwhile).

    python benchmarks/ui_browser.py                      # 10,000 tasks, 1,000 runs, 5 MB, 1,000
    python benchmarks/ui_browser.py --home /tmp/uibig    # build there once, reuse it afterwards
    python benchmarks/ui_browser.py --tasks 1000 --runs 100 --log-mb 2 --artifacts 300
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from chromium import launched  # noqa: E402

from servers import free_port, stop_process  # noqa: E402

FLOWS = Path(__file__).resolve().parent / "flows"
# Registered before any page script: the main thread's long tasks (over 50 ms), as the browser
# reports them.
LONG_TASKS = """window.__long = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long.push(e.duration); })
  .observe({ type: "longtask", buffered: true });"""


def build(home: Path, tasks: int, runs: int, log_mb: int, artifacts: int) -> None:
    """Fill ``home/.headwater`` with real runs (skipped when it already holds them)."""
    if (home / ".headwater" / "meta.sqlite").exists():
        return
    # made first, so the runs write here even inside a folder that has a .headwater above it
    (home / ".headwater").mkdir(parents=True, exist_ok=True)
    for name in ("ui_scale.py", "tiny.py"):
        shutil.copy(FLOWS / name, home / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    start = time.perf_counter()
    subprocess.run([sys.executable, "ui_scale.py", "run", "--n", str(tasks),  # noqa: S603
                    "--log-mb", str(log_mb), "--artifacts", str(artifacts)],
                   cwd=home, env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"ScaleFlow/1 ({tasks:,} foreach tasks) in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    for _ in range(runs):
        subprocess.run([sys.executable, "tiny.py", "run"], cwd=home, env=env,  # noqa: S603
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"{runs:,} runs of TinyFlow in {time.perf_counter() - start:.0f} s")


def api_json(base: str, path: str) -> object:
    import json

    with urllib.request.urlopen(base + path, timeout=120) as answer:  # noqa: S310 - loopback
        return json.loads(answer.read())


class Visit:
    """One page open in the browser, its API requests counted as they finish."""

    def __init__(self, context, base: str) -> None:  # type: ignore[no-untyped-def]
        self.page = context.new_page()
        self.base = base
        self.sizes: list[tuple[str, int]] = []
        self.page.on("requestfinished", self._finished)

    def _finished(self, request) -> None:  # type: ignore[no-untyped-def]
        if "/api/" in request.url and not request.url.endswith("/events"):
            self.sizes.append((request.url, request.sizes()["responseBodySize"]))

    def timed(self, action, ready: str) -> float:  # type: ignore[no-untyped-def]
        """Milliseconds from ``action()`` until ``ready`` (a selector) is visible."""
        start = time.perf_counter()
        action()
        self.page.locator(ready).first.wait_for(state="visible", timeout=300_000)
        return (time.perf_counter() - start) * 1000

    def figures(self) -> tuple[int, int, int, float]:
        longest = self.page.evaluate("Math.max(0, ...window.__long)")
        return (len(self.sizes), sum(s for _, s in self.sizes), max((s for _, s in self.sizes),
                                                                    default=0), longest)


def measure(base: str, browser) -> list[tuple[str, float, int, int, int, float]]:  # type: ignore[no-untyped-def]
    rows = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(LONG_TASKS)
    context.set_default_timeout(300_000)

    def record(name: str, visit: Visit, ms: float) -> None:
        rows.append((name, ms, *visit.figures()))
        visit.sizes.clear()

    run = f"ScaleFlow/{api_json(base, '/api/runs?flow=ScaleFlow&limit=1')['runs'][0]['run_id']}"  # type: ignore[index]

    def first_task(step: str) -> str:
        return api_json(base, f"/api/runs/{run}/tasks?step={step}")["tasks"][0]["task_id"]  # type: ignore[index]

    join, chatty, many = first_task("join"), first_task("chatty"), first_task("many")

    v = Visit(context, base)
    record("runs list (1,001 runs)", v, v.timed(lambda: v.page.goto(base + "/"),
                                               "#runs-table tbody tr"))
    v.page.mouse.wheel(0, 5000)
    record("  older runs (next page)", v, v.timed(
        lambda: v.page.get_by_role("link", name="older →").click(),
        'a[rel="prev"]'))
    record("  filtered by flow and status", v, v.timed(
        lambda: v.page.goto(base + "/?flow=TinyFlow&status=succeeded"), "#runs-table tbody tr"))

    v = Visit(context, base)
    record("run page: graph, timeline, 100 of 10,004 tasks", v, v.timed(
        lambda: v.page.goto(f"{base}/runs/{run}"), "#tasks-table tbody tr"))
    v.page.mouse.wheel(0, 20000)
    record("  sorted by duration, descending", v, v.timed(lambda: (
        v.page.get_by_role("button", name="duration").click(),
        v.page.wait_for_url("**sort=duration**"),
        v.page.get_by_role("button", name="duration").click(),
        v.page.wait_for_url("**order=desc**")), 'th[aria-sort="descending"]'))
    record("  one step (work), page 2", v, v.timed(
        lambda: v.page.goto(f"{base}/runs/{run}?step=work&offset=100#tasks"),
        "#tasks-range"))
    record("  last page of the step (offset 9,900)", v, v.timed(
        lambda: v.page.goto(f"{base}/runs/{run}?step=work&offset=9900#tasks"),
        "#tasks-range"))

    v = Visit(context, base)
    record("join task (10,000 inputs)", v, v.timed(
        lambda: v.page.goto(f"{base}/runs/{run}/join/{join}"), "#inputs a.more-inputs"))

    v = Visit(context, base)
    record("task with a 5 MB log (its last MiB)", v, v.timed(
        lambda: v.page.goto(f"{base}/runs/{run}/chatty/{chatty}"),
        '#stdout-state:text-is("complete")'))
    v.page.locator("#stdout").evaluate("(pre) => { pre.scrollTop = 0; }")
    record("  find a line in the whole log", v, v.timed(
        lambda: v.page.locator("#stdout-find").fill("needle"),
        '#stdout-matches:has-text("in the whole log")'))
    record("  show that line in its place", v, v.timed(
        lambda: v.page.get_by_role("button", name="in its place").first.click(),
        "#stdout-around .target"))

    v = Visit(context, base)
    record("task with 1,000 artifacts (first 100)", v, v.timed(
        lambda: v.page.goto(f"{base}/runs/{run}/many/{many}"), "#artifacts tbody tr"))
    record("  the next 100 artifacts", v, v.timed(
        lambda: v.page.locator("#artifacts-more").click(),
        '#artifacts-range:has-text("1–200 of")'))
    record("  find artifacts by name", v, v.timed(
        lambda: v.page.locator("#artifacts-find").fill("value_09"),
        '#artifacts-range:has-text("named with")'))
    context.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="build here, or reuse what is built here")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--log-mb", type=int, default=5)
    parser.add_argument("--artifacts", type=int, default=1_000)
    args = parser.parse_args()
    scratch = None
    home = args.home
    if home is None:
        scratch = tempfile.TemporaryDirectory(prefix="hw-ui-browser-")
        home = Path(scratch.name)
    try:
        build(home, args.tasks, args.runs, args.log_mb, args.artifacts)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
        server = subprocess.Popen(  # noqa: S603 - our own CLI
            [str(Path(sys.executable).parent / "headwater"), "ui", "--port", str(port),
             "--datastore-root", str(home / ".headwater")], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    api_json(base, "/api/flows")
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the UI server did not start") from None
                    time.sleep(0.1)
            load_before = os.getloadavg()
            with launched() as browser:
                rows = measure(base, browser)
            load_after = os.getloadavg()
        finally:
            stop_process(server)
    finally:
        if scratch is not None:
            scratch.cleanup()
    print(f"\nload average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
          f"{os.cpu_count()} cores\n")
    print("| page, then what the reader does | shown after | API requests | API bytes "
          "| largest answer | longest busy main thread |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, ms, count, total, largest, longest in rows:
        print(f"| {name} | {ms:.0f} ms | {count} | {total / 1024:.0f} KiB "
              f"| {largest / 1024:.0f} KiB | {longest:.0f} ms |")


if __name__ == "__main__":
    main()
