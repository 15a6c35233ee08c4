"""Random flows, run on headwater and on a real Metaflow, their results compared.

    python tools/differential.py --python PY --metaflow-python MFPY [--seeds 0-39] [--keep DIR]

Metaflow's own suites test the graphs their authors drew; this one draws graphs nobody drew.
Each seed makes one flow from a small grammar of the shapes a Metaflow flow can take (linear
steps, static branches and their joins, foreach fan-outs nested in each other, conditionals,
a step that loops on itself), with joins that read ``inputs`` by index, by name and by
iteration and call ``merge_artifacts`` with ``include``/``exclude``, a parameter, and now and
then a ``@catch``-ed failure, a ``@retry``-ed flaky step or a ``merge_artifacts`` that must
fail. The same file is run by both systems (headwater through its ``metaflow`` shim, so the
flow imports ``metaflow`` either way), each in a scratch folder of its own, and each system's
own client then reads every task of the run back. The two readings must agree: the exit status
of ``run``, whether the run succeeded, and for every step the multiset of its tasks' artifacts
(names and values; a caught exception counts as present or absent) and what it printed to
stdout and stderr, as the client returns it.

Seeds from 200 (``EXTRAS_FROM``) also draw, from a second random stream so that their graph is
the one the first grammar gives, the second round's features: parameters of every kind (str,
float, a ``type=bool`` given as a value, ``JSONType``, a ``separator``, a deploy-time function,
a ``config_expr`` default), a ``Config`` read from a JSON file, an ``IncludeFile``; values on
the command line; ``--max-workers 1`` and ``--max-num-splits``; foreach over a tuple, a range,
a string and a list of dicts; a conditional or a loop inside a foreach body; ``@timeout``,
``@environment`` (literal and from ``config_expr``), ``@card`` (the reader lists each task's
cards by type), ``del self.x``; and a failed run resumed from a named step or, after a second
failed run, with ``--origin-run-id`` naming the first.

Every seed also compares what a user sees beyond the data (``differential_surface.py``, the
third round): the client objects' properties and listings, ``logs`` and ``dump`` on the
command line, the last lines of a failed run, and for odd seeds (``--runner``) the Runner API's
run and resume with their result objects, instead of the CLI.

Seeds from 300 (``ROUND4_FROM``, the fourth round, from a third random stream) also draw
blank cards with ids and components (``Markdown``, ``Table``, ``extend``), a default card beside
them and ``current.card.append`` with no id, compared as each task's cards by type, id and
components' text (never HTML bytes) and as ``card list``/``card get`` say them; ``tag add``,
``remove``, ``replace`` and ``list`` on the finished run, each command's exit and tags, then the
client's ``tags``/``user_tags``/``system_tags``; and a start step that fails its first attempt
under ``@retry`` (cloned by a resume), with every retried task's ``current_attempt``,
``metadata_dict['attempt']``, ``Task(pathspec, attempt=N)`` and ``logs --attempt N``.

Seeds from 353 (``ROUND5_FROM``, the fifth round, from a fourth random stream) also draw
``merge_artifacts(include=[...])`` in foreach joins, nested ones included (the body's last steps
set what is included and what is not; now and then an include that must fail: a name nowhere,
or one the inputs disagree on); ``@retry``, ``@catch`` and ``@timeout`` stacked on one step
(flaky once, failing every attempt, or too slow for its timeout); parameters with deploy-time
functions of ``int`` and ``JSONType``, a JSON list, a ``config_expr`` default from a second
``Config`` with a ``default_value`` (given with ``--config-value`` now and then); ``current``'s
facts (``pathspec``, ``is_running_flow``, ``retry_count``, ``origin_run_id``, ``namespace``,
``parameter_names``, ``current.task``/``current.run``) in a few steps; a ``num_parallel``
fan-out with ``current.parallel``; ``resume STEP --origin-run-id``; the client's filters and
accessors (``Flow.runs(*tags)`` after the tag commands, ``latest_successful_run``,
``task.data``, ``task.artifacts``, ``run.end_task``, ``Run``/``Step``/``Task`` by pathspec,
``namespace``); and ``card get`` with neither ``--id`` nor ``--type`` and by ``--hash``.

Seeds from 561 (``ROUND6_FROM``, the sixth round, from a fifth random stream) also draw tags
given to ``run`` and ``resume`` (``--tag``, the Runner's ``tags=``) and what ``current.tags``
holds of them, the flow decorator ``@project`` (``current.project_name``, ``branch_name``,
``is_user_branch``, ``is_production``, ``project_flow_name`` and its system tags; ``--branch``
or ``--production`` on command-line seeds), ``@resources`` on a step or two, and a required
parameter given to every run.

Seeds from 1000 (``ROUND7_FROM``, the seventh round, from a sixth random stream; 1000 and not
the next seed so that the rounds' seeds stay apart, and ``tools/chaos.py``'s 600-999 are its
own) also draw values of the standard library's types (dates, times, decimals, fractions,
ordered dicts, counters, deques, sets, UUIDs, paths) and of a helper module ``diffshapes.py``
written beside the flow (a dataclass, a frozen one, a named tuple, an enum), which the reader
shows by ``repr`` (a set sorted); class-level constants, one changed in place by start, a
property and a helper method; parameters whose type comes from their default and deploy-time
functions of float, bool and str (``ctx.user_name``), now and then one of the wrong type that
both refuse; ``@retry`` over a ``@timeout`` that cuts the first attempt, or a step that fails
twice before it passes; and, before end, a static branch whose arms fan out (a foreach over
dates; a foreach of named tuples with a foreach of dataclasses nested in it), whose joins read
``inputs`` in order and ``foreach_stack()``, and merge with ``include``/``exclude`` (now and
then both at once, refused on both).

Seeds from 2000 (``ROUND8_FROM``, the eighth round, from a seventh random stream) also draw a
join under ``@catch`` that raises after its work (its artifacts set before the raise are kept
on both) or a join under ``@retry`` that fails its first attempt; a failed step moved into a
foreach's body and ``resume`` naming that body's first step, ahead of it; an artifact with a
200-character name and one whose name starts with ``_`` (left out of listings on both, read by
name); a line of 3,500 characters or more and 150 more lines printed by one step; and
``config_expr`` in a step decorator's number (``@timeout(seconds=config_expr('conf.x * 60'))``);
and ``@exit_hook`` with a success hook and an error hook (one named by a string), each of which
writes a line to a file beside the flow: what each run's hook wrote is compared.

The last line printed is ``differential: P agreed, K kept, D differed``; the exit status is 0
only when no seed differed. A *kept* seed differs only in a known behaviour of Metaflow's own,
named on its line (``_kept``: its join cannot merge its own ``@catch`` records). ``--keep DIR``
keeps each differing seed's flow and both readings.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import differential_surface as surface

FLOW_NAME = "DiffFlow"
EXTRAS_FROM = 200  # seeds from here on draw the second round's features too (docs/decisions.md)
ROUND4_FROM = 300  # and from here on the fourth round's: cards, tag commands, a retried start
ROUND5_FROM = 353  # and the fifth's: include merges, decorator stacks, current, client filters
ROUND6_FROM = 561  # and the sixth's: run tags, @project and its branches, a required parameter
ROUND7_FROM = 1000  # and the seventh's: stdlib and dataclass values, class constants, inferred
# and typed deploy-time parameters, @retry over a @timeout, a branch of nested foreaches
ROUND8_FROM = 2000  # and the eighth's: a caught join, resume inside a foreach, long names, an
# underscore artifact, long output, config_expr in a step decorator's numbers
# Artifacts whose values differ between the arms of a join: a valid merge leaves them out.
_VARYING = re.compile(r"\b((?:v|v_t|item|fs|at|first|n|by_index|items_seen|inputs_seen|err|count|route)_s\d+)\b")

# The latest run's id, read before a second run makes another one the latest.
LATEST_ID = r'''
import sys
from metaflow import Flow, namespace
namespace(None)
print(Flow(sys.argv[1]).latest_run.id)
'''

# Run in each system's interpreter from the run's folder: every task of the latest run, as JSON.
READER = r'''
import json, re, sys
from metaflow import Flow, namespace
namespace(None)
run = Flow(sys.argv[1]).latest_run
resumed = sys.argv[2] == "resumed"
cards = len(sys.argv) > 3 and sys.argv[3] == "cards"
retried = set(sys.argv[4].split(",")) if len(sys.argv) > 4 else set()  # steps with @retry
if cards:
    from metaflow.cards import get_cards
CARD_VIEW
def attempt_view(task):
    """A task's attempt as the client gives it, and each earlier attempt read by number."""
    from metaflow import Task
    def shown(fn):
        try:
            return fn()
        except Exception as exc:
            return "<raises %s>" % type(exc).__name__
    view = {"cloned": task.origin_pathspec is not None,
            "current_attempt": shown(lambda: task.current_attempt),
            "metadata attempt": shown(lambda: str(task.metadata_dict.get("attempt")))}
    last = task.current_attempt if isinstance(view["current_attempt"], int) else 0
    # (an attempt that never ran: Metaflow gives an empty Task, headwater raises NotFound;
    # kept, docs/decisions.md fourth round, so only the attempts made are read)
    for number in range(0, last + 1):
        one = shown(lambda: Task(task.pathspec, attempt=number))
        if isinstance(one, str):
            view["attempt %d" % number] = one
            continue
        view["attempt %d" % number] = {
            "current_attempt": shown(lambda: one.current_attempt),
            "successful": shown(lambda: one.successful),
            "finished": shown(lambda: one.finished),
            "artifacts": shown(lambda: sorted(a.id for a in one if not a.id.startswith("_")
                                              and a.id != "doomed")),
            "attempt_start": shown(lambda: one["attempt_start"].data if "attempt_start" in one
                                   else None)}
        if number < last:
            # a failed attempt's ``finished``: Metaflow's is False (its ``_task_ok``); headwater
            # says an attempt that ended is finished (kept, docs/decisions.md fourth round). Its
            # artifacts are its own on both (docs/decisions.md, "Each attempt keeps its own
            # artifacts").
            view["attempt %d" % number].pop("finished")
    return view

