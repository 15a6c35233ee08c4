"""What a user sees of a run beyond its data, for tools/differential.py (third round).

The data reader compares artifacts and printed output; this module reads what else a user
meets: the client objects' properties and the order they list things in, ``logs`` and
``dump`` on the command line, the Runner API's result objects and the last lines of a failed
run. Each reading is normalised so that only behaviour is compared: run ids become ``R0``,
``R1``... (creation order), a task becomes ``step[foreach indices]#k`` (k counts the tasks of
one step with the same indices, a loop's, in id order), and times, pids and paths go.

The fourth round adds ``card_probe`` (``card list``/``card get`` of the run's cards, read as
task, type, id and components), ``tag_probe`` (the ``tag`` commands on the finished run) and
``attempt_logs`` (``logs --attempt N`` of a retried start), and ``CARD_VIEW``, pasted into the
data reader, which reads a card's components from either system's page.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

# Run in each system's interpreter from the run's folder. Prints one JSON document: what the
# client shows of the flow's runs and of the latest one's steps and tasks, normalised, plus
# ``raw`` (real ids, for the command-line probes; never compared).
SURFACE = r'''
import hashlib, json, sys
from metaflow import Flow, Task, namespace
namespace(None)
flow = Flow(sys.argv[1])

def attempt(fn):
    try:
        value = fn()
    except Exception as exc:
        return "<raises %s>" % type(exc).__name__
    return value

runs = list(flow.runs())
by_age = sorted(runs, key=lambda r: int(r.id))
run_label = {r.id: "R%d" % k for k, r in enumerate(by_age)}
labels = {}  # task pathspec -> normalised label, for every run of the flow

def task_label(task):
    """step[index, the foreach body's at_/count_ artifacts]: the same task on both systems
    (Metaflow's client has no foreach_stack(); the flows store what identifies a task)."""
    # (the nested-foreach tail's tasks keep no at_/count_: their foreach stack and outer item
    # tell them apart, else two inner tasks of one index share a label and a digest of their
    # parents, which Metaflow finds alike after a resume; eighth round, seed 1026)
    keys = sorted(a.id for a in task if a.id.startswith(("at_", "count_", "stack7"))
                  or a.id == "o7")
    marks = [attempt(lambda: task.index)] + ["%s=%s" % (k, task[k].data) for k in keys]
    return "%s%s" % (task.parent.id, json.dumps(marks))

bases, crowded = {}, {}
for r in runs:
    for st in r:
        for task in st:
            bases[task.pathspec] = "%s/%s" % (run_label[r.id], task_label(task))
            crowded[bases[task.pathspec]] = crowded.get(bases[task.pathspec], 0) + 1

def label_of(pathspec):
    """A task's base label, and where two tasks share it (an inner join's tasks after their
    foreach's marks were not merged) a digest of its parents' labels."""
    if pathspec in labels:
        return labels[pathspec]
    if pathspec not in bases:
        return pathspec
    label = bases[pathspec]
    if crowded[label] > 1:
        parents = sorted(label_of(p) for p in Task(pathspec).parent_task_pathspecs)
        label += "@" + hashlib.sha1(json.dumps(parents).encode()).hexdigest()[:6]
    labels[pathspec] = label
    return label

for pathspec in list(bases):
    label_of(pathspec)

def norm(pathspec):
    if pathspec is None:
        return None
    if pathspec in labels:
        return labels[pathspec]
    parts = pathspec.split("/")
    if len(parts) >= 2 and parts[1] == "None":
        # Metaflow's fresh run reads an origin of ``Flow/None`` (and its steps
        # ``Flow/None/step``): no origin, as headwater says (kept, decisions.md third round)
        return None
    if len(parts) >= 2 and parts[1] in run_label:
        parts[1] = run_label[parts[1]]
    return "/".join(parts)

def tags(obj):
    """User tags as they are; system tags by kind (their values are user, date, versions)."""
    def one(tag):
        kind = tag.split(":", 1)[0]
        if kind in ("user", "date", "python_version", "metaflow_version"):
            return kind + ":*"
        return tag
    return (sorted(set(one(t) for t in obj.tags)), sorted(obj.user_tags),
            sorted(set(one(t) for t in obj.system_tags)))

def order(items):
    ids = [int(i.id) for i in items]
    if ids == sorted(ids):
        return "ascending" if len(ids) > 1 else "one"
    if ids == sorted(ids, reverse=True):
        return "descending"
    return "other"

def plain(value):
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)

def task_view(task):
    view = {
        "label": norm(task.pathspec),
        "finished": attempt(lambda: task.finished),
        "successful": attempt(lambda: task.successful),
        "finished_at": attempt(lambda: task.finished_at is not None),
        "exception": attempt(lambda: type(task.exception).__name__),
        "index": attempt(lambda: task.index),
        "parents": attempt(lambda: sorted(norm(p) for p in task.parent_task_pathspecs)),
        "children": attempt(lambda: sorted(norm(p) for p in task.child_task_pathspecs)),
        "origin": attempt(lambda: norm(task.origin_pathspec)),
        "attempt": attempt(lambda: task.current_attempt),
        "tags": attempt(lambda: tags(task)),
        "in": attempt(lambda: ["acc" in task, "name" in task, "nope" in task]),
        # (``doomed``: ``del`` of an inherited artifact, kept in the second round)
        "artifacts": attempt(lambda: sorted(a.id for a in task if a.id != "doomed")),
    }
    if "acc" in task:
        art = task["acc"]
        view["artifact"] = attempt(lambda: {
            "id": art.id, "pathspec": norm(task.pathspec) + "/" + art.pathspec.split("/")[-1],
            "own_pathspec": art.pathspec.split("/")[:1] + art.pathspec.split("/")[2:3],
            "parent": norm(art.parent.pathspec), "finished_at": art.finished_at is not None,
            "created_at": art.created_at is not None,
            "sha": isinstance(art.sha, str) and bool(art.sha),
            "size": isinstance(art.size, int), "components": len(art.path_components),
            "tags": tags(art)})
    return view

run = flow.latest_run
steps = []
for st in run:
    tasks = list(st)
    steps.append({
        "step": st.id,
        "finished_at": attempt(lambda: st.finished_at is not None),
        "count": len(tasks),
        # Metaflow lists a step's tasks newest first by the time each registered, which
        # for the tasks of a foreach is timing; headwater by id, newest first. What both
        # promise: each task once, and ``step.task`` is one of them.
        "task": attempt(lambda: norm(st.task.pathspec) if len(tasks) == 1 else
                        norm(st.task.pathspec) in [norm(t.pathspec) for t in tasks]),
        "tasks()": attempt(lambda: sorted(norm(t.pathspec) for t in st.tasks())),
        "in": attempt(lambda: [tasks[0].id in st, "999999" in st] if tasks else []),
        "parent_steps": attempt(lambda: sorted(s.id for s in st.parent_steps)),
        "child_steps": attempt(lambda: sorted(s.id for s in st.child_steps)),
        "origin": attempt(lambda: norm(st.origin_pathspec)),
        "tags": attempt(lambda: tags(st)),
        "tasks": sorted((task_view(t) for t in tasks), key=lambda v: str(v["label"])),
    })
out = {
    "runs": [[run_label[r.id], r.successful, r.successful and r.finished] for r in runs],
    "resumed": run.origin_pathspec is not None,
    "runs_order": order(runs),
    "run": {
        "label": run_label[run.id],
        # newest first on both; Metaflow by the time each step registered, so branches
        # that ran side by side, and a resume's clones, come in either order there:
        # compared are the newest (the end step once it ran) and the set
        "steps_order": [steps[0]["step"] if steps and norm(run.origin_pathspec) is None else None,
                        sorted(s["step"] for s in steps)],
        "steps()": attempt(lambda: sorted(s.id for s in run.steps())),
        "in": ["start" in run, "end" in run, "nope" in run],
        "finished_at": attempt(lambda: run.finished_at is not None),
        "end_task": attempt(lambda: norm(run.end_task.pathspec) if run.end_task else None),
        "origin": attempt(lambda: norm(run.origin_pathspec)),
        "parent": run.parent.pathspec,
        "tags": attempt(lambda: tags(run)),
        "code": attempt(lambda: run.code is None),
    },
    "steps": steps,
    "raw": {"run": run.id,
            "tasks": {st.id: [[t.id, norm(t.pathspec)] for t in st] for st in run},
            # a clone's origin (run/step/task) -> the clone's label: Metaflow's ``card list``
            # names a cloned task's card by its origin task
            "origins": {t.origin_pathspec.split("/", 1)[1]: norm(t.pathspec)
                        for st in run for t in st if t.origin_pathspec}},
}
print(json.dumps(out, sort_keys=True, default=repr))
'''

# Run in each system's interpreter after the tag commands (fifth round): the client's filters
# and accessors a user reaches for, each read two ways where there are two, normalised.
CLIENT_FILTERS = r'''
import json, sys
from metaflow import Flow, Metaflow, Run, Step, Task, namespace
namespace(None)
flow = Flow(sys.argv[1])
by_age = sorted(flow.runs(), key=lambda r: int(r.id))
label = {r.id: "R%d" % k for k, r in enumerate(by_age)}

def shown(fn):
    import metaflow.exception as known
    try:
        value = fn()
    except Exception as exc:
        # by the name flows written for Metaflow catch it by (headwater's own class is the
        # one ``metaflow.exception`` serves under that name)
        for name in ("MetaflowNamespaceMismatch", "MetaflowNotFound"):
            if isinstance(exc, getattr(known, name)):
                return "<raises %s>" % name
        return "<raises %s>" % type(exc).__name__
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)

