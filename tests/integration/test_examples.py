"""Every example runs through its real command line in a fresh folder, and reads back with the client.

Each test runs one example once (``python examples/X.py run ...`` with the test's tmp dir as the
working directory), checks the console a user reads, then opens the run with the client *in this
process* (``metadata(<tmp>/.headwater)``) and checks the artifacts.
"""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest

import headwater
from headwater import Flow, Run, Step, Task, get_metadata, namespace
from headwater.exceptions import NamespaceMismatchError

from .flowrun import (
    TESTER,
    TaskLine,
    copy_example,
    example,
    point_client_at,
    run_cli,
    run_count,
    task_lines,
)

STARTING = "Task is starting."
FINISHED = "Task finished successfully."


def check_console(proc: subprocess.CompletedProcess, flow: str, steps: set[str]) -> list[TaskLine]:
    """Assert the shape of a successful run's output; returns its task lines."""
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"headwater {headwater.__version__} executing {flow} for user:{TESTER}"
    assert "Validating your flow..." in lines
    assert "    The graph looks good!" in lines
    starting = [line for line in lines if line.startswith("Workflow starting (run-id ")]
    assert len(starting) == 1, lines
    run_id = starting[0].removeprefix("Workflow starting (run-id ").removesuffix("):")
    assert lines[-1] == f"Done! Run {flow}/{run_id} succeeded."

    tls = task_lines(proc.stdout)
    assert tls, proc.stdout
    assert {t.run for t in tls} == {run_id}
    assert {t.step for t in tls} == steps
    for pathspec in dict.fromkeys(t.pathspec for t in tls):
        own = [t for t in tls if t.pathspec == pathspec]
        assert own[0].text == STARTING, own
        assert [t.text for t in own].count(STARTING) == 1, own
        assert own[-1].text == FINISHED, own
        assert None not in {t.pid for t in own}, own
        assert len({t.pid for t in own}) == 1, "a task's lines all carry its pid"
    pids = {t.pathspec: t.pid for t in tls if t.text == STARTING}
    assert len(set(pids.values())) == len(pids), "each task runs in its own process"
    return tls


def printed(tls: list[TaskLine], step: str) -> list[str]:
    """What the tasks of ``step`` printed, in console order."""
    return [t.text for t in tls if t.step == step and t.text not in (STARTING, FINISHED)
            and not t.text.startswith("Foreach yields ")]


def only_run(tmp_path: Path, flow: str) -> Run:
    """Point the client at the test folder's datastore; the flow's single run."""
    point_client_at(tmp_path / ".headwater")
    runs = list(Flow(flow))
    assert len(runs) == 1
    run = runs[0]
    assert run.successful and run.finished
    assert run.finished_at is not None
    assert run.code is None  # local runs run the files in place: no code package
    return run


def tasks_in_order(step: Step) -> list[Task]:
    return sorted(step, key=lambda t: int(t.id))


def step_names(run: Run) -> set[str]:
    return {s.id for s in run}


# ---------------------------------------------------------------- linear


def test_linear(tmp_path):
    proc = run_cli(example("linear_flow.py"), "run", cwd=tmp_path)
    tls = check_console(proc, "LinearFlow", {"start", "a", "end"})
    assert printed(tls, "a") == ["the data artifact is: hello world"]
    assert printed(tls, "end") == ["the data artifact is still: hello world", "count is 2"]
    # the run's data lands next to where it ran, nowhere else
    assert (tmp_path / ".headwater" / "meta.sqlite").is_file()

    run = only_run(tmp_path, "LinearFlow")
    assert get_metadata() == f"local@{tmp_path / '.headwater'}"
    assert f"user:{TESTER}" in run.tags
    assert step_names(run) == {"start", "a", "end"}
    assert run["start"].task.data.count == 1
    assert run["a"].task.data.count == 2
    assert run.data.count == 2
    assert run.data.my_var == "hello world"
    assert run["a"].task.stdout == "the data artifact is: hello world\n"
    assert run["a"].task.successful
    assert run.end_task.pathspec == f"{run.pathspec}/end/{run['end'].task.id}"
    # the same run by pathspec
    assert Run(run.pathspec).data.count == 2
    assert Flow("LinearFlow").latest_successful_run == run


# ---------------------------------------------------------------- branch


