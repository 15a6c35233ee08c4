"""@cache: the key a task is known by, and the earlier task a new one can reuse.

A task of a ``@cache`` step is reused, instead of run, when an earlier succeeded task of the same
flow and step was recorded under the same key. The key is a hash of what the scheduler can see
before the task starts:

* code: the source of the step's function and the bytes of the file(s) that define the flow
  and its steps; code compiled without a file (``exec`` of a string, text registered with
  ``linecache`` as IPython does) by its compiled code instead (:mod:`.code_fingerprint`);
* inputs: the content key of every artifact of every parent task (a join: of all its inputs),
  in parent order, except the list a foreach iterates over (the task's own item stands for it);
* each foreach item the task sits under, by the content key of the item itself, so its position
  does not matter and adding one item to a foreach leaves the other items' keys unchanged;
* the run's parameters and configs (their content keys), but for a parameter a foreach the task
  sits under iterates over (its item stands for it, as for an artifact's list);
* the environment: the step's @pypi/@conda lock when it has one, else the interpreter's version;
  always the headwater version and the step's @environment variables;
* for a ``@project`` flow, its project and branch (``shop.prod.Flow``): a step reads them through
  ``current`` to name its branch's own tables and paths, and a ``--production`` run reusing what
  a user's branch computed would write where that branch points. Branches are @project's wall
  between people's work and production; the cache never crosses it.

What the key cannot see (files read from disk, the network, the clock, modules imported from
other files) is the user's to vary: ``--no-cache``, a change to the step, or an expiry:
``@cache(max_age="7d")`` (or ``HEADWATER_CACHE_MAX_AGE`` for every @cache step of a run; the
shorter wins) reuses only a result computed less than that long ago. A result's age runs from
when its task ran, not from when a later run last reused it: a result reused daily still expires.
An expired one is not reused: the step runs, says why in one line, and its fresh result is
recorded under the same key (newer entries win the lookup).

Reuse is resume's clone: a metadata record whose manifest names the earlier task's blobs;
nothing is copied. The lookup is one indexed query by (flow, step, key).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

import xxhash

from headwater.decorators.base import StepPolicy
from headwater.exceptions import HeadwaterException
from headwater.flow.step import step_members
from headwater.graph.model import Graph
from headwater.meta.tags import transient_names_of
from headwater.records import TaskResult, TaskSpec
from headwater.runtime.resume import CloneSource, transient_data_kept
from headwater.version import __version__

KEY_VERSION = "1"  # bump when what goes into a key changes: older keys then never match
MAX_AGE_ENV = "HEADWATER_CACHE_MAX_AGE"
# In a reused task's facts: when the result it reuses was computed (its age runs from then).
COMPUTED_AT = "cache-computed-at"
_MAX_ORIGIN_HOPS = 64  # reused tasks recorded before COMPUTED_AT: how far to follow origins


class StepCache:
    """Computes cache keys for a run's @cache steps and finds the tasks they can reuse."""

    def __init__(self, *, flow_cls: type, graph: Graph, policies: Mapping[str, StepPolicy],
                 meta: Any, store: Any, step_envs: Mapping[str, Any] | None = None,
                 lookup: bool = True, fresh_steps: frozenset[str] = frozenset(),
                 branch: str | None = None, run_max_age_s: float | None = None) -> None:
        self.flow_cls = flow_cls
        self.flow_name = flow_cls.__name__
        self.graph = graph
        self.meta = meta
        self.store = store
        self.lookup = lookup  # False with --no-cache: keys are recorded, nothing is reused
        self.fresh_steps = fresh_steps  # `resume STEP`: the user asked for STEP to run again
        self.branch = branch  # @project: "<project>.<branch>.<Flow>", part of every key
        self._cached_steps = {step for step, policy in policies.items() if policy.cache}
        self._policies = policies
        self._step_envs = dict(step_envs or {})
        self._flow_file = _flow_file_hash(flow_cls)
        self._flow_cls = flow_cls
        self._local_modules: list[str] | None = None  # read at the first reuse (changed_since)
        self._static: dict[str, list[Any]] = {}  # step -> its code and environment parts
        self._item_keys: dict[str, list[str]] = {}  # items blob -> each item's content key
        self._transient: dict[str, frozenset[str]] = {}  # run id -> its @transient names
        self.run_max_age_s = run_max_age_s  # HEADWATER_CACHE_MAX_AGE, for every @cache step
        self.missed: str | None = None  # why the last find() found an entry it did not reuse

    def wants(self, step: str) -> bool:
        return step in self._cached_steps

    def key_for(self, spec: TaskSpec) -> str:
        """The cache key of ``spec`` (a hex digest); see the module docstring for its parts."""
        parts = [KEY_VERSION, *self._static_parts(spec.step),
                 self._param_parts(spec), self._input_parts(spec), self._item_parts(spec)]
        blob = json.dumps(parts, separators=(",", ":")).encode()
        return xxhash.xxh3_128(blob).hexdigest()

    def find(self, spec: TaskSpec, key: str) -> CloneSource | None:
        """The earlier succeeded task recorded under ``key`` for this step, or None (then
        :attr:`missed` says why when an entry was found but has expired)."""
        self.missed = None
        if not self.lookup or spec.step in self.fresh_steps:
            return None
        row = self.meta.find_cached_task(self.flow_name, spec.step, key)
        if row is None:
            return None
        computed_at = self._computed_at(row)
        self.missed = self._expired(spec.step, row.pathspec, computed_at)
        if self.missed is not None:
            return None
        where = (row.flow, row.run_id, row.step, row.task_id)
        manifest = self.meta.get_artifacts(*where)
        if not transient_data_kept(self.store, manifest, self._transient_names(row.run_id)):
            return None  # gc freed the @transient data this task's result needs: run it again
        last = (self.meta.list_attempts(*where) or [None])[-1]
        if not self._data_here(manifest, last):
            return None
        transition = row.transition or {}
        result = TaskResult(
            manifest=manifest,
            next_steps=tuple(transition.get("next_steps", ())),
            foreach_count=transition.get("foreach_count"),
            foreach_items_key=transition.get("foreach_items_key"),
            foreach_unbounded=bool(transition.get("foreach_unbounded")),
            cards=list(transition.get("cards", ())),  # @card: the card comes with the task
            metadata={"cache-key": key, "cached-from": row.pathspec,
                      COMPUTED_AT: repr(computed_at)},
        )
        return CloneSource(row.pathspec, manifest, result, getattr(last, "stdout_key", None),
                           getattr(last, "stderr_key", None), row.finished_at)

    def computed_by(self, source: CloneSource) -> tuple[str, float | None]:
        """The task that computed the result ``source`` carries, and when it ended: a reused
        task is a clone, perhaps of a clone; its origins are followed (at most 50)."""
        pathspec, when = source.pathspec, source.finished_at
        for _ in range(50):
            parts = pathspec.split("/")
            row = self.meta.get_task(*parts) if len(parts) == 4 else None
            if row is None:
                break
            when = row.finished_at
            if not row.origin_pathspec:
                break
            pathspec = row.origin_pathspec
        return pathspec, when

    def changed_since(self, when: float | None) -> list[str]:
        """The project's own modules (imported from the flow file's folder or below it, not
        from an installed package) modified after ``when``: what a reused result may not
        reflect, since the key holds the flow file's bytes only. Names relative to the folder."""
        if when is None:
            return []
        if self._local_modules is None:
            self._local_modules = _local_module_files(self._flow_cls)
        changed = []
        for path in self._local_modules:
            try:
                if os.stat(path).st_mtime > when:
                    changed.append(path)
            except OSError:
                continue
        folder = os.path.dirname(os.path.realpath(getattr(sys.modules.get(
            self._flow_cls.__module__), "__file__", None) or "."))
        return [os.path.relpath(path, folder) for path in changed]

    def max_age_s(self, step: str) -> tuple[float | None, str]:
        """The age past which ``step``'s results are not reused, and what set it."""
        own = (self._policies.get(step) or StepPolicy()).cache_max_age_s
        run = self.run_max_age_s
        if run is not None and (own is None or run < own):
            return run, MAX_AGE_ENV
        return own, f"@cache(max_age=...) on step '{step}'"

    def _expired(self, step: str, pathspec: str, computed_at: float) -> str | None:
        """The one line saying why the result of ``pathspec`` is too old, or None."""
        from headwater.durations import shown

        limit, by = self.max_age_s(step)
        if limit is None:
            return None
        age = time.time() - computed_at
        if age <= limit:
            return None
        return (f"@cache: the result of {pathspec} was computed {shown(age)} ago, longer than "
                f"the {shown(limit)} {by} allows; the step runs again")

    def _computed_at(self, row: Any) -> float:
        """When the result ``row`` holds was computed: its own end for a task that ran; for one
        that reused an earlier result, the time it recorded (or, recorded before that fact
        existed, its origin's, followed back). An origin no longer recorded (its run deleted)
        leaves the oldest time still known."""
        for _ in range(_MAX_ORIGIN_HOPS):
            facts = (row.transition or {}).get("metadata") or {}
            stamp = facts.get(COMPUTED_AT)
            if stamp is not None:
                try:
                    return float(stamp)
                except (TypeError, ValueError):
                    pass
            origin = row.origin_pathspec
            if not origin or origin.count("/") != 3:
                break
            earlier = self.meta.get_task(*origin.split("/"))
            if earlier is None:
                break
            row = earlier
        return row.finished_at if row.finished_at is not None else row.created_at

    def _data_here(self, manifest: Mapping[str, Any], last: Any) -> bool:
        """Whether every blob the earlier task's result names (its artifacts and its output) is in
        this run's store. One metadata database may serve several stores (a laptop's folder and
        a team's bucket): a task found under the same key but run against another store would be
        reused with data this run cannot read, and the next step failed on a missing blob."""
        keys = {ref.key for ref in manifest.values() if ref.inline is None}
        keys |= {key for key in (getattr(last, "stdout_key", None),
                                 getattr(last, "stderr_key", None)) if key}
        return not keys or self.store is None or self.store.has_many(keys) == keys

    def _transient_names(self, run_id: str) -> frozenset[str]:
        if run_id not in self._transient:
            run = self.meta.get_run(self.flow_name, run_id)
            self._transient[run_id] = (transient_names_of(run.system_tags) if run is not None
                                       else frozenset())
        return self._transient[run_id]

    # -- the parts of a key ---------------------------------------------------------------------
    def _static_parts(self, step: str) -> list[Any]:
        """What is the same for every task of ``step`` in this run: code and environment."""
        parts = self._static.get(step)
        if parts is None:
            policy = self._policies.get(step) or StepPolicy()
            env = self._step_envs.get(step)
            lock = getattr(getattr(env, "lock", None), "id", None)
            python = None if lock else ".".join(map(str, sys.version_info[:3]))
            env_part = {"lock": lock, "python": python, "headwater": __version__,
                        "vars": sorted(policy.env.items())}
            if self.branch is not None:  # only then: a flow without @project keeps its keys
                env_part["branch"] = self.branch
            parts = self._static[step] = [
                self._flow_file, _step_source_hash(self.flow_cls, step), env_part]
        return parts

    def _iterated(self, spec: TaskSpec) -> set[str | None]:
        """The lists the foreaches ``spec`` sits under iterate over (each task is keyed on its
        own item instead, see _item_parts)."""
        return {self.graph[f.step].foreach_var for f in spec.frames if f.is_foreach}

    def _param_parts(self, spec: TaskSpec) -> list[list[str]]:
        # A sweep's list is often a parameter itself (`foreach="lrs"`, `--lrs '[...]'`):
        # adding a value to it leaves the other items' tasks alone, as for an artifact's list.
        iterated = self._iterated(spec)
        return _sorted_keys({name: ref for name, ref in spec.params.items()
                             if name not in iterated})

    def _input_parts(self, spec: TaskSpec) -> list[list[list[str]]]:
        # The list a foreach iterates over changes whenever one item does; each task is keyed
        # on its own item instead (see _item_parts), so that artifact is left out.
        iterated = self._iterated(spec)
        return [_sorted_keys({name: ref for name, ref in parent.manifest.items()
                              if name not in spec.params and name not in iterated})
                for parent in spec.parents]

    def _item_parts(self, spec: TaskSpec) -> list[str]:
        parts = []
        for frame in spec.frames:
            if not frame.is_foreach:
                continue
            if frame.items_key is None:  # @parallel: the workers are told apart by position
                parts.append(f"#{frame.index}")
                continue
            keys = self._item_keys.get(frame.items_key)
            if keys is None:
                keys = self._item_keys[frame.items_key] = self.store.item_keys(
                    frame.items_key, name=self.graph[frame.step].foreach_var or "",
                    where=f"{spec.flow_name}/{spec.run_id}/{frame.step}/{frame.task_id}")
            parts.append(keys[frame.index])
        return parts


