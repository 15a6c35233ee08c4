"""@cache: a task whose cache key matches an earlier succeeded task is reused, not run.

Every @cache step here appends a line to a side-effect file (``side.txt``) when it really runs, so a
test reads exactly which tasks ran; the data a run starts from is a JSON file the test rewrites
(``data.json``: the foreach items and a base number), which the flow reads in its uncached ``start``.
"""

from __future__ import annotations

import json
from pathlib import Path

from headwater import Flow

from .faultkit import client, hw
from .flowrun import task_lines, write_flow

CACHED_FLOW = """
    import json
    import os

    from headwater import FlowSpec, Parameter, cache, step


    def note(text):
        with open(os.path.join(os.environ["DIR"], "side.txt"), "a") as handle:
            handle.write(text + "\\n")


    class CacheFlow(FlowSpec):
        scale = Parameter("scale", default=1)

        @step
        def start(self):
            with open(os.path.join(os.environ["DIR"], "data.json")) as handle:
                data = json.load(handle)
            self.items = data["items"]
            self.base = data["base"]
            self.next(self.body, foreach="items")

        @cache
        @step
        def body(self):
            note(f"body {self.input}")
            self.out = (self.input + self.base) * int(self.scale)
            self.next(self.join)

        @cache
        @step
        def join(self, inputs):
            note("join")
            self.total = sum(i.out for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            print("TOTAL", self.total)


    if __name__ == "__main__":
        CacheFlow()
"""


class Folder:
    """A flow file, its data file and its side-effect file in one test folder."""

    def __init__(self, path: Path, source: str = CACHED_FLOW) -> None:
        self.path = path
        self.flow = write_flow(path, "cache_flow.py", source)
        self.data = path / "data.json"
        self.side = path / "side.txt"
        self.set_data([1, 2, 3], base=10)

    def set_data(self, items: list, base: int = 10) -> None:
        self.data.write_text(json.dumps({"items": items, "base": base}))

    def run(self, *args: str, with_: str | None = None, ok: bool = True, **env: str):
        """``run ARGS``; ``with_`` is a top-level ``--with`` decorator spec."""
        self.side.write_text("")
        top = ("--with", with_) if with_ else ()
        done = hw(self.flow, *top, "run", *args, cwd=self.path, DIR=str(self.path), **env)
        assert (done.returncode == 0) == ok, done.stdout + done.stderr
        return done

    def ran(self) -> list[str]:
        """What the @cache steps really ran in the last run, sorted."""
        return sorted(filter(None, self.side.read_text().splitlines()))

    def edit(self, old: str, new: str) -> None:
        text = self.flow.read_text()
        assert old in text
        self.flow.write_text(text.replace(old, new))


def reused(output: str) -> dict[str, str]:
    """Task (run/step/task) -> the task it was reused from, from the run's output."""
    prefix = "reused from cache: "
    return {t.pathspec: t.text[len(prefix):] for t in task_lines(output)
            if t.text.startswith(prefix)}


def total(done) -> int:
    return int(next(t.text.split()[1] for t in task_lines(done.stdout)
                    if t.text.startswith("TOTAL")))


def test_a_hit_skips_the_step_and_reads_back_the_same_artifacts(tmp_path) -> None:
    folder = Folder(tmp_path)
    first = folder.run()
    assert folder.ran() == ["body 1", "body 2", "body 3", "join"]
    second = folder.run()
    assert folder.ran() == []  # no side effect: nothing of body or join ran
    assert total(second) == total(first) == 36
    hits = reused(second.stdout)
    assert sorted(hits) == ["2/body/2", "2/body/3", "2/body/4", "2/join/5"]
    assert all(origin.startswith("CacheFlow/1/") for origin in hits.values())

    client(tmp_path)
    one, two = Flow("CacheFlow")["1"], Flow("CacheFlow")["2"]
    firsts = {t.index: t for t in one["body"]}
    for task in two["body"]:
        origin = firsts[task.index]
        assert task.origin_pathspec == origin.pathspec
        assert task["out"].data == origin["out"].data
        assert task.metadata_dict["cache-key"] == origin.metadata_dict["cache-key"]
        assert task.metadata_dict["cached-from"] == origin.pathspec
        assert task.successful
    assert two["join"].task["total"].data == 36
    assert two["join"].task.origin_pathspec == one["join"].task.pathspec
    assert two["end"].task.origin_pathspec is None  # not @cache: it ran