def runs(*tags):
    return sorted(label.get(r.id, r.id) for r in flow.runs(*tags))

run = flow.latest_run
end = run.end_task
start = run["start"].task
out = {
    "runs(t_four)": shown(lambda: runs("t_four")),
    "runs(t_three, t_four)": shown(lambda: runs("t_three", "t_four")),
    "runs(t_one) (removed)": shown(lambda: runs("t_one")),
    "runs(runtime:dev)": shown(lambda: runs("runtime:dev")),
    "runs(user:someone)": shown(lambda: runs("user:someone")),
    "runs(nope)": shown(lambda: runs("nope")),
    "latest_successful_run": shown(lambda: label[flow.latest_successful_run.id]
                                   if flow.latest_successful_run else None),
    "end_task.data.total": shown(lambda: end.data.total if end else None),
    "run.data.total": shown(lambda: run.data.total if end else None),
    "end_task['total'].data": shown(lambda: end["total"].data if end else None),
    "end_task.artifacts.acc.data": shown(lambda: end.artifacts.acc.data if end else None),
    "hasattr(end_task.data, 'nope')": shown(lambda: hasattr(end.data, "nope") if end else None),
    "start.data.seen5": shown(lambda: start.data.seen5),
    "start.data.cur_start": shown(lambda: start.data.cur_start),
    "start.artifacts names": shown(lambda: sorted(a.id for a in start.artifacts
                                                  if a.id != "doomed")),
    "'seen5' in start.artifacts": shown(lambda: "seen5" in [a.id for a in start.artifacts]),
    "Run(pathspec).end_task": shown(lambda: Run(run.pathspec).end_task is not None),
    "Step(pathspec).task.data.acc": shown(lambda: Step(run.pathspec + "/start").task.data.acc),
    "Task(pathspec).data.total": shown(lambda: Task(end.pathspec).data.total if end else None),
    "flow in Metaflow().flows": shown(lambda: flow.id in [f.id for f in Metaflow().flows]),
}
namespace("user:tester")
out["namespace user: runs"] = shown(lambda: len(list(Flow(sys.argv[1]).runs())))
namespace("nobody:here")
out["namespace nobody: latest_run"] = shown(lambda: Flow(sys.argv[1]).latest_run)
out["namespace nobody: runs"] = shown(lambda: len(list(Flow(sys.argv[1]).runs())))
print(json.dumps(out, sort_keys=True))
'''

# Pasted into the readers (needs ``json`` and, for ``card_views``, ``get_cards``): a card as
# its components' types and text, read from the data its page carries (base64 JSON on both
# systems), never the HTML around it.
CARD_VIEW = r'''
import base64 as _b64, html as _html, re as _re