def run_max_age(environ: Mapping[str, str] | None = None) -> float | None:
    """``HEADWATER_CACHE_MAX_AGE`` in seconds (None when unset or empty); a value that is no
    duration is a SettingError naming the variable and the fix."""
    from headwater.durations import EXAMPLES, parse_duration
    from headwater.exceptions import SettingError

    raw = (os.environ if environ is None else environ).get(MAX_AGE_ENV, "").strip()
    if not raw:
        return None
    try:
        seconds = parse_duration(raw)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise SettingError(
            f"{MAX_AGE_ENV}={raw[:40]!r} is not a duration longer than zero",
            fix=f"set {MAX_AGE_ENV} to how old a reused @cache result may be, e.g. 7d "
            f"(durations: {EXAMPLES}), or unset it (results never expire)")
    return seconds


def cache_key_or_none(cache: StepCache | None, spec: TaskSpec) -> tuple[str | None, str | None]:
    """``(key, None)`` for a @cache task, ``(None, why)`` when its key cannot be computed (the
    task then runs as if uncached), ``(None, None)`` for other tasks."""
    if cache is None or not cache.wants(spec.step):
        return None, None
    try:
        return cache.key_for(spec), None
    except HeadwaterException as exc:
        return None, f"@cache: no cache key for this task, it runs ({exc.msg})"