def test_a_change_to_the_step_code_misses(tmp_path) -> None:
    folder = Folder(tmp_path)
    folder.run()
    folder.edit("* int(self.scale)", "* int(self.scale) * 2")
    second = folder.run()
    assert folder.ran() == ["body 1", "body 2", "body 3", "join"]
    assert reused(second.stdout) == {}
    assert total(second) == 72


def test_a_change_to_an_input_artifact_misses(tmp_path) -> None:
    folder = Folder(tmp_path)
    folder.run()
    folder.set_data([1, 2, 3], base=20)  # start's `base`, read by every body task
    second = folder.run()
    assert folder.ran() == ["body 1", "body 2", "body 3", "join"]
    assert total(second) == 66


def test_a_change_to_a_parameter_misses(tmp_path) -> None:
    folder = Folder(tmp_path)
    folder.run()
    second = folder.run("--scale", "3")
    assert folder.ran() == ["body 1", "body 2", "body 3", "join"]
    assert total(second) == 108
    folder.run("--scale", "3")
    assert folder.ran() == []  # the same parameter again: a hit


def test_a_change_to_the_environment_misses(tmp_path) -> None:
    folder = Folder(tmp_path)
    folder.run()
    folder.run(with_='environment:vars={"MODE":"fast"}')
    assert folder.ran() == ["body 1", "body 2", "body 3", "join"]
    folder.run(with_='environment:vars={"MODE":"fast"}')
    assert folder.ran() == []


def test_each_foreach_item_is_keyed_on_its_own(tmp_path) -> None:
    folder = Folder(tmp_path)
    folder.run()
    folder.set_data([1, 2, 3, 4])
    second = folder.run()
    # one new item: one body task runs; the join's inputs changed, so it runs too
    assert folder.ran() == ["body 4", "join"]
    assert total(second) == 50
    folder.set_data([0, 1, 2, 3, 4])  # an item in front: the others moved, yet are reused
    third = folder.run()
    assert folder.ran() == ["body 0", "join"]
    assert total(third) == 60
    assert len([p for p in reused(third.stdout) if "/body/" in p]) == 4


def test_no_cache_runs_everything_and_refreshes_the_cache(tmp_path) -> None:
    folder = Folder(tmp_path)
    folder.run()
    second = folder.run("--no-cache")
    assert folder.ran() == ["body 1", "body 2", "body 3", "join"]
    assert reused(second.stdout) == {}
    third = folder.run()
    assert folder.ran() == []
    assert all(origin.startswith("CacheFlow/2/") for origin in reused(third.stdout).values())


CAUGHT_FLOW = """
    import os

    from headwater import FlowSpec, cache, catch, retry, current, step


    def note(text):
        with open(os.path.join(os.environ["DIR"], "side.txt"), "a") as handle:
            handle.write(text + "\\n")


    class CaughtFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.risky)

        @catch(var="problem")
        @cache
        @step
        def risky(self):
            note("risky")
            if os.path.exists(os.environ["FAIL"]):
                raise RuntimeError("the FAIL file is there")
            self.value = 7
            self.next(self.flaky)

        @retry(times=1, minutes_between_retries=0)
        @cache
        @step
        def flaky(self):
            note(f"flaky attempt {current.retry_count}")
            if current.retry_count == 0:
                raise RuntimeError("first attempts fail")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        CaughtFlow()
"""