def _words(text):
    # a component's text without markup: Markdown's marks, HTML's tags
    text = _html.unescape(_re.sub(r"<[^>]+>", " ", str(text)))
    return " ".join(_re.findall(r"[^\s#*_`|]+", text))

def _leaves(nodes, rows):
    # Metaflow's page carries its components as JSON: pages and sections hold the leaves
    for node in nodes if isinstance(nodes, list) else [nodes]:
        kind = node.get("type") if isinstance(node, dict) else None
        if kind in ("page", "section"):
            _leaves(node.get("contents", []), rows)
        elif kind == "markdown":
            rows.append(["markdown", _words(node.get("source"))])
        elif kind == "table":
            cells = list(node.get("columns") or []) + [c for r in node.get("data") or [] for c in r]
            rows.append(["table", [_words(c) for c in cells]])
        else:
            rows.append([str(kind)])
    return rows

def card_components(text):
    # A card's components in order, each [type, its text]: read from the JSON Metaflow's page
    # carries, or from headwater's rendered blocks (class hw-component)
    for blob in _re.findall(r'"([A-Za-z0-9+/]{16,}={0,2})"', text or ""):
        try:
            data = json.loads(_b64.b64decode(blob).decode("utf-8"))
        except Exception:
            continue
        if isinstance(data, dict) and "components" in data:
            return _leaves(data["components"], [])
    blocks = _re.split(r'<div class="hw-component">', text or "")[1:]
    if not blocks:
        # headwater's page of a card nothing was appended to has an empty <main>
        return [] if "<main>" in (text or "") else "<no components found>"
    rows = []
    for block in blocks:
        if 'class="hw-markdown"' in block:
            rows.append(["markdown", _words(block)])
        elif 'class="hw-table"' in block:
            cells = _re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", block, _re.S)
            rows.append(["table", [_words(c) for c in cells]])
        else:
            rows.append([_re.findall(r'class="([\w-]+)"', block)[:1]])
    return rows