def plain(name, value):
    if name.startswith(("err_", "err5_")):
        return value is not None
    if hasattr(value, "keys") and hasattr(value, "__getitem__") and not isinstance(value, dict):
        # a Config's value is each system's own mapping type; what it holds is what counts
        value = {k: plain(k, value[k]) for k in value.keys()}
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        if isinstance(value, (set, frozenset)):
            # a set's repr follows its hashes, which differ between processes for strings
            return "%s%r" % (type(value).__name__, sorted(value, key=repr))
        if type(value).__module__.split(".")[0] in SHOWN:
            # (the seventh round's values: the standard library's types and the dataclasses,
            # named tuples and enums of the flow's helper module, each with a repr of its data)
            return repr(value)
        return "<%s>" % type(value).__name__

SHOWN = ("builtins", "datetime", "decimal", "fractions", "collections", "uuid", "pathlib",
         "diffshapes", "enum")

steps = {}
for step in run:
    rows = []
    for task in step:
        row = {}
        listed = list(task)
        if any(a.id.startswith("_") for a in listed):
            # a listing leaves out names starting with ``_`` (eighth round, fixed in headwater)
            row["(listed _)"] = sorted(a.id for a in listed if a.id.startswith("_"))
        for artifact in listed:
            name = artifact.id
            if name.startswith("_") or name == "name":
                continue
            if name.startswith("ids_"):
                row[name] = "(task ids)"  # each system's own; the join compares them (fifth round)
                continue
            if name == "doomed":
                # ``del self.doomed`` of an inherited artifact (after ``hasattr`` read it) drops it
                # on headwater; on Metaflow the next task gets it back from the parent's record
                # (and a ``del`` with no read before it is an AttributeError there). Kept
                # difference: docs/decisions.md, "Differential testing, second round".
                continue
            try:
                row[name] = plain(name, artifact.data)
            except Exception as exc:
                row[name] = "<unreadable %s>" % type(exc).__name__
        try:
            # (the eighth round's artifact whose name starts with ``_``: listings leave such
            # names out on both, so it is read by name)
            row["(_priv8)"] = plain("_priv8", task["_priv8"].data)
        except Exception:
            pass
        for stream in ("stdout", "stderr"):
            text = getattr(task, stream)
            if text and not text.endswith("\n"):
                text += "\n"  # Metaflow ends a last partial line; headwater keeps it as printed
            if "@catch caught" in text:
                # the traceback's frames are each system's own; what @catch says around them is not
                text = "".join(line for line in text.splitlines(keepends=True)
                               if not line.startswith((">    ", ">  Traceback")))
            if "TimeoutException" in text:
                # a @timeout's report is each system's own wording: Metaflow prints a timed
                # line and the stack the timer found (fifth round); the exception's name stays
                text = "".join(
                    ">  TimeoutException\n" if "TimeoutException: " in line else line
                    for line in text.splitlines(keepends=True)
                    if not line.startswith((">  >", ">  Stack when"))
                    and not re.match(r"^\d{4}-\d\d-\d\d [\d:.]+ Step \w+ timed out", line))
            if stream == "stderr" and not task.successful:
                text = "(failed)"  # a failure's report is each system's own wording
            if resumed:
                # Metaflow's clone has no logs; headwater's has the origin's. And which tasks are
                # clones is timing: the branches a failure cut short on one system and not the
                # other are run again by one resume and cloned by the other.
                text = "(resumed run)"
            row["(%s)" % stream] = text
        if cards:
            # what cards a task has: type, id and a blank card's components (type and text),
            # not their HTML, which is each system's own
            row["(cards)"] = card_views(task)
        if step.id in retried:
            row["(attempts)"] = attempt_view(task)
        rows.append(json.dumps(row, sort_keys=True))
    steps[step.id] = sorted(rows)
print(json.dumps({"successful": bool(run.successful), "finished": bool(run.finished),
                  "steps": steps}, sort_keys=True))