def test_a_caught_failure_is_not_cached_and_a_retried_success_is(tmp_path) -> None:
    folder = Folder(tmp_path, CAUGHT_FLOW)
    fail = tmp_path / "FAIL"
    fail.write_text("")
    folder.run(FAIL=str(fail))
    assert folder.ran() == ["flaky attempt 0", "flaky attempt 1", "risky"]
    client(tmp_path)
    caught = Flow("CaughtFlow")["1"]["risky"].task
    assert caught["problem"].data is not None
    assert "cache-key" not in caught.metadata_dict
    assert "cache-key" in Flow("CaughtFlow")["1"]["flaky"].task.metadata_dict

    fail.unlink()
    second = folder.run(FAIL=str(fail))
    # the caught failure was not cached: the step runs again (and flaky, whose input changed)
    assert folder.ran() == ["flaky attempt 0", "flaky attempt 1", "risky"]
    assert reused(second.stdout) == {}
    third = folder.run(FAIL=str(fail))
    # both succeeded now, flaky on its retry: only that final attempt was cached, and is reused
    assert folder.ran() == []
    assert sorted(reused(third.stdout)) == ["3/flaky/3", "3/risky/2"]


PLAIN_FLOW = """
    import os

    from headwater import FlowSpec, step


    def note(text):
        with open(os.path.join(os.environ["DIR"], "side.txt"), "a") as handle:
            handle.write(text + "\\n")


    class PlainFlow(FlowSpec):
        @step
        def start(self):
            note("start")
            self.x = 1
            self.next(self.end)

        @step
        def end(self):
            note("end")
            self.y = self.x + 1


    if __name__ == "__main__":
        PlainFlow()
"""


def test_with_cache_caches_every_step(tmp_path) -> None:
    folder = Folder(tmp_path, PLAIN_FLOW)
    folder.run(with_="cache")
    assert folder.ran() == ["end", "start"]
    folder.run()  # without it, nothing is cached: both run
    assert folder.ran() == ["end", "start"]
    second = folder.run(with_="cache")
    assert folder.ran() == []
    assert sorted(reused(second.stdout)) == ["3/end/2", "3/start/1"]
    client(tmp_path)
    assert Flow("PlainFlow")["3"]["end"].task["y"].data == 2


def test_runs_on_dask_share_the_cache_with_local_runs(tmp_path, dask_cluster) -> None:
    folder = Folder(tmp_path)
    # Dask workers do not inherit the run's environment: @environment hands the paths over
    # (the same on every run, so it keys every run alike).
    paths = f'environment:vars={json.dumps({"DIR": str(tmp_path)})}'
    on_dask = ("--executor", "dask", "--dask-address", dask_cluster.address)
    first = folder.run(*on_dask, with_=paths)
    assert folder.ran() == ["body 1", "body 2", "body 3", "join"]
    second = folder.run(*on_dask, with_=paths)
    assert folder.ran() == []  # the same key on the same store, whatever ran the tasks
    assert total(second) == total(first) == 36
    folder.set_data([1, 2, 3, 4])
    folder.run(with_=paths)  # locally: the three items the cluster computed are reused
    assert folder.ran() == ["body 4", "join"]
    client(tmp_path)
    assert "runtime:dask" in Flow("CacheFlow")["1"].system_tags
    origins = sorted(t.origin_pathspec or "" for t in Flow("CacheFlow")["3"]["body"])
    assert origins == ["", "CacheFlow/2/body/2", "CacheFlow/2/body/3", "CacheFlow/2/body/4"]


def test_resume_of_a_cached_step_runs_it_and_later_steps_may_hit(tmp_path) -> None:
    folder = Folder(tmp_path)
    folder.run()
    folder.side.write_text("")
    resumed = hw(folder.flow, "resume", "body", cwd=tmp_path, DIR=str(tmp_path))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # the step named to resume from runs again although the cache has it; what it made is the
    # same as before, so the join after it is reused from the cache
    assert folder.ran() == ["body 1", "body 2", "body 3"]
    assert reused(resumed.stdout) == {"2/join/5": "CacheFlow/1/join/5"}
    assert total(resumed) == 36


CARD_FLOW = """
    import os

    from headwater import FlowSpec, cache, card, current, step
    from headwater.cards import Markdown


    class CardCacheFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.report)

        @card(type="blank")
        @cache
        @step
        def report(self):
            with open(os.path.join(os.environ["DIR"], "side.txt"), "a") as handle:
                handle.write("report\\n")
            current.card.append(Markdown(f"made by {current.pathspec}"))
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        CardCacheFlow()
"""


