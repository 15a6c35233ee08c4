"""Random flows, interrupted at random points, then read, inspected, collected and resumed.

    python tools/chaos.py [--seeds 0-19] [--executor local|spawn|both] [--postgres] [--points]
                          [--dask] [--twin] [--mode MODE] [--keep DIR [--keep-all]] [--show SEED]

The promise under test (docs/reliability.md): a crash, a Ctrl-C or a kill leaves a run that can
be resumed, never corrupt data. Each seed draws one flow from tools/differential.py's grammar
(branches, nested foreaches, conditionals, loops, ``@retry`` and ``@catch``), runs it once to the
end for reference, then runs it again and interrupts it. The moment is chosen by an event, never
a sleep: every step calls a hook at its start (or just before ``self.next``, where its artifacts
are set but not yet stored) that takes the next number of a sequence by creating a file; the
task that draws number N (N drawn from the seed) writes its pid and waits on a gate file. The
tool sees that file and interrupts the run one of five ways (the seed draws which); it opens
the gate only once it has checked that no process of the run is left, so the held task must die
of the interruption itself:

* ``kill-scheduler``: SIGKILL to the ``run`` process alone;
* ``kill-task``: SIGKILL to the held task's process;
* ``ctrl-c``: SIGINT to the run's process group, as a terminal's Ctrl-C;
* ``sigterm``: SIGTERM to the ``run`` process;
* ``kill-group``: SIGKILL to the run's whole process group.

Half the Ctrl-C's are followed by a second one once the held task has stopped, as an impatient
user's. A third of the seeds use another event instead: the Nth task recorded as succeeded in the
metadata (SQLite only; never for ``kill-task``, which needs a running task to kill), and the
signal is sent at once, landing wherever the scheduler is: nothing holds the run, so one that
ended before the signal landed counts as "ended before the event".

``--points`` aims inside headwater itself instead: the events are the fault points of
``src/headwater/fault_points.py`` (a task's blobs written but its result not sent; its result
sent but its process not gone; the scheduler holding a task's logs but no record; halfway
through the transaction recording an attempt or a clone; a turn's records written, not yet
committed, or just committed; a big join's parents stored). The reference run counts how often
it passes each (``HEADWATER_FAULT_POINT='*#0'``); the seed draws a point it passed and which
pass holds (a stream of its own, so the other draws stay as they were). A point held in the
scheduler survives a Ctrl-C or a SIGTERM: the gate opens as soon as the signal is sent, and the
run stops from there; ``kill-task`` at such a point kills the scheduler.

Then, for the interrupted run: no process of it is left; the client reads every task of it
without an error and calls it not successful (unless the killed task's step has ``@retry`` or
``@catch``, which may carry the run through); ``headwater show``, and ``logs`` and ``dump`` of
every step with an unsuccessful task and two others, exit 0 without a traceback through
headwater; ``resume`` finishes it; half the seeds interrupt that resume too (a second
draw of event and signal) and resume the interrupted resume; the last run's artifacts and stdout,
step by step, equal the reference run's. ``gc --dry-run --grace 0`` works, and a real
``gc --grace 0`` on a copy of the datastore leaves the reference run and the last run reading
the same as before; ``PRAGMA integrity_check`` says ``ok`` after every interruption.

``--executor both`` alternates the fork server and ``spawn`` by seed. ``--postgres`` records the
metadata in a throwaway PostgreSQL server (tests/servers.py; a database per seed). ``--dask``
runs the tasks on a ``dask scheduler`` with two workers, the blobs in moto's S3 server and the
metadata in PostgreSQL, all started here as tests/servers.py starts them; the tasks on the
workers get the workers' environment, so the hooks read their settings from a file the tool
writes before each command, every task a hook saw must be gone after an interruption (its pid
and start time), and a sixth interruption is drawn: ``kill-worker``, SIGKILL of the Dask worker
process running the held task (its nanny starts a new one). With ``--points`` the task
points are drawn there too (the scheduler sends the workers' tasks its fault variables). ``--twin``
ends each seed with two resumes of the same run started at once; both must finish with the
reference data. Every seed's ``gc`` check first runs a collector that kills itself after its
Nth deletion (``HEADWATER_GC_KILL_AFTER``, N drawn): every run must read the same after it,
and after the full collection that follows.

Seeds from ``CHAOS5_FROM`` (1048) also: give every ``flow.py`` command the grammar's options
before the command (``--config-value``, ``--branch``, ``--production``) and, on half the seeds,
the datastore root, the metadata, the executor and the Dask address as ``--datastore-root``,
``--metadata``, ``--executor`` and ``--dask-address`` before ``run`` rather than as variables;
under ``--dask`` draw a seventh
interruption, ``kill-dask-scheduler`` (SIGKILL of the ``dask scheduler`` process; a new cluster
is started for what follows, as an administrator would), for the resume too; and end with a
``headwater delete`` of the interrupted runs (and, drawn, the reference) SIGKILLed inside the
transaction deleting one run (``delete.rows``) or just after one committed
(``delete.committed``): each run named must read whole or be not found, exactly as far as the
deletion got, every other run as before; ``gc`` then works and changes no reading, the next
``delete`` finishes, and after a last ``gc`` the runs kept (the resumes, whose clones name the
deleted origins' blobs) still read as before. The last line is
``chaos: P passed, F failed, S skipped``; the exit status is 0 only when none failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import differential  # noqa: E402 - the flow grammar, beside this file

# headwater's own source: a traceback through it is a bug (a user's step may raise on purpose)
PACKAGE_DIR = str(Path(__import__("headwater").__file__).resolve().parent)
MODES = ("kill-scheduler", "kill-task", "ctrl-c", "sigterm", "kill-group")
DASK_MODES = (*MODES, "kill-worker")  # --dask: SIGKILL of the Dask worker running the held task
# --dask, seeds from CHAOS5_FROM: also SIGKILL of the Dask scheduler process (not headwater's)
DASK5_MODES = (*DASK_MODES, "kill-dask-scheduler")
DEADLINE_S = float(os.environ.get("HEADWATER_TEST_DEADLINE_S", "300"))
CHAOS5_FROM = 1048  # seeds from here draw the fifth round's features (earlier ones keep theirs)
# what a seed drawing `settings_on_line` gives as options before the command, not variables
TOP_LEVEL_SETTINGS = (("--datastore-root", "HEADWATER_DATASTORE_ROOT"),
                      ("--metadata", "HEADWATER_METADATA"), ("--executor", "HEADWATER_EXECUTOR"),
                      ("--dask-address", "HEADWATER_DASK_ADDRESS"))

# Put at the top of each generated flow: the event every interruption waits for.
HOOK = r'''
import json as _chaos_json
import time as _chaos_time

_CHAOS_CONTROL = None  # --dask: the file saying what the environment says elsewhere


def _chaos_settings():
    """CHAOS_DIR, CHAOS_AT, CHAOS_WHERE: from the environment, or on a Dask worker (whose tasks
    get the worker's environment, not the run's) from the file the tool writes before a run."""
    if _CHAOS_CONTROL is None:
        return os.environ
    try:
        with open(_CHAOS_CONTROL) as fh:
            return _chaos_json.load(fh)
    except (OSError, ValueError):
        return {}


def _chaos_hook(step, where):
    """Take the next number; the task holding CHAOS_AT says so and waits on the gate."""
    settings = _chaos_settings()
    folder = settings.get("CHAOS_DIR")
    if not folder or settings.get("CHAOS_WHERE", "start") != where:
        return
    number = 0
    while True:
        number += 1
        try:
            fd = os.open(os.path.join(folder, "seq-%d" % number),
                         os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            continue
    with open("/proc/self/stat") as fh:  # the start time: a pid seen again is this process
        started = fh.read().rsplit(")", 1)[1].split()[19]
    os.write(fd, ("%s %d %s" % (step, os.getpid(), started)).encode())
    os.close(fd)
    if number != int(settings.get("CHAOS_AT", "0")):
        return
    target = os.path.join(folder, "target")
    with open(target + ".tmp", "w") as out:
        out.write("%s %d" % (step, os.getpid()))
    os.replace(target + ".tmp", target)
    gate = os.path.join(folder, "gate")
    while not os.path.exists(gate):
        _chaos_time.sleep(0.01)
'''

# Run from the seed's folder with the datastore in the environment: one run, every task, JSON.
READER = r'''
import json, sys
from headwater import Run, namespace
from headwater.exceptions import NotFoundError
namespace(None)
try:
    run = Run(sys.argv[1])
except NotFoundError:  # deleted (`headwater delete`), and said so
    print(json.dumps({"missing": True}))
    sys.exit(0)

def plain(name, value):
    if name.startswith("err_"):
        return value is not None
    if name.startswith("cur_") and isinstance(value, list) and len(value) > 3:
        # differential's `current` facts: the fourth, `current.origin_run_id is not None`, is
        # True in a task a resume ran and False in the reference run, as it should be
        return value[:3] + ["(origin)"] + value[4:]
    if hasattr(value, "keys") and hasattr(value, "__getitem__") and not isinstance(value, dict):
        value = {k: plain(k, value[k]) for k in value.keys()}
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value) if type(value).__module__ == "builtins" else type(value).__name__

steps = {}
for step in run:
    rows = []
    for task in step:
        row = {"(successful)": bool(task.successful), "(finished)": bool(task.finished)}
        if task.successful:
            for artifact in task:
                if artifact.id.startswith("_") or artifact.id == "name":
                    continue
                row[artifact.id] = plain(artifact.id, artifact.data)
            row["(stdout)"] = task.stdout
        else:
            task.stdout, task.stderr, task.exception  # readable, whatever they hold
        rows.append(json.dumps(row, sort_keys=True))
    steps[step.id] = sorted(rows)
print(json.dumps({"successful": bool(run.successful), "finished": bool(run.finished),
                  "status": run.status, "steps": steps}, sort_keys=True))
'''


@dataclass
class Plan:
    """What one seed does, all drawn from the seed."""

    seed: int
    executor: str
    mode: str
    trigger: str  # "start" / "late": the hook; "meta": the Nth succeeded task in the metadata
    resume_mode: str | None  # None: the resume runs uninterrupted
    resume_trigger: str
    rng: random.Random
    twice: bool = False  # ctrl-c: a second SIGINT once the held task is gone (a user's second ^C)
    points: bool = False  # --points: the events are headwater's own fault points
    twin: bool = False  # --twin: the last resume is two resumes of the same run at once
    gc_kill: int = 0  # the first gc of the copy SIGKILLs itself after this many deletions
    settings_on_line: bool = False  # --datastore-root/--metadata/--executor/..., not variables


@dataclass
class Outcome:
    seed: int
    shape: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None


def flow_source(seed: int, control: Path | None = None) -> tuple[str, differential._Generator]:
    """The differential grammar's flow for ``seed``, importing headwater, hooked at each step;
    with ``control`` (--dask) the hooks read their settings from that file."""
    generator = differential._Generator(seed)
    text = generator.source().replace("from metaflow", "from headwater")
    out: list[str] = []
    lines = text.splitlines()
    current = None
    for number, line in enumerate(lines):
        decorated = number > 0 and lines[number - 1].startswith("@")
        if (line.startswith("class ") and not decorated) or (
                line.startswith("@") and lines[number + 1:number + 2] != []
                and lines[number + 1].startswith("class ")):
            # (before the class and its flow decorator: ``@project``, sixth grammar)
            hook = HOOK if control is None else HOOK.replace(
                "_CHAOS_CONTROL = None", f"_CHAOS_CONTROL = {str(control)!r}")
            out += hook.strip("\n").splitlines() + ["", ""]
        match = re.match(r"    def (\w+)\(self", line)
        if match:
            current = match[1]
            out += [line, f"        _chaos_hook({current!r}, 'start')"]
            continue
        if current and line.startswith("        self.next("):
            out.append(f"        _chaos_hook({current!r}, 'late')")
        out.append(line)
        if current == "end" and line.startswith("        self.total"):
            out.append("        _chaos_hook('end', 'late')")
            current = None
    return "\n".join(out) + "\n", generator


def plan_for(seed: int, executor: str, postgres: bool, points: bool = False,
             forced_mode: str | None = None, dask: bool = False, twin: bool = False) -> Plan:
    rng = random.Random(f"chaos-{seed}")
    chosen = executor if executor != "both" else ("spawn" if seed % 2 else "local")
    if dask:
        chosen = "dask"
    triggers = ("start", "late") if postgres else ("start", "late", "meta")
    modes = (DASK5_MODES if seed >= CHAOS5_FROM else DASK_MODES) if dask else MODES
    mode = forced_mode or modes[seed % len(modes)]
    trigger = rng.choice(triggers)
    if mode in ("kill-task", "kill-worker") and trigger == "meta":
        trigger = "start"  # the metadata names no running task to kill: a hook does
    again = rng.random() < 0.5
    plan = Plan(seed, chosen, mode, trigger, rng.choice(MODES) if again else None,
                rng.choice(("start", "late")), rng)
    # drawn later than the rest, from a stream of their own: the draws above stay as they were
    extra = random.Random(f"chaos-extra-{seed}")
    plan.twice = extra.random() < 0.5
    if not postgres and plan.resume_mode != "kill-task" and extra.random() < 0.4:
        plan.resume_trigger = "meta"  # lands while the resume records its clones
    plan.points = points
    # chaos4's draws, from a stream of their own again
    fourth = random.Random(f"chaos-4-{seed}")
    plan.twin = twin
    plan.gc_kill = fourth.randint(1, 6)
    # chaos5's draws (seeds from CHAOS5_FROM), from a stream of their own
    if seed >= CHAOS5_FROM:
        fifth = random.Random(f"chaos-5-{seed}")
        plan.settings_on_line = fifth.random() < 0.5
        if dask and plan.resume_mode:  # the resume too may lose a worker or the scheduler
            plan.resume_mode = fifth.choice(DASK5_MODES)
    return plan


def point_event(rng: random.Random, passes: dict[str, int], clones: int) -> tuple[str, int]:
    """--points: a fault point the reference run passed through (a resume that will clone
    ``clones`` tasks adds the clones' point), and which pass of it holds."""
    names = sorted(name for name, count in passes.items() if count)
    if clones:
        names = sorted(set(names) | {"record.clone-row"})
    name = rng.choice(names)
    return f"point:{name}", rng.randint(1, max(1, passes.get(name) or passes.get(
        "task.stored", 1)))


def counted_passes(hooks: Path) -> dict[str, int]:
    """How many times the reference run passed each fault point (``*#0`` counts them all)."""
    counts: dict[str, int] = {}
    for path in hooks.glob("pass-*"):
        name = path.name[len("pass-"):].rsplit("-", 1)[0]
        counts[name] = counts.get(name, 0) + 1
    return counts


# ------------------------------------------------------------------------------- processes


def tagged_processes(tag: str) -> list[int]:
    """Live processes whose environment carries ``CHAOS_TAG=tag`` (every process of a seed)."""
    needle = f"CHAOS_TAG={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ and state != "Z":
            found.append(int(entry))
    return found


def wait_for(condition, timeout: float = DEADLINE_S, step: float = 0.02):
    """Poll ``condition`` until it returns something truthy (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


class Seed:
    """One seed's folder, environment and commands."""

    def __init__(self, root: Path, plan: Plan, pg_url: str | None,
                 remote: Remote | None = None, top_args: list[str] | tuple[str, ...] = ()
                 ) -> None:
        self.plan = plan
        self.folder = root / f"seed{plan.seed}"
        self.folder.mkdir(parents=True)
        self.remote = remote
        self.tag = f"{os.getpid()}-{plan.seed}"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("HEADWATER_", "METAFLOW_", "CHAOS_"))}
        self.env.update(HEADWATER_USER="chaos", CHAOS_TAG=self.tag, PYTHONUNBUFFERED="1",
                        HEADWATER_DATASTORE_ROOT=str(self.folder / ".headwater"))
        if plan.executor == "spawn":
            self.env["HEADWATER_EXECUTOR"] = "spawn"
        if pg_url:
            self.env["HEADWATER_METADATA"] = pg_url
        if remote is not None:  # tasks on Dask, blobs in S3 (the metadata in PostgreSQL)
            self.env.update(remote.env, HEADWATER_EXECUTOR="dask",
                            HEADWATER_DATASTORE_ROOT=remote.root(f"seed{plan.seed}"))
        self.pg_url = pg_url
        self.rounds = 0
        self.resume_tags: list[str] = []  # the run's --tag options, given to every resume
        # options before the command (`flow.py --metadata URL run`), as users type them: the
        # grammar's (`--config-value`, `--branch`, `--production`) and, on the seeds that draw
        # it, the datastore root, the metadata and the executor moved from the environment
        self.grammar_top = list(top_args)
        self.settle_options()

    def settle_options(self) -> None:
        """``top`` and ``flow_env`` from ``env`` (again after ``env`` changed: a new Dask
        cluster's address)."""
        self.top: list[str] = list(self.grammar_top)
        self.flow_env = dict(self.env)
        if self.plan.settings_on_line:
            for option, name in TOP_LEVEL_SETTINGS:
                if name in self.flow_env:
                    self.top += [option, self.flow_env.pop(name)]

    def flow_argv(self, *args: str) -> list[str]:
        """``python flow.py TOP-LEVEL-OPTIONS ARGS``: a command as users type it."""
        return [sys.executable, "flow.py", *self.top, *args]

    @property
    def control(self) -> Path | None:
        """--dask: the file the hooks read their settings from (the tasks on the workers get the
        workers' environment, not the run's)."""
        return self.folder / "control.json" if self.remote is not None else None

    def set_hooks(self, env: dict[str, str]) -> None:
        """Before a command: what its hooks do (``CHAOS_*`` of ``env``; none: nothing)."""
        if self.control is not None:
            settings = {k: v for k, v in env.items() if k.startswith("CHAOS_")}
            self.control.with_suffix(".tmp").write_text(json.dumps(settings))
            self.control.with_suffix(".tmp").replace(self.control)

    @property
    def datastore(self) -> str:
        return self.env["HEADWATER_DATASTORE_ROOT"]

    def task_pids(self) -> list[tuple[int, str]]:
        """(pid, start time) of every task a hook of this seed saw, in every round."""
        seen = []
        for path in self.folder.glob("chaos*/seq-*"):
            fields = path.read_text().split()
            if len(fields) >= 3:
                seen.append((int(fields[1]), fields[2]))
        return seen

    def call(self, *args: str, env: dict[str, str] | None = None,
             cli: bool = False) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "headwater", *args] if cli else self.flow_argv(*args)
        if not cli:
            self.set_hooks(env or {})
        base = self.env if cli else self.flow_env
        return subprocess.run(argv, cwd=self.folder, env={**base, **(env or {})},
                              capture_output=True, text=True, timeout=DEADLINE_S, check=False)

    def read(self, run_id: str, env: dict[str, str] | None = None) -> dict:
        done = subprocess.run([sys.executable, "-c", READER, f"{differential.FLOW_NAME}/{run_id}"],
                              cwd=self.folder, env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=DEADLINE_S, check=False)
        if done.returncode != 0:
            return {"read_error": done.stderr.strip()[-1500:]}
        return json.loads(done.stdout.strip().splitlines()[-1])

    def chaos_dir(self) -> Path:
        self.rounds += 1
        folder = self.folder / f"chaos{self.rounds}"
        folder.mkdir()
        return folder

    def run_id_file(self) -> Path:
        return self.folder / f"run-id-{self.rounds}"