def test_branch(tmp_path):
    proc = run_cli(example("branch_flow.py"), "run", cwd=tmp_path)
    tls = check_console(proc, "BranchFlow", {"start", "a", "b", "join", "end"})
    assert printed(tls, "join") == ["a is 11", "b is 12"]
    assert printed(tls, "end") == ["total is 23 base is 10"]
    # the join starts only after both branches finished
    first_join = next(i for i, t in enumerate(tls) if t.step == "join")
    finished = {t.step for t in tls[:first_join] if t.text == FINISHED}
    assert {"a", "b"} <= finished

    run = only_run(tmp_path, "BranchFlow")
    assert run["a"].task.data.x == 11
    assert run["b"].task.data.x == 12
    join = run["join"].task
    assert join.data.total == 23
    assert join.data.base == 10
    assert "x" not in join.data  # excluded from the merge
    assert run.data.total == 23
    assert "x" not in run.data


# ---------------------------------------------------------------- foreach


def test_foreach(tmp_path):
    proc = run_cli(example("foreach_flow.py"), "run", cwd=tmp_path)
    tls = check_console(proc, "ForeachFlow", {"start", "make_title", "join", "end"})
    expected = ["0: the bird", "1: the fish", "2: the fox"]
    assert sorted(printed(tls, "make_title")) == expected
    assert len({t.task for t in tls if t.step == "make_title"}) == 3
    assert printed(tls, "end") == ["titles: 0: the bird, 1: the fish, 2: the fox"]

    run = only_run(tmp_path, "ForeachFlow")
    items = sorted(run["make_title"], key=lambda t: t.index)
    assert [t.index for t in items] == [0, 1, 2]
    assert [t.data.title for t in items] == expected
    assert [t.stdout for t in items] == [title + "\n" for title in expected]
    assert run["join"].task.data.titles == expected
    assert run.data.titles == expected
    assert run["start"].task.index is None


# ---------------------------------------------------------------- parameters


def test_parameter_given(tmp_path):
    proc = run_cli(example("parameter_flow.py"), "run", "--alpha", "0.6", cwd=tmp_path)
    tls = check_console(proc, "ParameterFlow", {"start", "end"})
    assert printed(tls, "start") == ["alpha is 0.6"]
    assert printed(tls, "end") == ["alpha is still 0.6"]

    run = only_run(tmp_path, "ParameterFlow")
    assert run.parameters == {"alpha": 0.6}
    assert isinstance(run.parameters["alpha"], float)
    for step in run:
        for task in step:
            assert task.data.alpha == 0.6, task
            assert "alpha" in task.data