def test_a_reused_task_brings_its_card(tmp_path) -> None:
    from headwater.cards import get_cards

    folder = Folder(tmp_path, CARD_FLOW)
    folder.run()
    folder.run()
    assert folder.ran() == []
    client(tmp_path)
    task = Flow("CardCacheFlow")["2"]["report"].task
    assert task.origin_pathspec == "CardCacheFlow/1/report/2"
    [shown] = get_cards(task)
    assert "made by CardCacheFlow/1/report/2" in shown.html


def test_a_deployment_notes_that_cache_is_ignored(tmp_path) -> None:
    folder = Folder(tmp_path)
    done = hw(folder.flow, "argo-workflows", "create", "--only-json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Note: @cache (body, join) is ignored: every task of a deployed run runs" in (
        done.stdout + done.stderr)


def test_logs_of_a_reused_task_say_where_its_output_came_from(tmp_path) -> None:
    folder = Folder(tmp_path)
    folder.run()
    folder.run()
    shown = hw(folder.flow, "logs", "2/join/5", cwd=tmp_path, DIR=str(tmp_path))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "[CacheFlow/2/join/5] reused from cache: CacheFlow/1/join/" in shown.stderr
    assert "reused from cache" not in shown.stdout
    plain = hw(folder.flow, "logs", "2/end", cwd=tmp_path, DIR=str(tmp_path))
    assert "TOTAL 36" in plain.stdout and "reused from cache" not in plain.stderr


# A flow with no file of its own: a script compiles two texts as a notebook runs two cells (a
# helper cell, then the flow's cell), registering each text with linecache under a name that is
# no file, as IPython does, then runs the flow. Editing a text between runs is editing a cell.
CELLS_DRIVER = """
    import linecache
    import sys

    for name in ("helpers", "flow"):
        with open(name + ".cell") as handle:
            text = handle.read()
        cell = "<cell " + name + ">"
        linecache.cache[cell] = (len(text), None, text.splitlines(True), cell)
        exec(compile(text, cell, "exec"), globals())

    GeneratedFlow()
"""

HELPERS_CELL = """
    import os

    FACTOR = 2


    def note(text):
        with open(os.path.join(os.environ["DIR"], "side.txt"), "a") as handle:
            handle.write(text + "\\n")


    def scaled(x):
        return x * FACTOR
"""

FLOW_CELL = """
    from headwater import FlowSpec, cache, step


    class GeneratedFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.body)

        @cache
        @step
        def body(self):
            note("body")
            self.out = self.plus_one(scaled(10))
            self.next(self.end)

        def plus_one(self, x):
            return x + 1

        @step
        def end(self):
            print("OUT", self.out)
"""


def test_a_flow_without_a_file_misses_when_its_code_changes(tmp_path) -> None:
    driver = write_flow(tmp_path, "run_cells.py", CELLS_DRIVER)
    cells = {name: write_flow(tmp_path, f"{name}.cell", text)
             for name, text in (("helpers", HELPERS_CELL), ("flow", FLOW_CELL))}
    side = tmp_path / "side.txt"

    def run() -> tuple[list[str], int]:
        side.write_text("")
        done = hw(driver, "run", cwd=tmp_path, DIR=str(tmp_path))
        assert done.returncode == 0, done.stdout + done.stderr
        out = next(int(t.text.split()[1]) for t in task_lines(done.stdout)
                   if t.text.startswith("OUT"))
        return side.read_text().split(), out

    def edit(name: str, old: str, new: str) -> None:
        text = cells[name].read_text()
        assert old in text
        cells[name].write_text(text.replace(old, new))

    assert run() == (["body"], 21)
    assert run() == ([], 21)  # unchanged: reused
    edit("flow", "return x + 1", "return x + 2")  # a method the step calls, not the step
    assert run() == (["body"], 22)
    edit("helpers", "FACTOR = 2", "FACTOR = 3")  # another cell's constant, read by its helper
    assert run() == (["body"], 32)
    assert run() == ([], 32)