def succeeded_tasks(db: Path, run_id: str) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute("SELECT COUNT(*) FROM tasks WHERE run_id = ? AND status = "
                                "'succeeded'", (run_id,)).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def interrupt(seed: Seed, command: list[str], mode: str, trigger: str, at: int,
              out: Outcome, label: str) -> tuple[str | None, int | None, str]:
    """Start ``flow.py COMMAND``, interrupt it at event ``at`` with ``mode``; the run id, the
    exit code (None: the run ended before the event) and the target step."""
    hooks = seed.chaos_dir()
    id_file = seed.run_id_file()
    hooked = trigger in ("start", "late")
    env = {**seed.flow_env, "CHAOS_DIR": str(hooks), "CHAOS_AT": str(at if hooked else 0),
           "CHAOS_WHERE": trigger if hooked else "start"}
    point = trigger.partition(":")[2] if trigger.startswith("point:") else None
    if point:  # src/headwater/fault_points.py: the run holds there and says so in `held`
        env.update(HEADWATER_FAULT_POINT=f"{point}#{at}", HEADWATER_FAULT_DIR=str(hooks))
    seed.set_hooks(env)
    proc = subprocess.Popen(seed.flow_argv(*command, "--run-id-file", str(id_file)),
                            cwd=seed.folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    target = hooks / ("held" if point else "target")
    db = seed.folder / ".headwater" / "meta.sqlite"

    def fired():
        if proc.poll() is not None:
            return "ended"
        if trigger == "meta":
            run_id = id_file.read_text().strip() if id_file.exists() else None
            return "event" if run_id and succeeded_tasks(db, run_id) >= at else None
        return "event" if target.exists() else None

    event = wait_for(fired)
    step = "-"
    held_scheduler = False
    if event == "event":
        task_pid = None
        if trigger != "meta":
            step, pid = target.read_text().split()
            task_pid = int(pid)
        if point:
            held_scheduler = task_pid == proc.pid
            # the step of a held task: its start hook wrote its pid (CHAOS_AT=0 holds nothing)
            step = next((fields[0] for fields in _sequence(hooks)
                         if fields[1] == str(task_pid)), point)
            if held_scheduler:
                task_pid = None  # the scheduler is no task: no second Ctrl-C waits on it
        if mode == "kill-scheduler" or (mode in ("kill-task", "kill-worker") and held_scheduler):
            os.kill(proc.pid, signal.SIGKILL)
        elif mode == "kill-dask-scheduler":
            with contextlib.suppress(ProcessLookupError):
                os.kill(seed.remote.cluster.scheduler.pid, signal.SIGKILL)
            if held_scheduler:  # headwater's scheduler, held at a point, goes on to find it gone
                (hooks / "gate").touch()
        elif mode == "kill-worker":
            worker = dask_worker_of(task_pid) if task_pid is not None else None
            if worker is None:
                out.problems.append(f"{label}: no Dask worker process above task {task_pid}")
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker, signal.SIGKILL)
        elif mode == "kill-task":
            if task_pid is None:  # the meta event names no task: take one that is running now
                running = [int(fields[1]) for fields in _sequence(hooks)]
                alive = [p for p in running if Path(f"/proc/{p}").exists()]
                task_pid = alive[-1] if alive else None
            if task_pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(task_pid, signal.SIGKILL)
        elif mode == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
            if seed.plan.twice and task_pid is not None:
                # the held task has been stopped: the run is recording that, or about to
                wait_for(lambda: proc.poll() is not None or _gone(task_pid))
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGINT)
        elif mode == "sigterm":
            os.kill(proc.pid, signal.SIGTERM)
        elif mode == "kill-group":
            os.killpg(proc.pid, signal.SIGKILL)
        if held_scheduler and mode in ("ctrl-c", "sigterm"):
            # the scheduler survives these: its handler ran as the signal landed (fault_points)
            (hooks / "gate").touch()
    elif event is None:
        out.problems.append(f"{label}: neither the event nor the end came within {DEADLINE_S} s")
    try:
        text, _ = proc.communicate(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        out.problems.append(f"{label}: the run did not exit after {mode}")
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        text, _ = proc.communicate()
    (seed.folder / f"{label}.log").write_text(text)
    # The held task must die of the interruption, as a step that runs for hours would: the gate
    # opens only once every process of the run is gone (or found left behind).
    no_strays(seed, out, label)
    (hooks / "gate").touch()
    if mode == "kill-dask-scheduler" and event == "event":
        # the cluster is gone: a new one, at a new address, for what follows (as after a crash)
        seed.remote.start_cluster()
        seed.env.update(seed.remote.env)
        seed.settle_options()
    if PACKAGE_DIR in text:
        out.problems.append(f"{label}: a traceback on the console:\n{text[-1500:]}")
    run_id = id_file.read_text().strip() if id_file.exists() else None
    code = proc.returncode if event == "event" else None
    if trigger == "meta" and (code == 0 or "Interrupted while exiting" in text):
        code = None  # nothing held the run: it finished before the signal landed
        event = "ended"
    expected = {"ctrl-c": 130, "sigterm": 143}.get(mode)
    if code is not None and expected is not None and code != expected:
        out.problems.append(f"{label}: {mode} exited {code}, not {expected}:\n{text[-1500:]}")
    if mode == "ctrl-c" and seed.plan.twice and step != "-" and not held_scheduler:
        mode = "ctrl-c twice"
    out.notes.append(f"{label}: {mode} at {trigger} #{at} ({step}) -> exit {proc.returncode}"
                     + ("" if event == "event" else ", ended before the event"))
    return run_id, code, step


# ---------------------------------------------------------------------------------- checks


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (gone, or a zombie): it may go while being read."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:  # gone, even between the open and the read (ESRCH)
        return True


def dask_worker_of(pid: int) -> int | None:
    """The Dask worker process (its nanny's child) above task ``pid``: the task's fork server's
    parent."""
    while pid > 1:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            return None
        if b"spawn_main" in cmdline:
            return pid
        pid = parent
    return None


def live_tasks(seed: Seed) -> list[int]:
    """--dask: the tasks the hooks saw that still run (on a worker, they do not carry the
    seed's tag); a pid counts only while its start time is the one the hook wrote."""
    alive = []
    for pid, started in seed.task_pids():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat[19] == started and stat[0] != "Z":
            alive.append(pid)
    return alive


def no_strays(seed: Seed, out: Outcome, label: str) -> None:
    def left_over() -> list[int]:
        return tagged_processes(seed.tag) + (live_tasks(seed) if seed.remote else [])

    left = wait_for(lambda: not left_over(), timeout=60) or left_over()
    if left is not True and left:
        described = []
        for pid in left:
            with contextlib.suppress(OSError):
                described.append(f"{pid} " + Path(f"/proc/{pid}/cmdline").read_bytes()
                                 .replace(b"\0", b" ").decode(errors="replace")[:120])
                os.kill(pid, signal.SIGKILL)  # ours: the seed's tag, or a hook's pid and start time
        out.problems.append(f"{label}: processes left behind: {described}")


def integrity(seed: Seed, out: Outcome, label: str) -> None:
    if seed.pg_url:
        return
    db = seed.folder / ".headwater" / "meta.sqlite"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    if verdict != [("ok",)]:
        out.problems.append(f"{label}: integrity_check says {verdict}")


def inspect_interrupted(seed: Seed, run_id: str, reading: dict, out: Outcome,
                        label: str) -> None:
    """``logs``, ``dump`` of every step it has, and ``show``: exit 0, no traceback."""
    commands = [["show"]]
    steps = reading.get("steps", {})
    # every step with a task that did not succeed, and two others: the commands cost a second
    # each, and a flow has up to thirty steps
    broken = [s for s, rows in steps.items() if any('"(successful)": false' in r for r in rows)]
    others = sorted(set(steps) - set(broken))
    for step in broken + seed.plan.rng.sample(others, min(2, len(others))):
        commands += [["logs", f"{run_id}/{step}"], ["dump", f"{run_id}/{step}"]]
    for command in commands:
        done = seed.call(command[0], "flow.py", *command[1:], cli=True)  # `headwater logs ...`
        if done.returncode != 0 or PACKAGE_DIR in done.stdout + done.stderr:
            out.problems.append(f"{label}: `{' '.join(command)}` exited {done.returncode}: "
                                f"{(done.stdout + done.stderr)[-800:]}")


def check_interrupted(seed: Seed, run_id: str | None, code: int | None, step: str,
                      generator: differential._Generator, out: Outcome, label: str) -> bool:
    """Every check of an interrupted run; False when there is no run to resume."""
    no_strays(seed, out, label)
    integrity(seed, out, label)
    if run_id is None:
        out.problems.append(f"{label}: no run id was written")
        return False
    reading = seed.read(run_id)
    if "read_error" in reading:
        out.problems.append(f"{label}: the client cannot read run {run_id}: "
                            f"{reading['read_error']}")
        return False
    # a task killed in a step that retries or catches is carried on: the run may succeed
    carried = step in generator.retried() or step in generator.steps and any(
        d.startswith("@catch") for d in generator.steps[step].decorators)
    if code is not None and reading["successful"] and not carried:
        out.problems.append(f"{label}: the interrupted run {run_id} reads successful "
                            f"(exit {code})")
    if code is not None and not reading["finished"]:
        out.problems.append(f"{label}: the interrupted run {run_id} reads unfinished")
    inspect_interrupted(seed, run_id, reading, out, label)
    return True


def compare(reference: dict, reading: dict, out: Outcome, label: str) -> None:
    if "read_error" in reading:
        out.problems.append(f"{label}: cannot read: {reading['read_error']}")
        return
    if not reading.get("successful"):
        out.problems.append(f"{label}: the run is not successful ({reading.get('status')})")
    ours, theirs = reference["steps"], reading["steps"]
    for name in sorted(set(ours) | set(theirs)):
        if ours.get(name) != theirs.get(name):
            out.problems.append(f"{label}: step {name} differs: "
                                f"{_row_differences(ours.get(name), theirs.get(name))}")


def _row_differences(ours: list[str] | None, theirs: list[str] | None) -> str:
    """What differs between a step's task rows (JSON, sorted) of the reference and the run: the
    keys whose values differ, row by row, each value cut short (whole rows are pages long)."""
    if ours is None or theirs is None or len(ours) != len(theirs):
        return (f"{len(ours or [])} task(s) in the reference, {len(theirs or [])} in the run: "
                f"reference {str(ours)[:600]}, got {str(theirs)[:600]}")
    found = []
    for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
        a, b = json.loads(mine), json.loads(other)
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                found.append(f"task {index} {key}: reference {json.dumps(a.get(key))[:200]}, "
                             f"got {json.dumps(b.get(key))[:200]}")
    return "; ".join(found)


def garbage(seed: Seed, keep: dict[str, dict], out: Outcome) -> None:
    """``gc --dry-run`` works; a real gc of a copy leaves every run in ``keep`` as it was."""
    dry = seed.call("gc", "--dry-run", "--grace", "0", cli=True)
    if dry.returncode != 0:
        out.problems.append(f"gc --dry-run exited {dry.returncode}: {dry.stdout + dry.stderr}")
    if seed.remote is not None:
        copy = seed.remote.copy(seed.datastore, seed.datastore + "-gc-copy")
    else:
        copy = str(seed.folder / "gc-copy")
        shutil.copytree(seed.folder / ".headwater", copy)
    env = {"HEADWATER_DATASTORE_ROOT": copy}
    # a collector killed midway (after its Nth deletion) first: every run still reads the same,
    # and the next collector finishes the job
    killed = seed.call("gc", "--grace", "0", env={**env, "HEADWATER_GC_KILL_AFTER":
                                                   str(seed.plan.gc_kill)}, cli=True)
    if killed.returncode not in (0, -signal.SIGKILL):
        out.problems.append(f"gc killed after {seed.plan.gc_kill} deletion(s) exited "
                            f"{killed.returncode}: {killed.stdout + killed.stderr}")
    for run_id, before in keep.items():
        after = seed.read(run_id, env=env)
        if after != before:
            out.problems.append(f"after a gc killed midway, run {run_id} reads differently: "
                                f"{json.dumps(after)[:1500]}")
    done = seed.call("gc", "--grace", "0", env=env, cli=True)
    if done.returncode != 0:
        out.problems.append(f"gc exited {done.returncode}: {done.stdout + done.stderr}")
    for run_id, before in keep.items():
        after = seed.read(run_id, env=env)
        if after != before:
            out.problems.append(f"after gc, run {run_id} reads differently: "
                                f"{json.dumps(after)[:1500]}")
    if seed.remote is None:
        shutil.rmtree(copy)


def deletion(seed: Seed, keep: dict[str, dict], interrupted: list[str], ref_id: str,
             out: Outcome) -> None:
    """``headwater delete`` of the interrupted runs (and, drawn, the reference), SIGKILLed
    inside its transaction (``delete.rows``) or just after a run's commit
    (``delete.committed``): each run named reads whole or is not found, exactly as far as the
    deletion got; the others read as before; ``gc`` works and changes no reading; the next
    ``delete`` finishes, and a ``gc`` after it frees what only the deleted runs held."""
    draw = random.Random(f"chaos-5-delete-{seed.plan.seed}")
    victims = list(dict.fromkeys(interrupted))
    if draw.random() < 0.5 or not victims:
        victims.append(ref_id)
    point = draw.choice(("delete.rows", "delete.committed"))
    nth = draw.randint(1, len(victims))
    readings = {run_id: keep.get(run_id) or seed.read(run_id) for run_id in victims}
    survivors = {run_id: reading for run_id, reading in keep.items() if run_id not in victims}
    hooks = seed.chaos_dir()
    env = {**seed.env, "HEADWATER_FAULT_POINT": f"{point}#{nth}",
           "HEADWATER_FAULT_DIR": str(hooks)}
    names = [f"{differential.FLOW_NAME}/{run_id}" for run_id in victims]
    proc = subprocess.Popen([sys.executable, "-m", "headwater", "delete", *names],
                            cwd=seed.folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    held = hooks / "held"
    if wait_for(lambda: held.exists() or proc.poll() is not None) and held.exists():
        os.kill(proc.pid, signal.SIGKILL)
        killed = True
    else:
        killed = False
    text, _ = proc.communicate(timeout=DEADLINE_S)
    (hooks / "gate").touch()
    label = f"delete killed at {point}#{nth} of {len(victims)}"
    out.notes.append(label if killed else f"delete ended before {point}#{nth}: exit "
                                          f"{proc.returncode}")
    if not killed:
        out.problems.append(f"{label}: the delete never reached the point: {text[-800:]}")
    gone = nth - 1 if point == "delete.rows" else nth  # the runs whose deletion committed
    integrity(seed, out, label)
    for index, run_id in enumerate(victims):
        after = seed.read(run_id)
        wanted = {"missing": True} if index < gone else readings[run_id]
        if after != wanted:
            out.problems.append(f"{label}: run {run_id} reads {json.dumps(after)[:800]}, not "
                                f"{'gone' if index < gone else 'as before'}")
    for run_id, before in survivors.items():
        if seed.read(run_id) != before:
            out.problems.append(f"{label}: run {run_id}, not deleted, reads differently")
    collected = seed.call("gc", "--grace", "0", cli=True)
    if collected.returncode != 0:
        out.problems.append(f"gc after a killed delete exited {collected.returncode}: "
                            f"{(collected.stdout + collected.stderr)[-800:]}")
    left = victims[gone:]
    for run_id in left:
        if seed.read(run_id) != readings[run_id]:
            out.problems.append(f"{label}: run {run_id}, not yet deleted, reads differently "
                                "after gc")
    if left:
        done = seed.call("delete", *[f"{differential.FLOW_NAME}/{r}" for r in left], cli=True)
        if done.returncode != 0:
            out.problems.append(f"the delete after a killed one exited {done.returncode}: "
                                f"{(done.stdout + done.stderr)[-800:]}")
    collected = seed.call("gc", "--grace", "0", cli=True)
    if collected.returncode != 0:
        out.problems.append(f"gc after the deletes exited {collected.returncode}: "
                            f"{(collected.stdout + collected.stderr)[-800:]}")
    for run_id in victims:
        if seed.read(run_id) != {"missing": True}:
            out.problems.append(f"run {run_id} is still found after its deletion finished")
    for run_id, before in survivors.items():
        after = seed.read(run_id)
        if after != before:
            out.problems.append(f"after the deletes and gc, run {run_id} reads differently: "
                                f"{json.dumps(after)[:1500]}")
    integrity(seed, out, "after the deletes")


# ------------------------------------------------------------------------------------ seeds


def _sequence(hooks: Path) -> list[list[str]]:
    """The ``step pid`` of each number a start hook took; a file the hook has made but not yet
    written (it creates the file first, to take the number) is left out."""
    taken = [p.read_text().split() for p in hooks.glob("seq-*")]
    return [fields for fields in taken if len(fields) >= 2]


def play(seed_no: int, root: Path, executor: str, pg_url: str | None,
         points: bool = False, mode: str | None = None,
         remote: Remote | None = None, twin: bool = False) -> Outcome:
    plan = plan_for(seed_no, executor, pg_url is not None, points, mode, remote is not None,
                    twin)
    control = root / f"seed{seed_no}" / "control.json" if remote is not None else None
    source, generator = flow_source(seed_no, control)
    shape = (f"{len(generator.steps) + 2} steps, {plan.executor}, {plan.mode}"
             + (" at a fault point" if points else "")
             + (f", resume interrupted by {plan.resume_mode}" if plan.resume_mode else "")
             + (", settings on the command line" if plan.settings_on_line else ""))
    out = Outcome(seed_no, shape)
    if generator.expect_failure:
        out.skipped = "its flow fails by design (a merge_artifacts that must fail)"
        return out
    seed = Seed(root, plan, pg_url, remote,
                generator.top_args if plan.seed >= CHAOS5_FROM else ())
    (seed.folder / "flow.py").write_text(source)
    for name, text in generator.files.items():
        (seed.folder / name).write_text(text, encoding="utf-8")
    # the split limit is the differential tool's to test: here a foreach drawn wider than a
    # --max-num-splits drawn with it would only fail the reference run, for no interruption
    args = list(generator.run_args)
    if "--max-num-splits" in args:
        at = args.index("--max-num-splits")
        del args[at:at + 2]
    # a resume does not take its origin's tags (Metaflow's neither): each is given the run's
    # again, or `current.tags` (the sixth grammar's `ctags`) would differ from the reference
    seed.resume_tags = [word for at, tag in enumerate(args[1:]) if args[at] == "--tag"
                        for word in ("--tag", tag)]

    # the reference, counting the hooks' events
    hooks = seed.chaos_dir()
    id_file = seed.run_id_file()
    ref = seed.call("run", *args, "--run-id-file", str(id_file),
                    env={"CHAOS_DIR": str(hooks), "CHAOS_AT": "0",
                         "HEADWATER_FAULT_POINT": "*#0", "HEADWATER_FAULT_DIR": str(hooks)})
    if ref.returncode != 0 and "has no items" in ref.stdout + ref.stderr:
        out.skipped = "its flow fails by design (a foreach over an empty list)"
        return out
    if ref.returncode != 0:
        out.problems.append(f"the reference run failed: {(ref.stdout + ref.stderr)[-1500:]}")
        return out
    ref_id = id_file.read_text().strip()
    reference = seed.read(ref_id)
    if "read_error" in reference:
        out.problems.append(f"cannot read the reference run: {reference['read_error']}")
        return out
    starts = len(list(hooks.glob("seq-*")))
    tasks = sum(len(rows) for rows in reference["steps"].values())
    passes = counted_passes(hooks)

    # the interrupted run
    at = plan.rng.randint(1, max(1, (tasks - 1) if plan.trigger == "meta" else starts))
    trigger = plan.trigger
    points = random.Random(f"chaos-points-{seed_no}")  # a stream of its own, for --points
    if plan.points:
        trigger, at = point_event(points, passes, clones=0)
    run_id, code, step = interrupt(seed, ["run", *args], plan.mode, trigger, at, out, "run")
    if code is None:
        out.notes.append("the run ended before its event")
    if not check_interrupted(seed, run_id, code, step, generator, out, "interrupted run"):
        return out
    # about as many tasks as the resume will run rather than clone
    rerun = tasks - sum(r.count('"(successful)": true')
                        for rows in seed.read(run_id).get("steps", {}).values() for r in rows)
    keep = {ref_id: reference}
    origin = run_id
    rid = None
    if plan.resume_mode:
        at = plan.rng.randint(1, max(1, rerun))
        if plan.resume_trigger == "meta":  # clones count: they are recorded as succeeded
            at = plan.rng.randint(1, max(1, tasks - 1))
        resume_trigger = plan.resume_trigger
        if plan.points:
            resume_trigger, at = point_event(points, passes, clones=tasks - rerun)
            if resume_trigger == "point:record.clone-row":
                at = points.randint(1, max(1, tasks - rerun))
            else:  # a resume runs (and records) only the tasks it does not clone
                at = min(at, max(1, rerun))
        rid, rcode, rstep = interrupt(seed, ["resume", "--origin-run-id", origin,
                                             *seed.resume_tags],
                                      plan.resume_mode, resume_trigger, at, out, "resume")
        if check_interrupted(seed, rid, rcode, rstep, generator, out, "interrupted resume"):
            origin = rid
    for name, done in final_resumes(seed, origin):
        if done.returncode != 0:
            out.problems.append(f"resume of {origin} exited {done.returncode}: "
                                f"{(done.stdout + done.stderr)[-1500:]}")
            continue
        final_id = (seed.folder / f"run-id-{name}").read_text().strip()
        final = seed.read(final_id)
        compare(reference, final, out, f"resumed run {final_id}")
        keep[final_id] = final
    no_strays(seed, out, "resume")
    integrity(seed, out, "the end")
    garbage(seed, keep, out)
    if seed_no >= CHAOS5_FROM:
        deletion(seed, keep, [i for i in (run_id, rid) if i], ref_id, out)
    return out


def final_resumes(seed: Seed, origin: str) -> list[tuple[str, subprocess.CompletedProcess]]:
    """The last resume of ``origin``; with --twin two of them started at once (two users, or a
    retried job, resuming the same failed run): each must finish with the reference data."""
    names = ["final", "twin"] if seed.plan.twin else ["final"]
    seed.set_hooks({})
    procs = {name: subprocess.Popen(
        seed.flow_argv("resume", "--origin-run-id", origin, *seed.resume_tags,
                       "--run-id-file", str(seed.folder / f"run-id-{name}")),
        cwd=seed.folder, env=seed.flow_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for name in names}
    done = []
    for name, proc in procs.items():
        try:
            stdout, stderr = proc.communicate(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        (seed.folder / f"{name}.log").write_text(stdout + stderr)
        done.append((name, subprocess.CompletedProcess(proc.args, proc.returncode, stdout,
                                                       stderr)))
    return done


def seeds_of(text: str) -> list[int]:
    return differential._seeds(text)


@dataclass
class Remote:
    """--dask: a Dask cluster whose workers reach an S3 server (moto), the blobs' home."""

    env: dict[str, str]  # what the run and its readers need: S3 credentials, the Dask address
    endpoint: str
    bucket: str = "chaos"
    scratch: Path | None = None  # where each cluster keeps its logs and scratch space
    cluster: object = None  # tests/servers.py's DaskCluster now running
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _clusters: int = 0

    def start_cluster(self) -> None:
        """A ``dask scheduler`` and two workers (a new one after ``kill-dask-scheduler``: a
        cluster whose scheduler died is started again, as its administrator would)."""
        import servers

        self._stack.close()
        self._clusters += 1
        s3 = servers.s3_env(self.endpoint)
        folder = self.scratch / ("dask" if self._clusters == 1 else f"dask{self._clusters}")
        self.cluster = self._stack.enter_context(
            servers.dask_cluster(folder, {"w1": None, "w2": None}, s3))
        self.env = {**s3, "HEADWATER_DASK_ADDRESS": self.cluster.address}

    def close(self) -> None:
        self._stack.close()

    def root(self, name: str) -> str:
        return f"s3://{self.bucket}/{name}"

    def copy(self, source: str, target: str) -> str:
        """Copy every object under datastore root ``source`` to ``target``; returns ``target``."""
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        prefix = source.split("/", 3)[3] + "/"
        new = target.split("/", 3)[3] + "/"
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=prefix):
            for item in page.get("Contents", []):
                client.copy_object(Bucket=self.bucket, Key=new + item["Key"][len(prefix):],
                                   CopySource={"Bucket": self.bucket, "Key": item["Key"]})
        return target


@contextlib.contextmanager
def dask_and_s3(enabled: bool, scratch: Path):
    """--dask: moto's S3 server and a ``dask scheduler`` with two workers (tests/servers.py),
    the workers configured with the S3 credentials as a real cluster's are."""
    if not enabled:
        yield None
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

    import logging

    import servers

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's line per request
    with servers.moto_s3() as endpoint:
        servers.make_bucket(endpoint, Remote.bucket)
        remote = Remote({}, endpoint, scratch=scratch)
        try:
            remote.start_cluster()
            yield remote
        finally:
            remote.close()


@contextlib.contextmanager
def postgres_databases(enabled: bool):
    """A throwaway PostgreSQL server; yields a function giving a fresh database's URL."""
    if not enabled:
        yield lambda name: None
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

    import servers

    with servers.postgres() as url:
        yield lambda name: servers.fresh_database(url, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0-19", help="A-B or a comma-separated list")
    parser.add_argument("--executor", choices=("local", "spawn", "both"), default="both")
    parser.add_argument("--postgres", action="store_true",
                        help="record the metadata in a throwaway PostgreSQL server")
    parser.add_argument("--dask", action="store_true",
                        help="run the tasks on a Dask cluster (a scheduler, two workers) with "
                             "the blobs in an S3 server (moto) and the metadata in PostgreSQL "
                             "(implies --postgres)")
    parser.add_argument("--points", action="store_true",
                        help="interrupt at headwater's own fault points (src/headwater/"
                             "fault_points.py: a task's result sent, a record half written, "
                             "a transaction not yet committed, ...) instead of the steps' hooks")
    parser.add_argument("--twin", action="store_true",
                        help="end each seed with two resumes of the same run at once (both "
                             "must finish with the reference data)")
    parser.add_argument("--mode", choices=DASK5_MODES,
                        help="interrupt every seed's run this way (the resume's draw is kept)")
    parser.add_argument("--keep", type=Path, help="keep every failing seed's folder here")
    parser.add_argument("--keep-all", action="store_true", help="with --keep: passing seeds too")
    parser.add_argument("--show", type=int, help="print one seed's flow and plan, and exit")
    args = parser.parse_args(argv)
    args.postgres = args.postgres or args.dask
    if args.show is not None:
        plan = plan_for(args.show, args.executor, args.postgres, args.points, args.mode,
                        args.dask, args.twin)
        print(flow_source(args.show)[0])
        print(f"# {plan.executor}, {plan.mode} at {plan.trigger}, resume: {plan.resume_mode}")
        return 0
    passed = failed = skipped = 0
    with tempfile.TemporaryDirectory(prefix="hw-chaos-") as scratch, \
            postgres_databases(args.postgres) as database, \
            dask_and_s3(args.dask, Path(scratch)) as remote:
        root = Path(scratch) / "seeds"
        for seed_no in seeds_of(args.seeds):
            try:
                out = play(seed_no, root, args.executor, database(f"chaos{seed_no}"),
                           args.points, args.mode, remote, args.twin)
            except Exception:  # noqa: BLE001 - the tool's own fault: this seed fails, not all
                import traceback

                out = Outcome(seed_no, "the tool failed",
                              problems=[f"chaos.py raised:\n{traceback.format_exc()}"])
                for folder in (root / f"seed{seed_no}").glob("chaos*"):
                    (folder / "gate").touch()  # nothing of this seed waits on a gate forever
            if out.skipped:
                skipped += 1
                print(f"skipped seed {seed_no}: {out.skipped}", flush=True)
            elif not out.problems:
                passed += 1
                print(f"passed  seed {seed_no} ({out.shape}; {'; '.join(out.notes)})",
                      flush=True)
            else:
                failed += 1
                print(f"FAILED  seed {seed_no} ({out.shape}; {'; '.join(out.notes)})",
                      flush=True)
                for problem in out.problems:
                    print("    " + problem[:2500], flush=True)
                if args.keep:
                    shutil.copytree(root / f"seed{seed_no}", args.keep / f"seed{seed_no}",
                                    dirs_exist_ok=True)
                    if remote is not None:  # the Dask workers' logs say what they saw
                        shutil.copytree(Path(scratch) / "dask", args.keep / "dask",
                                        dirs_exist_ok=True)
            if args.keep and args.keep_all and (root / f"seed{seed_no}").exists():
                shutil.copytree(root / f"seed{seed_no}", args.keep / f"seed{seed_no}",
                                dirs_exist_ok=True)
            with contextlib.suppress(OSError):
                shutil.rmtree(root / f"seed{seed_no}")
    print(f"chaos: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