def card_views(task):
    """A task's cards by type and id, a blank card's components, and get_cards by id/type."""
    try:
        cards = list(get_cards(task))
    except Exception as exc:  # a task without cards raises on both systems
        return type(exc).__name__
    views = []
    for card in cards:
        view = [card.type, card.id]
        if card.type == "blank":
            view.append(card_components(card.get()))
        views.append(view)
    out = {"cards": sorted(views, key=json.dumps)}
    for card_id in sorted(set(c.id for c in cards if c.id)):
        try:
            out["id " + card_id] = [c.type for c in get_cards(task, id=card_id)]
        except Exception as exc:
            out["id " + card_id] = type(exc).__name__
    try:
        out["type default"] = len(list(get_cards(task, type="default")))
    except Exception as exc:
        out["type default"] = type(exc).__name__
    return out
'''

# Run in each system's interpreter: the same run (or resume) through the Runner API.
RUNNER = r'''
import json, os, sys
from metaflow import Runner
command, kwargs = sys.argv[1], json.loads(sys.argv[2])
runner = Runner("flow.py", show_output=False)
try:
    result = getattr(runner, command)(**kwargs)
except Exception as exc:
    # the built-in class it is: headwater's own names subclass Metaflow's TypeError/ValueError
    print(json.dumps({"raised": next(k.__name__ for k in type(exc).__mro__
                                     if k.__module__ == "builtins")}))
    raise SystemExit(0)
run = result.run
out = {"status": result.status, "returncode": result.returncode,
       "run": None if run is None else [run.successful, run.pathspec.split("/")[0]],
       "stdout": result.stdout, "stderr": result.stderr}