'''
READER = READER.replace("CARD_VIEW", surface.CARD_VIEW)


@dataclass
class _Step:
    name: str
    body: list[str]
    decorators: list[str] = field(default_factory=list)
    join: bool = False
    next_line: str | None = None  # None: goes to whatever follows its block


@dataclass
class _Block:
    entry: str
    exits: list[str]  # steps whose transition is the next block's entry


# Values of the built-in types a step may store, each deterministic in its repr.
_TYPED_VALUES = (
    "(1, 'two', 3.5, None)",
    "{'k': [1, 2], 'n': None, 'f': 0.25}",
    "b'\\x00bytes\\xff'",
    "frozenset({3, 1, 2})",
    "{'nested': {'t': (1, (2, 3))}}",
    "float('inf')",
    "complex(1, -2)",
    "'unicode \\u00e9\\u4e2d'",
    "list(range(self.alpha))",
    "current.step_name",
    "[current.flow_name, current.retry_count, current.is_running_flow]",
)


# Values of the standard library's types and of the helper module's, each with a repr of its
# data (the seventh round): a flow's ``diffshapes.py`` beside it, importable by the task and the
# reader alike.
_STDLIB_VALUES = (
    "datetime.datetime(2024, 2, 29, 23, 59, 58, 7)",
    "datetime.date(2024, 1, 2) + datetime.timedelta(days=self.alpha)",
    "datetime.timedelta(hours=self.alpha, seconds=-1)",
    "datetime.datetime(2024, 1, 2, 3, 4, tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))",
    "decimal.Decimal('1.10') * self.alpha",
    "fractions.Fraction(self.alpha, 3)",
    "collections.OrderedDict([('z', self.alpha), ('a', None)])",
    "collections.Counter('abracadabra')",
    "collections.defaultdict(list, {'k': [self.alpha]})",
    "collections.deque([1, 2, 3], maxlen=5)",
    "{self.alpha, 7, (3, 4)}",  # (no strings: their hashes, so a set's pickle, vary by process)
    "set()",
    "bytearray(b'ab\\x00')",
    "range(1, 10, self.alpha)",
    "uuid.UUID(int=self.alpha)",
    "pathlib.PurePosixPath('dir', 'f%d.txt' % self.alpha)",
    "Point(self.alpha, [1, 2])",
    "Pair(left='l', right=self.alpha)",
    "Color.GREEN",
    "Span(start=datetime.date(2024, 1, 1), days=self.alpha)",
    "[Point(k, []) for k in range(self.alpha)]",
    "{'when': datetime.date(2020, 5, 17), 'pts': (Point(0, [0]),), 'c': Color.BLUE}",
    "float('nan')",
    "-0.0",
    "2 ** 100",
)

_SHAPES = """import dataclasses
import datetime
import enum
import typing


@dataclasses.dataclass
class Point:
    x: int
    ys: list


@dataclasses.dataclass(frozen=True)
class Span:
    start: datetime.date
    days: int


class Pair(typing.NamedTuple):
    left: object
    right: object


class Color(enum.Enum):
    GREEN = 'green'
    BLUE = 2
"""


class _Generator:
    """Draws one flow from a seed. Every value a step stores depends only on the seed, the
    parameter and what the step read, so both systems must store the same values."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        # Seeds from EXTRAS_FROM also draw the second round's features, from an rng of their
        # own so that a seed's graph is the one it would have been without them.
        self.extra = random.Random(f"extras-{seed}") if seed >= EXTRAS_FROM else None
        self.files: dict[str, str] = {}  # written next to the flow (IncludeFile, Config)
        self.run_args: list[str] = []  # options of ``run`` beyond the parameter
        self.resume_args: list[str] = []  # ``resume``'s step, when one is named
        self.origin_check = False  # a second failed run, then ``resume --origin-run-id`` the first
        self.uses_cards = False  # the reader lists each task's cards
        # Seeds from ROUND4_FROM also draw the fourth round's features, from a third rng
        self.round4 = random.Random(f"round4-{seed}") if seed >= ROUND4_FROM else None
        self.card_ids: list[str] = []  # blank cards with an id: ``card get --id`` reads them
        self.tag_ops = False  # ``tag add/remove/replace/list`` on the finished run
        self.retry_start = False  # start fails its first attempt, @retry runs it again
        # Seeds from ROUND5_FROM also draw the fifth round's features, from a fourth rng
        self.round5 = random.Random(f"round5-{seed}") if seed >= ROUND5_FROM else None
        self.foreach_joins: list[tuple[str, str, list[str]]] = []  # join, body's first, exits
        self.top_args: list[str] = []  # options before the command (``--config-value``)
        self.parallel = False  # a ``num_parallel`` fan-out before end
        self.stacked: dict[str, str] = {}  # steps with @retry/@catch/@timeout stacked: kind
        # Seeds from ROUND6_FROM also draw the sixth round's features, from a fifth rng
        self.round6 = random.Random(f"round6-{seed}") if seed >= ROUND6_FROM else None
        self.resume_tags: list[str] = []  # ``resume --tag``
        self.required_args: list[str] = []  # a required parameter's value, for every ``run``
        self.project: str | None = None  # ``@project(name=...)``, with ``--branch`` now and then
        # Seeds from ROUND7_FROM also draw the seventh round's features, from a sixth rng
        self.round7 = random.Random(f"round7-{seed}") if seed >= ROUND7_FROM else None
        self.retried7: dict[str, str] = {}  # steps with @retry over a @timeout or twice: kind
        self.tail7 = False  # a static branch of nested foreaches before end
        # Seeds from ROUND8_FROM also draw the eighth round's features, from a seventh rng
        self.round8 = random.Random(f"round8-{seed}") if seed >= ROUND8_FROM else None
        self.caught8: list[str] = []  # joins under @catch that raise at their end
        self.exit_hook = False  # ``@exit_hook``: each run's hook writes a line to hook8.txt
        self._entry = "end"  # the first step after start
        self.steps: dict[str, _Step] = {}
        self.count = 0
        self.expect_failure = False
        self.fail_step: str | None = None  # fails on the first run, then the run is resumed

    def _new(self, body: list[str], *, join: bool = False) -> _Step:
        self.count += 1
        step = _Step(f"s{self.count}", body, join=join)
        self.steps[step.name] = step
        return step

    def _tick(self, step: _Step) -> list[str]:
        lines = [f"self.acc = self.acc + [{step.name!r}]",
                 f"self.v_{step.name} = len(self.acc) * self.alpha"]
        roll = self.rng.random()
        if roll < 0.3:
            lines.append(f"print({step.name!r}, self.v_{step.name}, 'caf\\u00e9')")
        elif roll < 0.4:
            lines.append(f"print('to stderr from', {step.name!r}, file=sys.stderr)")
        elif roll < 0.45:
            lines.append(f"print('no newline at the end of', {step.name!r}, end='')")
        if self.rng.random() < 0.3:
            lines.append(f"self.v_t_{step.name} = {self.rng.choice(_TYPED_VALUES)}")
        return lines

    # -- blocks ----------------------------------------------------------------------------

    def block(self, depth: int, in_foreach: bool) -> _Block:
        choices = ["linear", "linear", "branch", "foreach"]
        if depth < 3:
            choices += ["chain"]
        if depth >= 3:
            choices = ["linear"]
        if not in_foreach:
            choices += ["switch", "loop"]
        kind = self.rng.choice(choices)
        if in_foreach and depth < 3 and self.extra and self.extra.random() < 0.25:
            kind = self.extra.choice(("switch", "loop"))
        return getattr(self, f"_{kind}")(depth, in_foreach)

    def _linear(self, depth: int, in_foreach: bool) -> _Block:
        step = self._new([])
        step.body = self._tick(step)
        roll = self.rng.random()
        if roll < 0.08:
            step.decorators.append(f'@catch(var="err_{step.name}")')
            step.body.append(f"raise ValueError('boom in {step.name}')")
        elif roll < 0.16:
            step.decorators.append("@retry(times=1, minutes_between_retries=0)")
            step.body.insert(0, "if current.retry_count == 0:\n            raise RuntimeError('flaky')")
        if self.extra:
            self._linear_extras(step)
        return _Block(step.name, [step.name])

    def _linear_extras(self, step: _Step) -> None:
        roll = self.extra.random()
        if roll < 0.15:
            step.decorators.append("@timeout(seconds=120)")
        elif roll < 0.3:
            variables = f"{{'DIFF_E_{step.name}': 'env {step.name}'}}"
            step.decorators.append(f"@environment(vars={variables})")
            step.body.append(f"self.env_{step.name} = os.environ.get('DIFF_E_{step.name}')")
        elif roll < 0.4:
            step.decorators.append("@environment(vars=config_expr('conf.envs'))")
            step.body.append(f"self.cenv_{step.name} = os.environ.get('DIFF_C')")
        elif roll < 0.55:
            # an artifact set and deleted in the same step, and one inherited then deleted
            step.body += [f"self.tmp_{step.name} = 1", f"del self.tmp_{step.name}",
                          "if hasattr(self, 'doomed'):\n            del self.doomed"]
        elif roll < 0.7:
            self.uses_cards = True
            kind = self.extra.choice(("blank", "default"))
            step.decorators.append(f"@card(type={kind!r})")
            if kind == "blank":
                step.body.append(f"current.card.append(Markdown('# {step.name}'))")

    def _chain(self, depth: int, in_foreach: bool) -> _Block:
        first = self.block(depth + 1, in_foreach)
        second = self.block(depth + 1, in_foreach)
        self._connect(first, second.entry)
        return _Block(first.entry, second.exits)

    def _branch(self, depth: int, in_foreach: bool) -> _Block:
        split = self._new([])
        split.body = self._tick(split)
        arms = [self.block(depth + 1, in_foreach) for _ in range(self.rng.choice((2, 2, 3)))]
        join = self._new([], join=True)
        ends = [arm.exits[0] for arm in arms if len(arm.exits) == 1]
        body = ["self.acc = sorted(x for inp in inputs for x in inp.acc)"]
        if ends:
            body.append(f"self.first_{join.name} = inputs.{ends[0]}.acc[-1]")
        body.append(f"self.n_{join.name} = sum(1 for _ in inputs)")
        body += self._merge(join, must_fail_possible=False)
        body.append(f"self.v_{join.name} = len(self.acc) * self.alpha")
        join.body = body
        for arm in arms:
            self._connect(arm, join.name)
        split.next_line = "self.next(" + ", ".join(f"self.{a.entry}" for a in arms) + ")"
        return _Block(split.name, [join.name])

    def _foreach(self, depth: int, in_foreach: bool) -> _Block:
        split = self._new([])
        size = self.rng.choice((0, 1, 2, 3, 3, 4)) if self.rng.random() < 0.1 else \
            self.rng.choice((1, 2, 3, 3, 4))
        items = f"items_{split.name}"
        tick = self._tick(split)  # drawn before the offset, as it always was
        offset = self.rng.randint(0, 9)
        expression = f"[self.alpha * k + {offset} for k in range({size})]"
        if self.extra:
            expression = self.extra.choice((
                expression,
                f"tuple(self.alpha * k + {offset} for k in range({size}))",
                f"range({offset}, {offset} + {size} * self.alpha, self.alpha)",
                f"'abcdefghij'[{offset % 4}:{offset % 4 + size}]",
                f"[{{'k': k, 'p': self.label}} for k in range({size})]"))
        split.body = tick + [f"self.{items} = {expression}"]
        body = self.block(depth + 1, True)
        first = self.steps[body.entry]
        first.body = [f"self.item_{first.name} = self.input",
                      f"self.fs_{first.name} = self.foreach_stack()",
                      f"self.at_{first.name} = self.index", *first.body]
        join = self._new([], join=True)
        jbody = ["self.acc = sorted(x for inp in inputs for x in inp.acc)",
                 f"self.items_seen_{join.name} = sorted(str(getattr(inp, 'item_{first.name}', None))"
                 " for inp in inputs)",
                 f"self.n_{join.name} = sum(1 for _ in inputs)"]
        if len(body.exits) == 1:
            # A foreach join's inputs come in the order of the items (a static join's order is
            # not part of Metaflow's contract: it follows a set of step names). Where a switch
            # ends the body, Metaflow groups them by the arm that reached the join, arms in
            # that same set order; headwater keeps item order (decisions.md, second round).
            jbody.append(
                f"self.by_index_{join.name} = [str(getattr(inputs[0], 'item_{first.name}', None)),"
                f" str(getattr(inputs[-1], 'item_{first.name}', None)), inputs[0].index]")
        if body.exits == [body.entry]:
            # ``inp.input`` where the item's task is the join's parent. Further down the body
            # Metaflow finds the item again only while the foreach's list is still an artifact
            # of that task (else None); headwater always does (docs/decisions.md).
            jbody.append(f"self.inputs_seen_{join.name} = [str(inp.input) for inp in inputs]")
        jbody += self._merge(join, must_fail_possible=size >= 2)
        join.body = jbody
        self.foreach_joins.append((join.name, first.name, list(body.exits)))
        self._connect(body, join.name)
        split.next_line = f"self.next(self.{first.name}, foreach={items!r})"
        return _Block(split.name, [join.name])

    def _merge(self, join: _Step, must_fail_possible: bool) -> list[str]:
        """A join's merge_artifacts: none, one that leaves out what the arms set (valid), or
        now and then one that must fail because the arms disagree and nothing excludes it."""
        roll = self.rng.random()
        if roll < 0.4:
            return []
        if roll < 0.9 or not must_fail_possible:
            return ["self.merge_artifacts(inputs, exclude=__EXCLUDE__)"]
        self.expect_failure = True
        return ["self.merge_artifacts(inputs)"]

    def _switch(self, depth: int, in_foreach: bool) -> _Block:
        switch = self._new([])
        route = f"route_{switch.name}"
        arms = [self._new([]) for _ in range(2)]
        for arm in arms:
            arm.body = self._tick(arm)
        switch.body = self._tick(switch) + [
            f"self.{route} = 'a' if (self.alpha + len(self.acc)) % 2 else 'b'"]
        switch.next_line = (f"self.next({{'a': self.{arms[0].name}, 'b': self.{arms[1].name}}},"
                            f" condition={route!r})")
        return _Block(switch.name, [arm.name for arm in arms])

    def _loop(self, depth: int, in_foreach: bool) -> _Block:
        head = self._new([])
        head.body = self._tick(head) + [f"self.count_{head.name} = 0"]
        loop = self._new([])
        counter = f"count_{loop.name}"
        loop.body = [f"self.{counter} = getattr(self, {counter!r}, 0) + 1",
                     f"self.acc = self.acc + ['{loop.name}:%d' % self.{counter}]",
                     f"self.route_{loop.name} = 'again' if self.{counter} < {self.rng.randint(1, 3)}"
                     " else 'done'"]
        after = self._new([])
        after.body = self._tick(after)
        head.next_line = f"self.next(self.{loop.name})"
        loop.next_line = (f"self.next({{'again': self.{loop.name}, 'done': self.{after.name}}},"
                          f" condition='route_{loop.name}')")
        return _Block(head.name, [after.name])

    def _connect(self, block: _Block, target: str) -> None:
        for name in block.exits:
            self.steps[name].next_line = f"self.next(self.{target})"

    # -- the second round's features (seeds from EXTRAS_FROM) --------------------------------

    def _extras(self, lines: list[str], entry: str) -> list[str]:
        """Parameters of every kind, a Config from a JSON file, an IncludeFile, the run options
        and how a failed run is resumed: drawn from ``self.extra`` only."""
        rng = self.extra
        assert rng is not None
        lines[3] = ("from metaflow import FlowSpec, Parameter, step, catch, retry, current, "
                    "JSONType, IncludeFile, Config, config_expr, timeout, environment, card")
        lines[4] = "from metaflow.cards import Markdown"
        conf = {"x": rng.randint(1, 9), "name": rng.choice(("cfg", "caf\u00e9")),
                "envs": {"DIFF_C": "from config"}, "nested": {"l": [1, 2.5, None]}}
        self.files["conf.json"] = json.dumps(conf)
        self.files["notes.txt"] = rng.choice(("plain notes\n", "two\nlines \u00e9", ""))
        params = [
            "    label = Parameter('label', default='lbl', help='a string')",
            "    ratio = Parameter('ratio', default=0.5, type=float)",
            "    loud = Parameter('loud', default=False, type=bool, help='a flag')",
            "    shape = Parameter('shape', default='{\"a\": [1, 2]}', type=JSONType)",
            "    names = Parameter('names', default='p,q', separator=',')",
            "    made = Parameter('made', default=lambda ctx: '%s/%s' % (ctx.flow_name,"
            " ctx.parameter_name))",
            "    count = Parameter('count', default=config_expr('conf.x'), type=int)",
            "    notes = IncludeFile('notes', default='notes.txt')",
            "    conf = Config('conf', default='conf.json')",
        ]
        start = ["        self.seen = [self.label, self.ratio, self.loud, self.shape,"
                 " list(self.names), self.made, self.count, self.notes]",
                 "        self.conf_x = self.conf.x",
                 "        self.conf_name = self.conf['name']",
                 "        self.conf_nested = self.conf.nested.l",
                 "        self.doomed = 'gone later, maybe'"]
        at = lines.index("    @step")
        lines = lines[:at] + params + [""] + lines[at:]
        at = lines.index("        self.acc = ['start']") + 1
        lines = lines[:at] + start + lines[at:]
        # command-line values, some of them
        choices = [["--label", "from cli"], ["--ratio", "2.25"], ["--loud", "True"],
                   ["--loud", "no"],
                   ["--shape", '{"b": {"c": null}, "d": [true]}'], ["--names", "x,y,,z"],
                   ["--made", "given"], ["--count", "7"], ["--notes", "notes.txt"]]
        for option in rng.sample(choices, rng.randint(0, 4)):
            self.run_args += option
        if rng.random() < 0.3:
            self.run_args += ["--max-workers", "1"]
        if rng.random() < 0.3:
            self.run_args += ["--max-num-splits", str(rng.choice((3, 100)))]
        if self.fail_step:
            roll = rng.random()
            if roll < 0.3:
                self.resume_args = [entry]  # a step ahead of the failed one, not the failed one
            elif roll < 0.6:
                self.origin_check = True
        return lines

    # -- the fourth round's features (seeds from ROUND4_FROM) ----------------------------------

    def _round4(self, lines: list[str]) -> list[str]:
        """Cards with components and ids, tag commands after the run, and a start step that
        fails its first attempt (a resume clones it): drawn from ``self.round4`` only."""
        rng = self.round4
        assert rng is not None
        lines[4] = "from metaflow.cards import Markdown, Table"
        candidates = [s for s in self.steps.values()
                      if not s.join and not any(d.startswith("@card") for d in s.decorators)]
        if candidates and rng.random() < 0.7:
            for step in rng.sample(candidates, min(len(candidates), rng.choice((1, 1, 2)))):
                self._card(step, rng)
        for step in self.steps.values():
            if any(d.startswith("@retry") for d in step.decorators):
                step.body.append(f"self.attempt_{step.name} = current.retry_count")
        self.tag_ops = rng.random() < 0.7
        self.retry_start = rng.random() < 0.6
        if self.retry_start:
            at = lines.index("    def start(self):")
            lines = lines[:at - 1] + ["    @retry(times=1, minutes_between_retries=0)"] + \
                lines[at - 1:at + 1] + [
                    "        print('start attempt', current.retry_count)",
                    "        if current.retry_count == 0:",
                    "            raise RuntimeError('flaky start')",
                    "        self.attempt_start = current.retry_count"] + lines[at + 1:]
        return lines

    def retried(self) -> list[str]:
        """The steps with ``@retry`` (start, when it is the retried one)."""
        names = [s.name for s in self.steps.values()
                 if any(d.startswith("@retry") for d in s.decorators)]
        return names + ["start"] * self.retry_start

    def _card(self, step: _Step, rng: random.Random) -> None:
        """A blank card with an id and components whose text names the step; sometimes a
        default card beside it, and ``current.card.append`` with no id (which card takes it
        is the rule being compared)."""
        self.uses_cards = True
        card_id = f"c_{step.name}"
        self.card_ids.append(card_id)
        step.decorators.append(f"@card(type='blank', id={card_id!r})")
        ref = f"current.card[{card_id!r}]"
        body = [f"{ref}.append(Markdown('# md_{step.name} %d' % self.alpha))"]
        roll = rng.random()
        if roll < 0.4:
            body.append(f"{ref}.append(Table([['cell_{step.name}', self.alpha]],"
                        f" headers=['h_{step.name}']))")
        elif roll < 0.6:
            body.append(f"{ref}.extend([Markdown('one_{step.name}'), Markdown('two_{step.name}')])")
        if rng.random() < 0.35:
            step.decorators.append("@card")
        if rng.random() < 0.3:
            body.append(f"current.card.append(Markdown('no id {step.name}'))")
        step.body += body

    # -- the fifth round's features (seeds from ROUND5_FROM) -----------------------------------

    def _parallel_block(self, body: _Block) -> None:
        """Now and then a ``num_parallel`` fan-out before end. Drawn after the failing step was
        chosen, and its bodies written out (``_tick`` draws from the first rng), so that the
        rest of the seed is what it was."""
        rng = self.round5
        assert rng is not None
        if rng.random() >= 0.15:
            return
        self.parallel = True
        split = self._new(["self.acc = self.acc + ['par']"])
        node = self._new([])
        node.decorators.append("@parallel")
        # (nothing printed: Metaflow's local run puts every node's output in node 0's log)
        node.body = [f"self.par_{node.name} = [current.parallel.num_nodes,"
                     f" current.parallel.node_index, self.input]",
                     f"self.ids_{node.name} = [current.task_id, current.parallel.control_task_id]"]
        join = self._new([], join=True)
        join.body = ["self.acc = sorted(x for inp in inputs for x in inp.acc)",
                     f"self.pars_{join.name} = sorted(inp.par_{node.name} for inp in inputs)",
                     # every node names node 0's task as the control task
                     f"self.control_{join.name} = sorted(set(inp.ids_{node.name}[1] == [i for i"
                     f" in inputs if i.par_{node.name}[1] == 0][0].ids_{node.name}[0]"
                     " for inp in inputs))"]
        self._connect(body, split.name)
        split.next_line = f"self.next(self.{node.name}, num_parallel={rng.choice((1, 2, 3))})"
        node.next_line = f"self.next(self.{join.name})"

    def _round5(self, lines: list[str]) -> list[str]:
        """``merge_artifacts(include=...)`` in foreach joins, ``@retry``/``@catch``/``@timeout``
        stacked on one step, more parameter kinds and a ``Config`` with a default value (given
        on the command line now and then), ``current``'s facts, and ``resume`` of a named step
        from a named origin run: drawn from ``self.round5`` only."""
        rng = self.round5
        assert rng is not None
        lines[3] = lines[3] + ", parallel"
        lines.insert(2, "import json")
        lines.insert(3, "import time")
        for join_name, first, exits in self.foreach_joins:
            join = self.steps[join_name]
            excluding = "self.merge_artifacts(inputs, exclude=__EXCLUDE__)"
            if excluding not in join.body and any("merge_artifacts" in b for b in join.body):
                continue  # a merge that must fail stays as it is
            if excluding not in join.body and rng.random() < 0.6:
                continue
            if excluding in join.body and rng.random() < 0.3:
                continue
            for name in exits:  # (first: a step that raises later still sets them)
                self.steps[name].body[:0] = [f"self.same_{join_name} = 'same %d' % self.alpha",
                                             f"self.own_{join_name} = 'own'"]
            include = [f"same_{join_name}", "acc"]  # (``acc``: set in the join already)
            roll = rng.random()
            if roll < 0.08:
                include.append(f"never_{join_name}")  # nowhere: must fail on both
                self.expect_failure = True
            elif roll < 0.16:
                include.append(f"item_{first}")  # differs between inputs: must fail on both
                self.expect_failure = True
            merge = f"self.merge_artifacts(inputs, include={include!r})"
            if excluding in join.body:
                join.body[join.body.index(excluding)] = merge
            else:
                join.body.append(merge)
            join.body.append(f"self.merged_{join_name} = [getattr(self, n, '<absent>') for n in"
                             f" ('same_{join_name}', 'own_{join_name}', 'alpha')]")
        plain = [s for s in self.steps.values() if not s.join and not s.decorators
                 and s.name != self.fail_step and s.next_line is not None
                 and "condition=" not in s.next_line and "foreach=" not in s.next_line
                 and "num_parallel" not in s.next_line]
        for step in rng.sample(plain, min(len(plain), rng.choice((0, 1, 1, 2)))):
            self._stack(step, rng)
        for step in rng.sample(list(self.steps.values()), min(len(self.steps), 2)):
            if not any(d.startswith("@parallel") for d in step.decorators):
                step.body.append(f"self.cur_{step.name} = " + _CURRENT)
        # parameters: deploy-time functions of several types, a JSON list, a second Config
        at = next(k for k, line in enumerate(lines) if line.startswith("    alpha = ")) + 1
        lines = lines[:at] + [
            "    fint = Parameter('fint', type=int, default=lambda ctx: len(ctx.flow_name) + 1)",
            "    jfun = Parameter('jfun', type=JSONType,"
            " default=lambda ctx: json.dumps({'p': ctx.parameter_name, 'n': [1, None]}))",
            "    jlist = Parameter('jlist', type=JSONType, default='[1, \"two\", null, 2.5]')",
            "    fconf = Parameter('fconf', default=config_expr('conf2.word'))",
            "    conf2 = Config('conf2', default_value={'word': 'w5', 'n': 2,"
            " 'deep': {'k': [1, {'z': None}]}})"] + lines[at:]
        at = lines.index("        self.acc = ['start']") + 1
        lines = lines[:at] + [
            "        self.seen5 = [self.fint, self.jfun, self.jlist, self.fconf, self.conf2.word,"
            " self.conf2['n'], self.conf2.deep.k[1], self.conf2.to_dict()]",
            "        self.cur_start = " + _CURRENT] + lines[at:]
        for option in rng.sample([["--fint", "9"], ["--jfun", '{"given": [true, 2]}'],
                                  ["--jlist", "[]"], ["--fconf", "cli"]], rng.randint(0, 2)):
            self.run_args += option
        if not self.fail_step and rng.random() < 0.3:
            # (before the command, on the command line only: a Runner seed runs without it)
            self.top_args = ["--config-value", "conf2",
                             '{"word": "from cli", "n": 1, "deep": {"k": [0, {"z": 3}]}}']
        if self.fail_step and self.origin_check and rng.random() < 0.5:
            # resume a named step (the first after start) from the named origin run
            self.resume_args = [self._entry]
        return lines

    def _stack(self, step: _Step, rng: random.Random) -> None:
        """``@retry``, ``@catch`` and ``@timeout`` on one step, in the orders users write them:
        flaky once then fine; failing every attempt (caught after the retry); or too slow."""
        var = f"err5_{step.name}"
        kind = rng.choice(("flaky", "always", "slow", "flaky"))
        step.body.append(f"self.tries_{step.name} = current.retry_count")
        step.body.append(f"print('attempt', current.retry_count, 'of', {step.name!r})")
        if kind == "flaky":
            step.decorators += [f"@catch(var={var!r})", "@retry(times=1, minutes_between_retries=0)",
                                "@timeout(seconds=120)"]
            step.body.append("if current.retry_count == 0:\n            raise KeyError('once')")
        elif kind == "always":
            decorators = [f"@catch(var={var!r}, print_exception={rng.random() < 0.7})",
                          "@retry(times=1, minutes_between_retries=0)", "@timeout(minutes=2)"]
            rng.shuffle(decorators)
            step.decorators += decorators
            step.body.append(f"raise ValueError('always in {step.name}')")
        else:
            step.decorators += [f"@catch(var={var!r})", "@timeout(seconds=2)"]
            step.body.append("time.sleep(60)")
        self.stacked[step.name] = kind

    # -- the sixth round's features (seeds from ROUND6_FROM) -----------------------------------

    def _round6(self, lines: list[str]) -> list[str]:
        """Tags given to ``run`` and ``resume`` (``--tag``; the Runner's ``tags=``), the flow
        decorator ``@project`` (its ``current`` facts and system tags; ``--branch`` or
        ``--production`` on command-line seeds), ``@resources`` on a step, and a required
        parameter: drawn from ``self.round6`` only."""
        rng = self.round6
        assert rng is not None
        lines[lines.index("from metaflow.cards import Markdown, Table")] = \
            "from metaflow.cards import Markdown, Table\nfrom metaflow import project, resources"
        for tag in rng.sample(["t6_a", "t6-b.c", "t6 spaced", "t6_\u00e9"], rng.randint(0, 2)):
            self.run_args += ["--tag", tag]
        if self.fail_step and rng.random() < 0.5:
            self.resume_tags = ["t6_resumed"]
        at = next(k for k, line in enumerate(lines) if line.startswith("    alpha = ")) + 1
        lines = lines[:at] + ["    req6 = Parameter('req6', required=True, type=int)"] + lines[at:]
        self.required_args = ["--req6", str(rng.randint(1, 9))]
        self.run_args += self.required_args
        # what the run's tags are, from inside (Metaflow: user and system tags alike)
        tags_line = "self.ctags = sorted(t for t in current.tags if t.startswith('t6'))"
        at = lines.index("        self.acc = ['start']") + 1
        lines = lines[:at] + ["        self.req_seen = self.req6", "        " + tags_line] + \
            lines[at:]
        if rng.random() < 0.6:
            self.project = rng.choice(("diffproj", "diff_proj6"))
            at = lines.index(f"class {FLOW_NAME}(FlowSpec):")
            lines.insert(at, f"@project(name={self.project!r})")
            facts = ("[current.project_name, current.branch_name, current.is_user_branch,"
                     " current.is_production, current.project_flow_name]")
            at = lines.index("        self.acc = ['start']") + 1
            lines.insert(at, "        self.proj = " + facts)
            for step in rng.sample(list(self.steps.values()), min(len(self.steps), 1)):
                step.body.append(f"self.proj_{step.name} = " + facts)
            if rng.random() < 0.5:
                # (before the command, on the command line only: a Runner seed runs without)
                self.top_args += rng.choice((["--branch", "b6"], ["--production"]))
        for step in rng.sample(list(self.steps.values()), min(len(self.steps), rng.randint(0, 2))):
            if not any(d.startswith(("@parallel", "@resources")) for d in step.decorators):
                step.decorators.insert(0, rng.choice(("@resources(cpu=1, memory=512)",
                                                      "@resources(memory=1024, gpu=0)")))
        return lines

    # -- the seventh round's features (seeds from ROUND7_FROM) ---------------------------------

    def _tail_block(self) -> None:
        """Now and then, before end, a static branch whose arms fan out: one arm a foreach over
        dates, the other a foreach with a foreach nested in it over dataclass values; their
        joins read ``inputs`` in order and merge with ``include``/``exclude``, the branch's
        join merges what each arm kept. Drawn from ``self.round7`` only, after the rest of the
        graph, so that a seed's earlier features are what they were."""
        rng = self.round7
        assert rng is not None
        if rng.random() >= 0.35:
            return
        self.tail7 = True
        ends = [s for s in self.steps.values() if s.next_line in (None, "self.next(self.end)")]
        split = self._new(["self.acc = self.acc + ['t7']", "self.mark7 = Color.BLUE"])
        days = rng.choice((1, 2, 3))
        arm_a = self._new([f"self.days7 = [datetime.date(2024, 2, 27) + datetime.timedelta(days=d)"
                           f" for d in range({days})]"])
        body_a = self._new(["self.day7 = self.input", "self.wd7 = self.input.weekday()",
                            "self.stack7a = [(i, n, str(v))"
                            " for i, n, v in self.foreach_stack()]"])
        join_a = self._new([], join=True)
        join_a.body = ["self.acc = sorted(x for inp in inputs for x in inp.acc)",
                       # a foreach join's inputs come in the order of the items on both
                       "self.order7a = [str(inp.day7) for inp in inputs]",
                       "self.wds7 = [inp.wd7 for inp in inputs]"]
        if rng.random() < 0.5:
            join_a.body.append("self.merge_artifacts(inputs, exclude=['day7', 'wd7', 'stack7a'])")
        outer, inner = rng.choice((1, 2, 3)), rng.choice((1, 2))
        arm_b = self._new([f"self.outer7 = [Pair(left=k, right='r%d' % k) for k in range({outer})]"])
        mid_b = self._new(["self.o7 = self.input",
                           f"self.inner7 = [Point(self.input.left, [k]) for k in range({inner})]"])
        in_b = self._new(["self.pt7 = self.input",
                          "self.stack7b = [(i, n, str(v))"
                          " for i, n, v in self.foreach_stack()]"])
        in_join = self._new([], join=True)
        in_join.body = ["self.acc = sorted(x for inp in inputs for x in inp.acc)",
                        "self.pts7 = [inp.pt7 for inp in inputs]",
                        "self.stacks7 = [inp.stack7b for inp in inputs]",
                        # the outer item is the same for every inner input: it merges
                        "self.merge_artifacts(inputs, include=['o7'])"]
        out_join = self._new([], join=True)
        out_join.body = ["self.acc = sorted(x for inp in inputs for x in inp.acc)",
                         "self.grid7 = [(inp.o7, inp.pts7) for inp in inputs]",
                         # (not ``inp.input``: these inputs are joins, where Metaflow finds
                         # no item, headwater the outer one; kept, first round)
                         "self.inputs7 = [inp.o7 for inp in inputs]"]
        join = self._new([], join=True)
        join.body = ["self.acc = sorted(x for inp in inputs for x in inp.acc)",
                     f"self.seen7 = [inputs.{join_a.name}.wds7, inputs.{out_join.name}.grid7]",
                     "self.nin7 = sum(1 for _ in inputs)"]  # (len(inputs): kept, first round)
        roll = rng.random()
        if roll < 0.06:
            # include and exclude at once: refused on both
            self.expect_failure = True
            join.body.append("self.merge_artifacts(inputs, include=['mark7'], exclude=['nin7'])")
        elif roll < 0.5:
            join.body.append("self.merge_artifacts(inputs, exclude=['order7a'])")
        else:
            join.body.append("self.merge_artifacts(inputs)")
        join.body.append("self.merged7 = [getattr(self, n, '<absent>') for n in"
                         " ('order7a', 'wds7', 'grid7', 'inputs7', 'mark7', 'days7')]")
        for step in ends:
            step.next_line = f"self.next(self.{split.name})"
        split.next_line = f"self.next(self.{arm_a.name}, self.{arm_b.name})"
        arm_a.next_line = f"self.next(self.{body_a.name}, foreach='days7')"
        body_a.next_line = f"self.next(self.{join_a.name})"
        join_a.next_line = f"self.next(self.{join.name})"
        arm_b.next_line = f"self.next(self.{mid_b.name}, foreach='outer7')"
        mid_b.next_line = f"self.next(self.{in_b.name}, foreach='inner7')"
        in_b.next_line = f"self.next(self.{in_join.name})"
        in_join.next_line = f"self.next(self.{out_join.name})"
        out_join.next_line = f"self.next(self.{join.name})"

    def _round7(self, lines: list[str]) -> list[str]:
        """Values of the standard library's types and of a helper module's dataclasses, named
        tuples and enums; class-level constants, a property and a helper method; parameters
        whose type is inferred from their default and deploy-time functions of float, bool and
        str (now and then one of the wrong type: refused on both); ``@retry`` over a
        ``@timeout`` that cuts the first attempt, or a step that fails twice before it passes:
        drawn from ``self.round7`` only."""
        rng = self.round7
        assert rng is not None
        self.files["diffshapes.py"] = _SHAPES
        lines.insert(0, "import collections\nimport datetime\nimport decimal\nimport fractions\n"
                        "import pathlib\nimport uuid\n\nfrom diffshapes import Color, Pair, Point,"
                        " Span")
        at = next(k for k, line in enumerate(lines) if line.startswith("    alpha = ")) + 1
        params = ["    n7 = Parameter('n7', default=3)", "    r7 = Parameter('r7', default=0.5)",
                  "    b7 = Parameter('b7', default=False)",
                  "    ff7 = Parameter('ff7', type=float, default=lambda ctx: 1.5)",
                  "    fb7 = Parameter('fb7', type=bool, default=lambda ctx: ctx.parameter_name"
                  " == 'fb7')",
                  "    fs7 = Parameter('fs7', default=lambda ctx: 'u-%s-%s' % (ctx.user_name,"
                  " ctx.flow_name))"]
        if rng.random() < 0.05:
            # a deploy-time function of the wrong type: refused before the run on both
            self.expect_failure = True
            params.append("    bad7 = Parameter('bad7', type=float, default=lambda ctx: 2)")
        constants = ["    LIMIT7 = 3", "    PAIRS7 = (('a', 1), ('b', 2))",
                     "    SETTINGS7 = {'k': [1]}", "",
                     "    @property", "    def doubled7(self):", "        return self.LIMIT7 * 2",
                     "", "    def helper7(self, k):", "        return [k] * self.LIMIT7", ""]
        lines = lines[:at] + params + [""] + constants + lines[at:]
        at = lines.index("        self.acc = ['start']") + 1
        lines = lines[:at] + [
            "        self.seen7 = [self.n7, self.r7, self.b7, self.ff7, self.fb7, self.fs7,"
            " type(self.n7).__name__, type(self.r7).__name__]",
            "        self.cls7 = [self.LIMIT7, self.doubled7, self.helper7('h'), dict(self.PAIRS7)]",
            # a class constant mutated in place: this task's value, the next task's class's
            "        self.SETTINGS7['k'].append(self.alpha)"] + lines[at:]
        for option in rng.sample([["--n7", "4"], ["--r7", "2"], ["--b7", "True"],
                                  ["--ff7", "0.25"], ["--fb7", "False"], ["--fs7", "cli"]],
                                 rng.randint(0, 3)):
            self.run_args += option
        plain = [s for s in self.steps.values() if not s.join and not s.decorators
                 and s.name != self.fail_step and s.next_line is not None
                 and "condition=" not in s.next_line and "foreach=" not in s.next_line
                 and "num_parallel" not in s.next_line]
        for step in rng.sample(plain, min(len(plain), rng.choice((0, 1, 1, 2)))):
            kind = rng.choice(("slow once", "twice"))
            step.body.append(f"self.tries7_{step.name} = current.retry_count")
            if kind == "slow once":
                step.decorators += ["@retry(times=1, minutes_between_retries=0)",
                                    "@timeout(seconds=2)"]
                step.body.append("if current.retry_count == 0:\n            time.sleep(60)")
            else:
                step.decorators += [rng.choice(("@timeout(seconds=120)", "@resources(cpu=1)")),
                                    "@retry(times=2, minutes_between_retries=0)"]
                step.body.append("if current.retry_count < 2:\n"
                                 "            raise RuntimeError('fails twice, %d' % current.retry_count)")
            self.retried7[step.name] = kind
        for step in rng.sample(list(self.steps.values()), min(len(self.steps), rng.randint(1, 3))):
            if not any(d.startswith("@parallel") for d in step.decorators):
                step.body.append(f"self.std7_{step.name} = {rng.choice(_STDLIB_VALUES)}")
        return lines

    # -- the eighth round's features (seeds from ROUND8_FROM) ----------------------------------

    def _successors(self) -> dict[str, list[str]]:
        """Each step's next steps, read from its ``self.next`` line."""
        graph = {"start": [self._entry]}
        for step in self.steps.values():
            line = step.next_line or "self.next(self.end)"
            graph[step.name] = re.findall(r"self\.(s\d+|end)\b", line)
        return graph

    def _fail_in_foreach(self, rng: random.Random) -> None:
        """Moves the step that fails on the first run into a foreach's body (its last step
        when it has no decorators, else its first), so that a resume can name the body's first
        step, ahead of the failed one."""
        assert self.fail_step is not None
        _join, first, exits = rng.choice(self.foreach_joins)
        victim = next((self.steps[n] for n in (exits[0], first) if not self.steps[n].decorators
                       and not self.steps[n].join), None)
        if victim is None:
            return
        old = self.steps[self.fail_step]
        marker = "if os.environ.get('DIFF_FAIL') =="
        old.body = [b for b in old.body if not b.startswith(marker)]
        victim.body.insert(0, f"{marker} {victim.name!r}:\n"
                              f"            raise RuntimeError('failing {victim.name} on purpose')")
        self.fail_step = victim.name

    def _round8(self, lines: list[str]) -> list[str]:
        """A join under ``@catch`` that raises after its work (or ``@retry`` flaky once on a
        join); ``resume`` of the first step of a foreach's body that leads to the failed step;
        an artifact with a 200-character name and one whose name starts with ``_`` (read by
        name); a long line and many lines printed; ``config_expr`` in a step decorator's
        number: drawn from ``self.round8`` only."""
        rng = self.round8
        assert rng is not None
        if (self.fail_step and not self.resume_args and self.foreach_joins
                and rng.random() < 0.8):
            self._fail_in_foreach(rng)
        simple = re.compile(r"self\.next\(self\.\w+\)")
        joins = [s for s in self.steps.values() if s.join and not s.decorators
                 and s.name != self.fail_step and simple.fullmatch(s.next_line or "self.next(self.end)")
                 and not any(b == "self.merge_artifacts(inputs)" for b in s.body)
                 and not any("include=['mark7']" in b for b in s.body)]
        for join in rng.sample(joins, min(len(joins), rng.choice((0, 1, 1, 2)))):
            if rng.random() < 0.7:
                join.decorators.append(f"@catch(var='err_{join.name}')")
                join.body.append(f"self.before8_{join.name} = 'set before the raise'")
                join.body.append(f"raise ValueError('join {join.name} fails')")
                self.caught8.append(join.name)
            else:
                join.decorators.append("@retry(times=1, minutes_between_retries=0)")
                join.body.append("if current.retry_count == 0:\n"
                                 f"            raise KeyError('join {join.name} once')")
        if self.fail_step and not self.resume_args and rng.random() < 0.8:
            graph = self._successors()
            firsts = []
            for _join, first, _exits in self.foreach_joins:
                seen, todo = set(), [first]
                while todo:  # does the failed step follow this body's first step?
                    name = todo.pop()
                    if name not in seen:
                        seen.add(name)
                        todo += graph.get(name, [])
                if self.fail_step in seen:
                    firsts.append(first)
            if firsts:
                self.resume_args = [rng.choice(sorted(firsts))]
        long_name = "long8_" + "n" * 194  # (Metaflow's local store holds up to ~239)
        at = lines.index("        self.acc = ['start']") + 1
        lines = lines[:at] + [f"        self.{long_name} = 'a long name'",
                              "        self._priv8 = ['under', self.alpha]"] + lines[at:]
        plain = [s for s in self.steps.values() if not s.join and not s.decorators
                 and s.name != self.fail_step]
        for step in rng.sample(plain, min(len(plain), 1)):
            # (getattr: a join on the way that merges nothing keeps neither; seeds 2011, 2013)
            step.body += [f"self.long_seen8 = len(getattr(self, {long_name!r}, ''))",
                          "self.priv_seen8 = getattr(self, '_priv8', None)"]
        if plain and rng.random() < 0.5:
            step = rng.choice(plain)
            step.body += [f"print('w8_{step.name}' * 700)",
                          f"for k in range(150):\n            print('row8', k, {step.name!r})"]
        if rng.random() < 0.4:
            # exit hooks: each run (the failed first one, a resume) adds a line to a file
            # beside the flow, read after the last command
            self.exit_hook = True
            at = lines.index(f"class {FLOW_NAME}(FlowSpec):")
            while at and lines[at - 1].startswith("@"):
                at -= 1
            lines[at:at] = [
                "from metaflow import exit_hook", "", "",
                "def _hook8(kind, run):",
                "    where = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'hook8.txt')",
                "    with open(where, 'a', encoding='utf-8') as out:",
                "        out.write('%s %s %s\\n' % (kind, run is not None and run.successful,",
                "                                  run is not None and run.id.isdigit()))",
                "", "", "def hook8_ok(run):", "    _hook8('ok', run)", "", "",
                "def hook8_error(run=None):", "    _hook8('error', run)", "", "",
                "@exit_hook(on_success=[hook8_ok], on_error=['hook8_error'])"]
        if rng.random() < 0.5:
            # a number in a step decorator taken from a Config
            free = [s for s in self.steps.values()
                    if not any(d.startswith(("@timeout", "@parallel")) for d in s.decorators)]
            for step in rng.sample(free, min(len(free), 1)):
                step.decorators.append("@timeout(seconds=config_expr('conf.x * 60'))")
        return lines

    # -- the file ---------------------------------------------------------------------------

    def source(self) -> str:
        body = self.block(0, False)
        for _ in range(self.rng.randint(1, 2)):  # a few blocks in a row at the top
            more = self.block(0, False)
            self._connect(body, more.entry)
            body = _Block(body.entry, more.exits)
        self._connect(body, "end")
        self._entry = body.entry
        if self.rng.random() < 0.35:
            victim = self.steps[self.rng.choice(sorted(self.steps))]
            self.fail_step = victim.name
            victim.body.insert(0, f"if os.environ.get('DIFF_FAIL') == {victim.name!r}:\n"
                                  f"            raise RuntimeError('failing {victim.name} on purpose')")
        if self.round5:
            self._parallel_block(body)
        if self.round7:
            self._tail_block()
        lines = ["import os", "import sys", "",
                 "from metaflow import FlowSpec, Parameter, step, catch, retry, current", "",
                 "", f"class {FLOW_NAME}(FlowSpec):",
                 f"    alpha = Parameter('alpha', default={self.rng.randint(1, 5)}, type=int)", "",
                 "    @step", "    def start(self):", "        self.acc = ['start']",
                 f"        self.next(self.{body.entry})", ""]
        if self.extra:
            lines = self._extras(lines, body.entry)
        if self.round4:
            lines = self._round4(lines)
        if self.round5:
            lines = self._round5(lines)
        if self.round6:
            lines = self._round6(lines)
        if self.round7:
            lines = self._round7(lines)
        if self.round8:
            lines = self._round8(lines)
        for step in self.steps.values():
            lines += ["    " + d for d in step.decorators]
            lines += ["    @step", f"    def {step.name}(self{', inputs' if step.join else ''}):"]
            lines += ["        " + line for line in step.body]
            lines += ["        " + (step.next_line or "self.next(self.end)"), ""]
        lines += ["    @step", "    def end(self):", "        self.total = len(self.acc)", "",
                  "", "if __name__ == '__main__':", f"    {FLOW_NAME}()", ""]
        text = "\n".join(lines)
        varying = sorted(set(_VARYING.findall(text)))
        return text.replace("__EXCLUDE__", repr(varying))


# What a step knows of itself (fifth round): facts both systems must give alike, ids compared
# with each other rather than printed (they are each system's own)
_CURRENT = ("[current.pathspec == '/'.join([current.flow_name, current.run_id, current.step_name,"
            " current.task_id]), current.is_running_flow, current.retry_count,"
            " current.origin_run_id is not None, current.namespace == 'user:' + current.username,"
            " sorted(current.parameter_names), current.task.pathspec == current.pathspec,"
            " current.run.id == current.run_id, current.flow_name]")


def _play(python: str, flow: Path, folder: Path, env: dict[str, str], args: list[str],
          generator: _Generator, runner: bool = False) -> dict:
    folder.mkdir()
    shutil.copy(flow, folder / "flow.py")
    for name, text in generator.files.items():
        (folder / name).write_text(text, encoding="utf-8")
    fail_step = generator.fail_step
    result: dict = {}
    # Metaflow looks for a ``.metaflow`` in the folders above and uses the first one it finds
    # (a ``/tmp/.metaflow`` other runs left makes their runs this run's siblings); each seed's
    # runs stay in its own folder on both systems
    env = {**env, "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(folder)}
    # (Metaflow's card writer looks for a ``.metaflow`` from the working folder up, its reader
    # under the sysroot the task recorded: the same folder here, as the run is started in it)

    def call(command: list[str], extra_env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess:
        if runner:
            # the same command through the Runner API: its result objects are what is read
            kwargs = surface.runner_kwargs(command[1:] if command[0] == "run" else [])
            if command[0] == "resume":
                kwargs = surface.runner_kwargs(command[1 + bool(generator.resume_args):])
                if generator.resume_args:
                    kwargs["step_to_rerun"] = generator.resume_args[0]
            done = subprocess.run([python, "-c", surface.RUNNER, command[0], json.dumps(kwargs)],
                                  cwd=folder, env={**env, **(extra_env or {})},
                                  capture_output=True, text=True, timeout=900, check=False)
            view = surface.load(done.stdout) if done.returncode == 0 else {
                "runner_error": done.stderr[-800:]}
            printed = (view.get("stdout") or "") + (view.get("stderr") or "")
            result.setdefault("runner", []).append(surface.runner_view(view))
            code = view.get("returncode", -99)
            return subprocess.CompletedProcess(done.args, code, printed, "")
        done = subprocess.run([python, "flow.py", *generator.top_args, *command], cwd=folder,
                              env={**env, **(extra_env or {})}, capture_output=True,
                              text=True, timeout=900, check=False)
        if done.returncode:
            result.setdefault("failures", []).append(
                surface.failure_lines(done.stdout + done.stderr))
        return done

    if fail_step:  # a first run that fails there, then ``resume``: the resumed run is read
        first = call(["run", *args], {"DIFF_FAIL": fail_step})
        result["first_exit"] = first.returncode
        command = ["resume", *generator.resume_args]
        for tag in generator.resume_tags:
            command += ["--tag", tag]
        if generator.origin_check:
            # a second failed run with another alpha; resuming the first must take the first's
            origin = subprocess.run([python, "-c", LATEST_ID, FLOW_NAME], cwd=folder, env=env,
                                    capture_output=True, text=True, timeout=300, check=False)
            second = call(["run", "--alpha", "17", *generator.required_args],
                          {"DIFF_FAIL": fail_step})
            result["second_exit"] = second.returncode
            command += ["--origin-run-id", origin.stdout.strip()]
    else:
        command = ["run", *args]
    run = call(command)
    if generator.tag_ops:
        latest = subprocess.run([python, "-c", LATEST_ID, FLOW_NAME], cwd=folder, env=env,
                                capture_output=True, text=True, timeout=300, check=False)
        result["tags"] = surface.tag_probe(python, folder, env, latest.stdout.strip())
    read = subprocess.run([python, "-c", READER, FLOW_NAME, "resumed" if fail_step else "run",
                           "cards" if generator.uses_cards else "-",
                           ",".join(generator.retried()) if generator.round4 else "-"],
                          cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    result["exit"] = run.returncode
    if read.returncode == 0 and read.stdout.strip():
        result.update(json.loads(read.stdout.strip().splitlines()[-1]))
    else:
        result["read_error"] = read.stderr.strip()[-800:]
    seen = subprocess.run([python, "-c", surface.SURFACE, FLOW_NAME], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    if seen.returncode == 0:
        result["surface"] = surface.load(seen.stdout)
        result["cli"] = surface.probe(python, folder, env, result["surface"], bool(fail_step))
        run_id = (result["surface"].get("raw") or {}).get("run")
        if generator.round4 and generator.card_ids and run_id:
            result["cards_cli"] = surface.card_probe(python, folder, env, result["surface"],
                                                     generator.card_ids,
                                                     several=bool(generator.round5))
        if generator.round5 and run_id:
            probe = subprocess.run([python, "-c", surface.CLIENT_FILTERS, FLOW_NAME], cwd=folder,
                                   env=env, capture_output=True, text=True, timeout=300,
                                   check=False)
            result["client"] = surface.load(probe.stdout) if probe.returncode == 0 else {
                "error": probe.stderr.strip()[-800:]}
        if generator.retry_start and not fail_step and run_id:
            # (a resumed run's clone has no logs on Metaflow: kept, first round)
            result["attempt_logs"] = surface.attempt_logs(python, folder, env, run_id)
        result["surface"].pop("raw", None)
    else:
        result["surface_error"] = seen.stderr.strip()[-800:]
    result["log"] = (run.stdout + run.stderr)[-3000:]
    if generator.exit_hook:
        hooked = folder / "hook8.txt"
        result["exit_hooks"] = hooked.read_text(encoding="utf-8") if hooked.exists() else None
    return result


def _environment(python: str, scratch: Path, shim: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("METAFLOW_", "HEADWATER_", "PYTHONPATH"))}
    home = scratch / ("home-hw" if shim else "home-mf")
    home.mkdir()
    env.update(METAFLOW_HOME=str(home), METAFLOW_PROFILE="", USERNAME=env.get("USERNAME", "tester"))
    # Metaflow's local @parallel starts each node with the ``python`` on PATH: its own here
    env["PATH"] = str(Path(python).parent) + os.pathsep + env.get("PATH", "")
    if shim:
        subprocess.run([python, "-m", "headwater", "shim", str(scratch / "shim")], check=True,
                       stdout=subprocess.DEVNULL)
        env["PYTHONPATH"] = str(scratch / "shim")
    return env


def _differences(ours: dict, theirs: dict) -> list[str]:
    found = []
    for key in ("first_exit", "second_exit", "exit", "successful", "finished", "read_error",
                "surface_error", "failures", "runner", "exit_hooks"):
        if key == "finished" and not theirs.get("successful"):
            continue  # a failed run is finished on headwater, not on Metaflow (decisions.md)
        if (key in ("read_error", "surface_error") and ours.get("exit") and theirs.get("exit")
                and ours.get(key) and theirs.get(key)):
            continue  # refused before a run was made (seed 1014): each client's own "not found"
        if ours.get(key) != theirs.get(key):
            found.append(f"{key}: headwater {ours.get(key)!r}, Metaflow {theirs.get(key)!r}")
    if ours.get("exit") and theirs.get("exit"):
        return found  # both failed: how far the other branches got by then is timing
    steps_ours, steps_theirs = ours.get("steps", {}), theirs.get("steps", {})
    for name in sorted(set(steps_ours) | set(steps_theirs)):
        one, other = steps_ours.get(name), steps_theirs.get(name)
        if one != other and one and other and _uneven_clones(one, other):
            # a retried task cloned on one system and run again on the other: its attempt is
            # the clone's 0 or the retry's 1, and which happens is timing (seeds4; seed 340)
            one, other = _without_attempts(one), _without_attempts(other)
        if one != other:
            found.append(f"step {name}: headwater {steps_ours.get(name)}, "
                         f"Metaflow {steps_theirs.get(name)}")
    found += _surface_differences(ours.get("surface") or {}, theirs.get("surface") or {})
    for part in ("cli", "tags", "cards_cli", "attempt_logs", "client"):
        cli_ours, cli_theirs = ours.get(part) or {}, theirs.get(part) or {}
        for key in sorted(set(cli_ours) | set(cli_theirs)):
            if cli_ours.get(key) != cli_theirs.get(key):
                found.append(f"{key}: headwater {cli_ours.get(key)}, "
                             f"Metaflow {cli_theirs.get(key)}")
    return found


def _kept(ours: dict, theirs: dict) -> str | None:
    """Why a seed's difference is a known one of Metaflow's own, or None: such a seed is
    reported as kept, with the reason, not as a failure (docs/decisions.md names each)."""
    log = theirs.get("log", "")
    if (not ours.get("exit") and theirs.get("exit")
            and "cannot merge the following artifacts" in log
            and re.search(r"^(?:\S+ \S+ \[[^\]]*\] )?\[_catch_exception\]\.$", log, re.M)):
        # Metaflow's @catch leaves its own ``_catch_exception`` in each caught task, and its
        # merge_artifacts cannot merge two that differ; headwater merges the flow's artifacts
        # only (fourth round, seed 349)
        return "Metaflow's join cannot merge its own @catch records (_catch_exception)"
    return None


def _uneven_clones(one: list[str], other: list[str]) -> bool:
    def clones(rows: list[str]) -> list[bool]:
        return sorted(json.loads(r).get("(attempts)", {}).get("cloned", False) for r in rows)
    return clones(one) != clones(other)


def _without_attempts(rows: list[str]) -> list[str]:
    out = []
    for row in rows:
        data = json.loads(row)
        data.pop("(attempts)", None)
        out.append(json.dumps(data, sort_keys=True))
    return sorted(out)


def _surface_differences(ours: dict, theirs: dict) -> list[str]:
    """The client objects, field by field, so that a report names what differs."""
    found = []
    for key in ("runs", "runs_order"):
        if ours.get(key) != theirs.get(key):
            found.append(f"{key}: headwater {ours.get(key)}, Metaflow {theirs.get(key)}")
    run_ours, run_theirs = ours.get("run", {}), theirs.get("run", {})
    for key in sorted(set(run_ours) | set(run_theirs)):
        if run_ours.get(key) != run_theirs.get(key):
            found.append(f"run.{key}: headwater {run_ours.get(key)}, "
                         f"Metaflow {run_theirs.get(key)}")
    steps_ours = {s["step"]: s for s in ours.get("steps", [])}
    steps_theirs = {s["step"]: s for s in theirs.get("steps", [])}
    # Metaflow's step lineage is the graph's (a loop's step is its own parent even when it
    # ran once), and a task's parents in a loop are every task of the parent steps; headwater
    # names what ran and fed what (kept, decisions.md third round)
    clones = {t["label"] for s in ours.get("steps", []) for t in s.get("tasks", [])
              if t.get("origin")}
    # tasks cloned on one system and run again on the other (timing, first round)
    uneven = clones ^ {t["label"] for s in theirs.get("steps", []) for t in s.get("tasks", [])
                       if t.get("origin")}
    loops = {name for name, s in steps_theirs.items()
             if isinstance(s.get("parent_steps"), list) and name in s["parent_steps"]}

    def loop_only(a: object, b: object, name: str, of_step: bool = False) -> bool:
        if not (isinstance(a, list) and isinstance(b, list) and set(a) <= set(b)):
            return False
        extra = set(b) - set(a)
        if of_step:
            return extra <= {name}
        return name in loops or any(label.split("/")[1].split("[")[0] in loops
                                    for label in extra)

    for name in sorted(set(steps_ours) | set(steps_theirs)):
        one, other = steps_ours.get(name, {}), steps_theirs.get(name, {})
        for key in sorted((set(one) | set(other)) - {"tasks"}):
            if key in ("parent_steps", "child_steps") and other.get(key) == \
                    "<raises MetaflowNotFound>":
                continue  # Metaflow's graph names an arm that did not run (kept, decisions.md)
            if key in ("parent_steps", "child_steps") and loop_only(one.get(key),
                                                                    other.get(key), name, True):
                continue
            if one.get(key) != other.get(key):
                found.append(f"step {name}.{key}: headwater {one.get(key)}, "
                             f"Metaflow {other.get(key)}")
        tasks_one = {t["label"]: t for t in one.get("tasks", [])}
        tasks_other = {t["label"]: t for t in other.get("tasks", [])}
        if set(tasks_one) != set(tasks_other):
            found.append(f"step {name} tasks: headwater {sorted(tasks_one)}, "
                         f"Metaflow {sorted(tasks_other)}")
        for label in sorted(set(tasks_one) & set(tasks_other)):
            for key in sorted(set(tasks_one[label]) | set(tasks_other[label])):
                a, b = tasks_one[label].get(key), tasks_other[label].get(key)
                if key in ("parents", "children") and b == [] and theirs.get("resumed"):
                    # Metaflow matches a task's parents by the task ids in its foreach path,
                    # which a resume's clone keeps from its origin: it finds none for a task
                    # whose parents were cloned (kept: decisions.md, third round)
                    continue
                if (key in ("parents", "children") and theirs.get("resumed")
                        and isinstance(a, list) and isinstance(b, list)
                        and set(b) < set(a) and set(a) - set(b) <= clones):
                    # the same matching finds some and not others: a join inside a foreach
                    # after a resume lists only the arm that ran again, not the cloned one,
                    # and the clone before them only the arm that ran (sixth round, seed 430)
                    continue
                cloned = (tasks_one[label].get("origin") is None,
                          tasks_other[label].get("origin") is None)
                if (key in ("origin", "attempt") and theirs.get("resumed")
                        and cloned[0] != cloned[1]):
                    # cloned on one system, run again on the other: how far a branch beside
                    # the failed step got before the first run stopped is timing (first round);
                    # a @retry step run again has its retry's attempt, a clone 0 (seeds4)
                    continue
                if key in ("parents", "children") and loop_only(a, b, name):
                    continue
                if key in ("parents", "children") and uneven and isinstance(a, list) and (
                        label in uneven or uneven & set(a) or uneven & set(b or [])):
                    continue  # next to a task cloned on one system only: its lineage is timing
                if (key in ("parents", "children") and theirs.get("resumed")
                        and isinstance(a, list)
                        and loop_only([p for p in a if p not in clones], b, name)):
                    # both kept differences at once: a loop's task after a resume, next to a
                    # clone (Metaflow lists the loop's other tasks, not the clone; seeds 308, 331)
                    continue
                if a != b:
                    found.append(f"task {label}.{key}: headwater {a}, Metaflow {b}")
    return found


def _seeds(text: str) -> list[int]:
    """``446-460``, ``430,443`` or both at once: ``561-570,443``."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds += range(int(low), int(high or low) + 1)
    return seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable, help="an interpreter with headwater")
    parser.add_argument("--metaflow-python", required=True, help="an interpreter with Metaflow")
    parser.add_argument("--seeds", default="0-39", help="A-B, a comma-separated list, or both")
    parser.add_argument("--keep", type=Path, help="keep each differing seed's flow and readings")
    parser.add_argument("--runner", choices=("odd", "always", "never"), default="odd",
                        help="which seeds run through the Runner API instead of the CLI")
    parser.add_argument("--show", type=int, help="print one seed's flow and exit")
    args = parser.parse_args(argv)
    if args.show is not None:
        print(_Generator(args.show).source())
        return 0
    agreed = differed = kept = 0
    with tempfile.TemporaryDirectory(prefix="hw-differential-") as scratch_name:
        scratch = Path(scratch_name)
        env_hw = _environment(args.python, scratch, shim=True)
        env_mf = _environment(args.metaflow_python, scratch, shim=False)
        for seed in _seeds(args.seeds):
            generator = _Generator(seed)
            flow = scratch / f"flow{seed}.py"
            flow.write_text(generator.source())
            run_args = ["--alpha", str(seed % 4 + 1)] if seed % 3 == 0 else []
            run_args += generator.run_args
            runner = seed % 2 == 1 if args.runner == "odd" else args.runner == "always"
            ours = _play(args.python, flow, scratch / f"hw{seed}", env_hw, run_args, generator,
                         runner)
            theirs = _play(args.metaflow_python, flow, scratch / f"mf{seed}", env_mf, run_args,
                           generator, runner)
            found = _differences(ours, theirs)
            reason = _kept(ours, theirs) if found else None
            shape = f"{len(generator.steps) + 2} steps" + (" (Runner)" if runner else "") + (
                ", a merge that must fail" if generator.expect_failure else "") + (
                f", resumed after {generator.fail_step} failed" if generator.fail_step else "") + (
                f"; run {' '.join(generator.run_args)}" if generator.run_args else "") + (
                f"; resume {' '.join(generator.resume_args)}" if generator.resume_args else "") + (
                "; resume --origin-run-id" if generator.origin_check else "") + (
                f"; {' '.join(generator.top_args)}" if generator.top_args and not runner
                else "") + (f"; @project {generator.project}" if generator.project else "") + (
                f"; resume --tag {generator.resume_tags}" if generator.resume_tags else "") + (
                f"; stacked {generator.stacked}" if generator.stacked else "") + (
                "; num_parallel" if generator.parallel else "") + (
                f"; retried {generator.retried7}" if generator.retried7 else "") + (
                "; nested-foreach tail" if generator.tail7 else "")
            if not found:
                agreed += 1
                print(f"agreed  seed {seed} ({shape}; exit {ours['exit']})", flush=True)
                continue
            if reason:
                kept += 1
                print(f"kept    seed {seed} ({shape}): {reason}", flush=True)
                continue
            differed += 1
            print(f"DIFFERS seed {seed} ({shape})", flush=True)
            for line in found:
                print("    " + line[:1500])
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(flow, args.keep / flow.name)
                for name, text in generator.files.items():
                    (args.keep / f"seed{seed}-{name}").write_text(text, encoding="utf-8")
                (args.keep / f"seed{seed}.json").write_text(
                    json.dumps({"headwater": ours, "metaflow": theirs}, indent=1))
    print(f"differential: {agreed} agreed, {kept} kept, {differed} differed")
    return 0 if not differed else 1


if __name__ == "__main__":
    sys.exit(main())