def test_parameter_default(tmp_path):
    proc = run_cli(example("parameter_flow.py"), "--quiet", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Task is starting." not in proc.stdout  # --quiet
    run = only_run(tmp_path, "ParameterFlow")
    assert proc.stdout.splitlines() == [f"Done! Run ParameterFlow/{run.id} succeeded."]
    assert run.parameters == {"alpha": 0.01}
    assert run.data.alpha == 0.01


@pytest.mark.parametrize(("flow", "option", "value", "expects"), [
    ("parameter_flow.py", "--alpha", "abc", "a number"),
    ("loop_flow.py", "--limit", "2.5", "an integer"),
])
def test_bad_parameter_value_is_refused_before_anything_runs(tmp_path, flow, option, value,
                                                              expects):
    proc = run_cli(example(flow), "run", option, value, cwd=tmp_path)
    assert proc.returncode == 2  # a usage error, as Metaflow's click exits
    assert "Traceback" not in proc.stderr
    assert f"parameter '{option[2:]}' expects {expects}" in proc.stderr
    assert f"fix: pass e.g. {option} " in proc.stderr
    assert STARTING not in proc.stdout
    assert run_count(tmp_path / ".headwater") == 0


def test_unknown_option_is_a_usage_error(tmp_path):
    proc = run_cli(example("parameter_flow.py"), "run", "--beta", "1", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--beta" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert run_count(tmp_path / ".headwater") == 0


def test_json_parameter_given(tmp_path):
    proc = run_cli(example("json_parameter_flow.py"), "run", "--gdp", '{"US": 1}', cwd=tmp_path)
    tls = check_console(proc, "JSONParameterFlow", {"start", "end"})
    assert printed(tls, "start") == ["The GDP of US is $1B"]

    run = only_run(tmp_path, "JSONParameterFlow")
    assert run.parameters == {"gdp": {"US": 1}, "country": "US"}
    assert run["start"].task.data.gdp == {"US": 1}
    assert run.data.gdp == {"US": 1}


def test_json_parameter_default(tmp_path):
    proc = run_cli(example("json_parameter_flow.py"), "run", "--country", "US", cwd=tmp_path)
    tls = check_console(proc, "JSONParameterFlow", {"start", "end"})
    assert printed(tls, "start") == ["The GDP of US is $1939B"]
    run = only_run(tmp_path, "JSONParameterFlow")
    assert run.parameters == {"gdp": {"US": 1939}, "country": "US"}


def test_json_parameter_bad_json_is_refused_before_anything_runs(tmp_path):
    proc = run_cli(example("json_parameter_flow.py"), "run", "--gdp", "{US: 1}", cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "'gdp'" in proc.stderr and "JSON" in proc.stderr
    assert STARTING not in proc.stdout
    assert run_count(tmp_path / ".headwater") == 0


# ---------------------------------------------------------------- merge_artifacts


def test_merge_artifacts(tmp_path):
    proc = run_cli(example("merge_artifacts_flow.py"), "run", cwd=tmp_path)
    steps = {"start", "a", "b", "join", "c", "d", "foreach_join", "end"}
    tls = check_console(proc, "MergeArtifactsFlow", steps)
    assert printed(tls, "join") == ["x is 1", "pass_down is a", "common is 5", "from_a is 6"]
    assert printed(tls, "end") == ["sure is same in every item and conflicting is [1, 2, 3]",
                                   "pass_down is still a"]

    run = only_run(tmp_path, "MergeArtifactsFlow")
    join = run["join"].task.data
    assert (join.x, join.pass_down, join.common, join.from_a) == (1, "a", 5, 6)
    assert "y" not in join  # excluded
    fjoin = run["foreach_join"].task.data
    assert fjoin.sure == "same in every item"
    assert fjoin.pass_down == "a"
    assert fjoin.conflicting == [1, 2, 3]
    assert "numbers" not in fjoin  # not in include=[...]
    assert sorted(t.data.conflicting for t in run["d"]) == [1, 2, 3]
    assert run.data.conflicting == [1, 2, 3]


# ---------------------------------------------------------------- pets


def test_pets(tmp_path):
    proc = run_cli(example("pets_flow.py"), "run", cwd=tmp_path)
    tls = check_console(proc, "PetsFlow", {"start", "add_pet", "end"})
    assert printed(tls, "end") == ["pets: ['cat', 'dog', 'hamster']"]

    only_run(tmp_path, "PetsFlow")
    run = Flow("PetsFlow").latest_successful_run
    assert run.data.pets == ["cat", "dog", "hamster"]
    # start's value is what start stored; add_pet's mutation made a new artifact
    assert run["start"].task.data.pets == ["cat", "dog"]
    assert run["add_pet"].task.data.pets == ["cat", "dog", "hamster"]


def test_pets_runs_are_numbered_and_listed_newest_first(tmp_path):
    for _ in range(2):
        assert run_cli(example("pets_flow.py"), "--quiet", "run", cwd=tmp_path).returncode == 0
    point_client_at(tmp_path / ".headwater")
    runs = list(Flow("PetsFlow"))
    assert len(runs) == 2
    assert runs[0].created_at >= runs[1].created_at
    assert Flow("PetsFlow").latest_run == runs[0]
    assert len({r.id for r in runs}) == 2
    # runs are recorded under the launching user's namespace
    namespace("user:somebody-else")
    with pytest.raises(NamespaceMismatchError):
        Flow("PetsFlow")
    namespace(None)
    assert len(list(Flow("PetsFlow"))) == 2


# ---------------------------------------------------------------- playlist (IncludeFile)


def _movies() -> tuple[str, list[dict[str, str]]]:
    text = example("movies.csv").read_text()
    return text, list(csv.DictReader(text.splitlines()))


def _check_playlist(run: Run, genre: str, tls: list[TaskLine]) -> None:
    text, rows = _movies()
    assert run["start"].task.data.movie_data == text
    params = run.parameters
    assert params["movie_data"] == text
    assert params["genre"] == genre
    assert params["recommendations"] == 3
    for step in run:
        for task in step:
            assert task.data.movie_data == text
            assert task.data.genre == genre
    in_genre = [r["movie_title"] for r in rows if genre in r["genres"].split("|")]
    playlist = run.data.playlist
    assert len(playlist) == min(3, len(in_genre))
    assert len(set(playlist)) == len(playlist) and set(playlist) <= set(in_genre)
    assert run.data.bonus == next(r["movie_title"] for r in rows
                                  if genre not in r["genres"].split("|"))
    shown = printed(tls, "end")
    assert shown[0] == f"Playlist for movies in genre '{genre}'"
    assert shown[1:-1] == [f"Pick {i + 1}: '{m}'" for i, m in enumerate(playlist)]
    assert shown[-1] == f"Bonus pick: '{run.data.bonus}'"


def test_playlist_default_file_relative_to_cwd(tmp_path):
    copy_example("movies.csv", tmp_path)
    proc = run_cli(example("playlist_flow.py"), "run", "--genre", "Drama", cwd=tmp_path)
    steps = {"start", "bonus_movie", "genre_movies", "join", "end"}
    tls = check_console(proc, "PlayListFlow", steps)
    _check_playlist(only_run(tmp_path, "PlayListFlow"), "Drama", tls)


def test_playlist_file_given_and_stored_with_the_run(tmp_path):
    data = tmp_path / "elsewhere" / "my movies.csv"
    data.parent.mkdir()
    data.write_text(example("movies.csv").read_text())
    proc = run_cli(example("playlist_flow.py"), "run", "--movie_data", str(data), cwd=tmp_path)
    tls = check_console(proc, "PlayListFlow", {"start", "bonus_movie", "genre_movies", "join", "end"})
    data.unlink()  # the run keeps its own copy
    _check_playlist(only_run(tmp_path, "PlayListFlow"), "Sci-Fi", tls)


def test_playlist_missing_file_is_a_clear_error(tmp_path):
    # The flow alone, without its movies.csv (an IncludeFile's default is also looked for
    # beside the flow file, newuser7: the example's own folder has one).
    flow = copy_example("playlist_flow.py", tmp_path)
    proc = run_cli(flow, "run", cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "movie_data" in proc.stderr and "movies.csv" in proc.stderr
    assert STARTING not in proc.stdout
    assert run_count(tmp_path / ".headwater") == 0


# ---------------------------------------------------------------- conditional


@pytest.mark.parametrize(("score", "chosen", "other", "word"), [
    ("0.9", "approve", "reject", "approved"),
    ("0.1", "reject", "approve", "rejected"),
])
def test_conditional(tmp_path, score, chosen, other, word):
    proc = run_cli(example("conditional_flow.py"), "run", "--score", score, cwd=tmp_path)
    tls = check_console(proc, "ConditionalFlow", {"start", chosen, "end"})
    assert printed(tls, "end") == [f"{word} with {score}"]

    run = only_run(tmp_path, "ConditionalFlow")
    assert step_names(run) == {"start", chosen, "end"}
    assert other not in run
    assert run["start"].task.data.decision == chosen
    assert run[chosen].task.data.message == f"{word} with {score}"
    assert run.data.message == f"{word} with {score}"
    assert run.parameters == {"score": float(score)}


# ---------------------------------------------------------------- loop


def test_loop(tmp_path):
    proc = run_cli(example("loop_flow.py"), "run", "--limit", "20", cwd=tmp_path)
    tls = check_console(proc, "LoopFlow", {"start", "double", "end"})
    assert printed(tls, "double") == [f"value is now {v}" for v in (2, 4, 8, 16, 32)]
    assert printed(tls, "end") == ["reached 32 after 5 passes"]
    assert len({t.task for t in tls if t.step == "double"}) == 5

    run = only_run(tmp_path, "LoopFlow")
    passes = tasks_in_order(run["double"])
    assert len(passes) == 5  # one task per pass
    assert [t.data.value for t in passes] == [2, 4, 8, 16, 32]
    assert [t.data.state for t in passes] == ["again"] * 4 + ["done"]
    assert passes[-1].data.history == [2, 4, 8, 16, 32]
    assert [len(t.data.history) for t in passes] == [1, 2, 3, 4, 5]
    assert all(t.data.limit == 20 for t in passes)
    assert run.data.value == 32
    assert run.parameters == {"limit": 20}