def _sorted_keys(manifest: Mapping[str, Any]) -> list[list[str]]:
    return [[name, manifest[name].key] for name in sorted(manifest)]


def _local_module_files(flow_cls: type) -> list[str]:
    """Files of the modules imported from the flow file's folder or below (the flow file itself,
    and anything under a site-packages folder, such as a virtualenv kept in the project, left
    out), at most 200."""
    flow_file = getattr(sys.modules.get(flow_cls.__module__), "__file__", None)
    if not flow_file:
        return []
    flow_file = os.path.realpath(flow_file)
    folder = os.path.dirname(flow_file) + os.sep
    found: list[str] = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            continue
        real = os.path.realpath(path)
        if real.startswith(folder) and real != flow_file and "site-packages" not in real:
            found.append(real)
        if len(found) >= 200:
            break
    return sorted(set(found))


def _flow_file_hash(flow_cls: type) -> str:
    """The flow's code: the bytes of the file(s) that define the flow class and its steps.

    Code compiled without a file (``exec`` of a string, a tool that registers its text with
    ``linecache``) is keyed on its code objects instead (:mod:`.code_fingerprint`), plus the text
    ``linecache`` holds for it if any: a file name alone, or a text that need not be what was
    compiled, would let a changed step hit the old task.
    """
    import inspect  # here and below, not at the top: only @cache steps need it

    files: dict[str, None] = {}  # in order, once each
    try:
        module_file = inspect.getsourcefile(flow_cls)
    except (TypeError, OSError):  # a class of a module without a file (a notebook)
        module_file = None
    for path in [module_file, *(func.__code__.co_filename for func in _step_functions(flow_cls))]:
        if path:  # one name per real file, however it was spelt
            files[os.path.realpath(path) if os.path.isfile(path) else path] = None
    digests = [_file_digest(path) for path in files]
    if digests and all(digests):
        # Only real files: a one-file flow keeps the key it always had (the file's digest).
        return digests[0] if len(digests) == 1 else _digest(json.dumps(digests).encode())
    from headwater.runtime.code_fingerprint import flow_code_parts

    texts = [_registered_text(path) for path in files]
    return _digest(json.dumps([digests, texts, flow_code_parts(flow_cls)]).encode())