runner.cleanup()
print(json.dumps(out))
'''

_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ ")
_PREFIX = re.compile(r"^\[[^\]]*\(pid \d+\)\] ")
# (``Project: P, Branch: B``: Metaflow's @project says it on every command, as it says which
# Metaflow executes; headwater says both at run and resume only. Sixth round, seeds 564, 565)
_BANNER = re.compile(r"^(Metaflow \S+ executing |Dumping (logs|output) of |"
                     r"(stdout|stderr)$|Project: \S+, Branch: \S+$)")
_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Failure|Interrupt)): ")


def runner_kwargs(args: list[str]) -> dict:
    """``["--alpha", "3", "--max-workers", "1"]`` as the Runner's ``alpha="3", max_workers=1``."""
    kwargs: dict = {}
    for name, value in zip(args[::2], args[1::2], strict=False):
        key = name.lstrip("-").replace("-", "_")
        if key == "tag":
            kwargs.setdefault("tags", []).append(value)  # ``--tag a --tag b``: tags=[a, b]
        elif key in ("max_workers", "max_num_splits", "alpha", "count", "fint", "req6", "n7"):
            kwargs[key] = int(value)  # both Runners check a parameter's type
        elif key in ("ratio", "r7", "ff7"):
            kwargs[key] = float(value)
        elif key in ("loud", "b7", "fb7"):
            kwargs[key] = value == "True"
        else:
            kwargs[key] = value
    return kwargs


def failure_lines(text: str) -> dict:
    """The last lines of a failed run, normalised: the failing steps the closing lines name
    (headwater: ``Run F/2 failed: F/2/body/3.``, Metaflow: ``Step body (task-id 3) failed.``;
    the wording is each system's own, see docs/decisions.md) and the last exception line a
    task printed (``RuntimeError: ...``) with ids and paths taken out."""
    steps: set[str] = set()
    errors: list[tuple[str | None, str]] = []  # (the step whose task printed it, the error)
    for raw in text.splitlines():
        line = _STAMP.sub("", raw)
        task = re.match(r"^\[[^/\]]+/(\w+)/", line)
        line = _PREFIX.sub("", line).strip()
        step = task.group(1) if task else None
        steps.update(re.findall(r"^Step (\w+) \(task-id \S+\) failed", line))
        closing = re.match(r"^Run \w+/\S+ failed: (.*)\.$", line)
        if closing:
            # the first task named is the run's first failure, the one Metaflow names; the
            # others failed while the run wound down, which is timing (eighth round, seed 2023)
            steps.update(part.split("/")[2] for part in closing.group(1).split(", ")[:1]
                         if part.count("/") >= 3)
        if _ERROR_LINE.match(line):
            errors.append((step, line))
        elif re.match(r"^<flow \w+ step [^>]*> failed:$", line):
            errors.append((step, "<framework error>"))  # Metaflow's report of a MetaflowException
        elif re.match(r"^Step \w+ \(task-id \S+\) failed: ", line):
            # Metaflow's scheduler refusing what a task asked for (a foreach wider than
            # --max-num-splits): its own error, after the task's lines (sixth round, seed 443)
            errors.append((None, "<framework error>"))
    # the last error a failed step's task printed: a task of another branch (a caught one, a
    # retry) may print its own after it while the run winds down (eighth round, seed 2001)
    error = next((e for s, e in reversed(errors) if s is None or s in steps), None)
    if error and "." in error.split(":", 1)[0]:
        # an error of the framework's own (a merge that cannot choose, ...): headwater prints
        # the traceback ending in its error and a fix line, Metaflow the exception's headline
        # under ``<flow F step S> failed:`` (kept, docs/decisions.md third round)
        error = "<framework error>"
    if error:
        error = re.sub(r"/\S+/", "/PATH/", error)
        error = re.sub(r"\b\d{6,}\b", "ID", error)
    return {"failed_steps": sorted(steps), "error": error}


def _lines(text: str) -> list[str]:
    """Printed lines without Metaflow's banners, nor a @catch report's traceback frames (each
    system's own; the data reader drops them from ``task.stdout`` too)."""
    lines = [line for line in text.splitlines() if not _BANNER.match(line)
             and not line.startswith((">    ", ">  Traceback"))]
    # a @timeout's report is each system's own wording, as the data reader reads it (fifth
    # round): Metaflow's timed line and the stack the timer found go, the exception's name
    # stays (sixth round, seed 577: the busiest step was a caught, timed-out one)
    return [">  TimeoutException" if "TimeoutException: " in line else line for line in lines
            if not line.startswith((">  >", ">  Stack when"))
            and not re.match(r"^(\d{4}-\d\d-\d\d [\d:.]+ )?Step \w+ timed out after", line)]


# The seventh round's values whose ``str`` is not their ``repr`` (a list of them prints its items'
# ``repr`` on both)
_STR_NOT_REPR = {"Decimal", "Fraction", "datetime", "date", "timedelta", "UUID", "PurePosixPath",
                 "Color"}


def parse_dump(text: str) -> list[str]:
    """``dump``'s rows as ``name type value``: Metaflow prints ``name [size: N type: <class
    'T'>] = value``, headwater a table ``name  module.T  N bytes  repr`` under each task's
    pathspec (its own layout, docs/decisions.md); sizes (each system's own encoding) and the
    quotes of a string go, long values are cut where both still agree."""
    rows = []
    for line in text.splitlines():
        # (an Enum's type prints as ``<enum 'Color'>``: eighth round, seed 2007)
        mf = re.match(r"^(\S+) \[size: \d+ type: <(?:class|enum) '([\w.]+)'>\] = (.*)$", line)
        hw = re.match(r"^\s+(\S+)\s+([\w.]+)\s+\d+ bytes(?:\s+(.*))?$", line)
        match = mf or hw
        if not match:
            continue
        name, kind, value = match.groups()
        if name == "notes":
            # the generator's IncludeFile: Metaflow stores its own ``IncludedFile`` (dump shows
            # its first line, or ``< artifact too large >`` for an empty file), headwater the
            # text; the client gives the text on both (third round; now checked before the
            # size, which made an empty file's row read as too large: fourth round)
            rows.append("notes (IncludeFile)")
            continue
        if name.startswith("ids_"):
            rows.append(f"{name} (task ids)")  # each system's own (fifth round)
            continue
        if name.startswith("err5_"):
            # what @catch caught: its text is each system's traceback, too large to print on
            # Metaflow after a timeout (whose stack it carries); present is what counts
            rows.append(f"{name} (caught)")
            continue
        if value is None or value == "< artifact too large >":
            # a value too large to print: headwater leaves the column empty, Metaflow says so;
            # the limit is 1000 bytes on both, of its own encoding: the row is compared (seeds4)
            rows.append(f"{name} (too large)")
            continue
        kind = kind.rsplit(".", 1)[-1]
        if kind == "CaughtException":
            # a @catch variable is headwater's record (kept: docs/decisions.md, mfdocs2)
            kind = "MetaflowExceptionWrapper"
        if kind == "ConfigValue":
            kind = "dict"  # a Config's value is each system's own mapping (second round)
        if name == "doomed":
            continue  # ``del`` of an inherited artifact (kept, second round)
        if kind in _STR_NOT_REPR:
            # Metaflow's dump prints a value's ``str``, headwater's its ``repr`` (``3.30`` and
            # ``Decimal('3.30')``); for these types the two differ (kept, seventh round)
            rows.append(f"{name} {kind} (str or repr)")
            continue
        if kind == "str" and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        rows.append(f"{name} {kind} {value[:40]}")
    return sorted(rows)


def probe(python: str, folder: Path, env: dict[str, str], surface: dict,
          resumed: bool) -> dict:
    """``logs`` and ``dump`` of the latest run, as a user types them, normalised."""
    raw = surface.get("raw") or {}
    run_id, tasks = raw.get("run"), raw.get("tasks", {})
    if not run_id:
        return {}
    foreach_task = None  # (step, task id) of the first task with foreach indices
    for step in sorted(tasks):
        for task_id, label in sorted(tasks[step], key=lambda pair: str(pair[1])):
            if foreach_task is None and label and "[null" not in label:
                foreach_task = (step, task_id, label)
    busiest = max(sorted(tasks), key=lambda s: len(tasks[s]))
    joins = sorted(s for s in tasks if s not in ("start", "end") and s in _join_steps(folder))
    out: dict = {}

    def call(*args: str) -> tuple[int, str, str]:
        done = subprocess.run([python, "flow.py", *args], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        return done.returncode, done.stdout, done.stderr

    def logs(key: str, *args: str) -> None:
        code, stdout, stderr = call("logs", *args)
        if resumed:  # a clone's logs: kept difference (first round), see the data reader
            out[key] = [code, "(resumed run)"]
        elif args[0] in ("--stdout", "--stderr"):
            # one stream asked for: both print it on stdout, a task's lines in the same order;
            # the tasks of a step come in ``step.tasks()`` order, timing on Metaflow (above)
            one_task = args[-1].count("/") == 2 or len(tasks.get(args[-1].split("/")[1], [])) < 2
            out[key] = [code, _lines(stdout) if one_task else sorted(_lines(stdout))]
        else:
            # both streams: headwater prints the tasks' stderr on stderr, Metaflow on stdout
            # under a ``stderr`` line (kept, docs/decisions.md second round); compare what
            # was printed, not where
            out[key] = [code, sorted(_lines(stdout) + _lines(stderr))]

    logs("logs start", f"{run_id}/start")
    logs("logs --stderr start", "--stderr", f"{run_id}/start")
    logs(f"logs --stdout {busiest}", "--stdout", f"{run_id}/{busiest}")
    if foreach_task:
        logs(f"logs {foreach_task[2]}", f"{run_id}/{foreach_task[0]}/{foreach_task[1]}")
    code, stdout, _ = call("dump", f"{run_id}/{busiest}")
    out[f"dump {busiest}"] = [code, parse_dump(stdout)]
    target = joins[0] if joins else "end"
    # the task of the join's first foreach index: which one a step lists first is each
    # system's own order (eighth round, seeds 2016, 2017: a join inside a nested foreach)
    task_id = sorted(tasks.get(target) or [[None, ""]], key=lambda pair: str(pair[1]))[0][0]
    code, stdout, _ = call("dump", f"{run_id}/{target}/{task_id}")
    out[f"dump {target}/task"] = [code, parse_dump(stdout)]
    return out


_CARD_FUNCTIONS: dict = {"json": json}
exec(CARD_VIEW, _CARD_FUNCTIONS)  # card_components, for ``card get``'s page (fourth round)


def _card_rows(text: str, run_id: str, raw: dict) -> list[str]:
    """``card list``'s text as ``task type id`` rows. Metaflow prints ``Step : s``/``Task: 3``
    (or ``Resolving card: F/R/s/3``) above ``Card Id:``/``Card Type:`` lines, and names a
    cloned task by its origin task; headwater one row a card, ``F/R/s/3  [0] blank id=c  PATH``
    under the clone's own pathspec (its own layout, docs/decisions.md). Both become the
    task's label in the latest run."""
    labels = {f"{run_id}/{step}/{task_id}": str(label)
              for step, pairs in raw.get("tasks", {}).items() for task_id, label in pairs}
    origins = raw.get("origins", {})

    def label(run: str | None, step: str | None, task: str | None) -> str:
        key = f"{run}/{step}/{task}"
        if key in labels or key in origins:
            return labels.get(key) or origins[key]
        ends = [v for k, v in origins.items() if k.endswith(f"/{step}/{task}")]
        return ends[0] if len(ends) == 1 else key

    rows, step, task, run, card_id = [], None, None, run_id, None
    for line in text.splitlines():
        line = line.strip()
        hw = re.match(r"^\w+/(\w+)/(\w+)/(\w+)\s+\[\d+\] (\S+)(?: id=(\S+))?\s", line + " ")
        if hw:
            rows.append(f"{label(*hw.group(1, 2, 3))} {hw.group(4)} {hw.group(5)}")
            continue
        found = re.match(r"^Resolving card(?: resumed from)?: \w+/(\w+)/(\w+)/(\w+)$", line)
        if found:
            run, step, task = found.groups()
        elif re.match(r"^Step ?: (\w+)$", line):
            run, step = None, line.split(":", 1)[1].strip()
        elif re.match(r"^Task ?: (\w+)$", line):
            task = line.split(":", 1)[1].strip()
        elif line.startswith("Card Id:"):
            card_id = line.split(":", 1)[1].strip()
        elif line.startswith("Card Type:"):
            kind = line.split(":", 1)[1].strip()
            rows.append(f"{label(run or run_id, step, task)} {kind} "
                        f"{None if card_id in (None, 'None') else card_id}")
        elif line.startswith("Card Path:") and rows:
            # the run's listing names a clone's card by its origin task id, under the clone's
            # step, with no heading saying so; the card's path names the origin run. A clone's
            # id in the new run may be another task's id in the origin (sixth round, seed 584)
            where = re.search(r"/runs/(\w+)/steps/(\w+)/tasks/(\w+)/", line)
            if where and where.group(1) != run_id and f"{where.group(1)}/{where.group(2)}/" \
                    f"{where.group(3)}" in origins:
                rows[-1] = " ".join([origins["/".join(where.groups())]] + rows[-1].split(" ")[-2:])
    return sorted(rows)


def card_probe(python: str, folder: Path, env: dict[str, str], surface: dict,
               card_ids: list[str], several: bool = False) -> dict:
    """``card list`` and ``card get`` of the latest run, as a user types them, normalised: which
    cards each lists (task, type, id), ``--as-json --file``'s document, a card's components
    by ``--id``, and the exit status where there is no card."""
    raw = surface.get("raw") or {}
    run_id, tasks = raw.get("run"), raw.get("tasks", {})
    if not run_id:
        return {}
    labels = {f"{run_id}/{step}/{task_id}": str(label)
              for step, pairs in tasks.items() for task_id, label in pairs}
    out: dict = {}

    def call(*args: str) -> tuple[int, str, str]:
        done = subprocess.run([python, "flow.py", "card", *args], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        return done.returncode, done.stdout, done.stderr

    code, stdout, stderr = call("list")
    out["card list"] = [code, _card_rows(stdout + stderr, run_id, raw)]
    end = tasks.get("end", [[None]])[0][0]
    if end:
        out["card get end (no card)"] = call("get", f"{run_id}/end/{end}")[0]
    for card_id in card_ids:
        step = card_id[2:]
        ran = sorted(tasks.get(step, []), key=lambda pair: str(pair[1]))
        if not ran:
            continue  # an arm of a switch that did not run
        task_id, label = ran[0]
        pathspec = f"{run_id}/{step}/{task_id}"
        code, stdout, stderr = call("list", pathspec)
        out[f"card list {label}"] = [code, _card_rows(stdout + stderr, run_id, raw)]
        target = folder / f"cards-{step}.json"
        code, _, _ = call("list", pathspec, "--as-json", "--file", str(target))
        document, blank_hash = None, None
        if target.exists():
            document = json.loads(target.read_text() or "null")
            for doc in document if isinstance(document, list) else [document]:
                if isinstance(doc, dict):
                    where = str(doc.get("pathspec", "")).split("/", 1)[-1]
                    doc["pathspec"] = labels.get(where) or raw.get("origins", {}).get(where)
                    for card in doc.get("cards", []):
                        if card.get("id") == card_id and blank_hash is None:
                            blank_hash = str(card.get("hash"))
                        card["hash"] = bool(card.get("hash"))
                        card["filename"] = re.sub(r"[0-9a-f]{32}", "H", str(card.get("filename")))
                    doc["cards"] = sorted(doc.get("cards", []), key=json.dumps)
        out[f"card list {label} --as-json --file"] = [code, document]
        code, stdout, _ = call("get", pathspec, "--id", card_id)
        out[f"card get {label} --id"] = [code, _CARD_FUNCTIONS["card_components"](stdout)]
        out[f"card get {label} --id nope"] = call("get", pathspec, "--id", "nope")[0]
        out[f"card get {label} --type blank"] = call("get", pathspec, "--type", "blank")[0]
        if not several:
            continue
        # (fifth round) ``card get`` with neither ``--id`` nor ``--type``; and by ``--hash``
        code, stdout, stderr = call("get", pathspec)
        count = re.search(r"Found (\d+) card|has (\d+) cards that match", stdout + stderr)
        if count and int(count.group(1) or count.group(2)) > 1:
            # several cards: Metaflow lists them and writes no page, headwater writes the first
            # and says how to choose one (kept, docs/decisions.md fourth round): compared are
            # the exit status and how many cards each says match
            out[f"card get {label}"] = [code, f"{count.group(1) or count.group(2)} match"]
        else:
            out[f"card get {label}"] = [code, _CARD_FUNCTIONS["card_components"](stdout)]
        if blank_hash:
            code, stdout, _ = call("get", pathspec, "--hash", blank_hash[:7])
            out[f"card get {label} --hash"] = [code, _CARD_FUNCTIONS["card_components"](stdout)]
    return out


def _tag_set(text: str) -> list[str]:
    """The tags a ``tag`` command printed: every word of its table (or ``--flat`` list) that
    is a tag, system tags by kind as the client reading normalises them."""
    words = set()
    for line in text.splitlines():
        if re.match(r"^(Metaflow \S+ executing|System tags|Operation|-+$|\s*$|Tags? )", line) \
                or _BANNER.match(line):
            continue
        words.update(line.split())
    kinds = ("user", "date", "python_version", "metaflow_version")
    return sorted({w.split(":", 1)[0] + ":*" if w.split(":", 1)[0] in kinds and
                   not w.startswith("user:someone") else w for w in words})


def tag_probe(python: str, folder: Path, env: dict[str, str], run_id: str) -> dict:
    """``tag add/remove/replace/list`` on a finished run, in the order a user might: the exit
    status and the tags each printed (normalised); the client reads the run after them."""
    out: dict = {}
    commands = [
        ["add", "--run-id", run_id, "t_one", "t_two", "t_three"],
        ["remove", "--run-id", run_id, "t_one"],
        ["remove", "--run-id", run_id, "t_never_there"],
        ["replace", "--run-id", run_id, "--remove", "t_two", "--add", "t_four"],
        ["add", "--run-id", run_id, "user:someone"],
        ["remove", "--run-id", run_id, "runtime:dev"],  # a system tag: not the user's to remove
        ["add", "--run-id", run_id, ""],
        # (no ``--run-id``: headwater acts on your latest run and says so, Metaflow refuses;
        # kept, docs/migrating.md)
        ["list", "--run-id", run_id],
        ["list", "--run-id", run_id, "--hide-system-tags"],
    ]
    for number, args in enumerate(commands):
        done = subprocess.run([python, "flow.py", "tag", *args], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        shown = " ".join(a if a != run_id else "R" for a in args)
        out[f"tag {number} {shown}"] = [done.returncode, None if done.returncode else
                                        _tag_set(done.stdout + done.stderr)]
    return out


def attempt_logs(python: str, folder: Path, env: dict[str, str], run_id: str) -> dict:
    """``logs --attempt N`` of the start step that failed its first attempt: each attempt's
    own output (the step prints its attempt number), and the latest's without the option."""
    out: dict = {}
    # (``--attempt`` of an attempt that never ran: Metaflow prints nothing and exits 0,
    # headwater refuses it; kept, docs/decisions.md fourth round)
    for option in ([], ["--attempt", "0"], ["--attempt", "1"]):
        done = subprocess.run([python, "flow.py", "logs", "--stdout", *option, f"{run_id}/start"],
                              cwd=folder, env=env, capture_output=True, text=True, timeout=300,
                              check=False)
        out[" ".join(["logs --stdout", *option, "start"])] = [done.returncode,
                                                              _lines(done.stdout)]
    return out


def _join_steps(folder: Path) -> set[str]:
    text = (folder / "flow.py").read_text()
    return set(re.findall(r"def (\w+)\(self, inputs\)", text))


def runner_view(done: dict) -> dict:
    """The Runner's result, its output reduced to the failure lines."""
    if "raised" in done:
        return done
    text = (done.pop("stdout", "") or "") + (done.pop("stderr", "") or "")
    if done.get("returncode"):
        done["failure"] = failure_lines(text)
    return done


def load(text: str) -> dict:
    lines = text.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}