def _step_functions(flow_cls: type) -> list[Any]:
    """The flow's step functions, unwrapped, in name order."""
    import inspect

    unwrapped = (inspect.unwrap(func) for _, func in step_members(flow_cls))
    return [func for func in unwrapped if hasattr(func, "__code__")]


def _file_digest(path: str) -> str | None:
    """The digest of the file at ``path``, or None when there is no such file to read."""
    try:
        with open(path, "rb") as handle:
            return xxhash.xxh3_128(handle.read()).hexdigest()
    except OSError:
        return None


def _registered_text(path: str) -> str | None:
    """The text ``linecache`` holds under a name that is no file (what IPython and some code
    generators register), or None."""
    import linecache

    entry = linecache.cache.get(path)
    return "".join(entry[2]) if entry is not None and len(entry) > 2 else None


def _step_source_hash(flow_cls: type, step: str) -> str:
    import inspect

    return _source_hash(inspect.unwrap(getattr(flow_cls, step)))


def _source_hash(obj: Any) -> str:
    import inspect

    try:
        text = inspect.getsource(obj).encode()
    except (OSError, TypeError):  # no source to read: the compiled code stands for it
        from headwater.runtime.code_fingerprint import function_parts

        text = json.dumps(function_parts(obj)).encode()
    return _digest(text)


def _digest(blob: bytes) -> str:
    return xxhash.xxh3_128(blob).hexdigest()
