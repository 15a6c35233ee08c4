"""From declarations to ready environments, before any task starts.

For each distinct declaration of the flow: find the interpreter, take the lock from the run
being resumed, else from the lock cache (same declaration, same Python, same runtime needs),
else resolve it; then build the environment of each distinct lock once (cached by the lock's
hash). Any failure names the step and stops the launch before the run is even registered.

Besides the step's own packages, every environment holds what headwater's task runtime imports
(its core dependencies) and what the run's datastore and metadata backends need in a task
(``needs``, from :mod:`~headwater.environments.backend_packages`: s3fs for an S3 datastore,
psycopg for PostgreSQL metadata). A package the step declares itself wins over one of those.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headwater.environments import cache
from headwater.environments.declaration import EnvDeclaration, step_declarations
from headwater.environments.interpreters import find_interpreter
from headwater.environments.lock import EnvLock, step_lock
from headwater.exceptions import StepEnvironmentError
from headwater.redaction import hide_url_credentials

READY_MARK = "headwater-env.json"
_FALLBACK_RUNTIME = ["click>=8.1", "xxhash>=3.4", "fsspec>=2024.2"]


@dataclass(frozen=True)
class BuiltEnv:
    """An environment ready to run tasks: its lock and its interpreter."""

    lock: EnvLock
    path: Path | None  # None: only locked here, built by the (Dask) workers that run it

    @property
    def python(self) -> str:
        assert self.path is not None, "an environment locked only, not built here"
        return str(self.path / "bin" / "python")


def env_environ(env: BuiltEnv) -> dict[str, str]:
    """This process's environment variables, as a task in ``env`` should see them: its
    ``bin`` first on PATH, and nothing that would add the launcher's own packages."""
    environ = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    environ["VIRTUAL_ENV"] = str(env.path)
    environ["PATH"] = os.pathsep.join([str(env.path / "bin"), environ.get("PATH", "")])
    return environ


def runtime_requirements() -> list[str]:
    """What headwater's task runtime imports: its own core dependencies, no extras."""
    try:
        declared = importlib.metadata.requires("headwater") or []
    except importlib.metadata.PackageNotFoundError:
        return list(_FALLBACK_RUNTIME)
    return sorted(r for r in declared if "extra ==" not in r and "extra==" not in r)


def _backend(kind: str) -> Any:
    """The environment backend of ``kind`` ("pypi", "conda"), from the registry of backends."""
    from headwater import backends

    return backends.get("environment", kind).load()


def added_packages(declared: EnvDeclaration, needs: Mapping[str, str] | None = None
                   ) -> dict[str, str]:
    """The backends' packages (requirement -> why) headwater adds to ``declared``: those of
    ``needs`` whose project the step does not declare itself (the step's own version wins)."""
    own = {_project(name) for name, _ in declared.packages}
    return {req: why for req, why in (needs or {}).items() if _project(req) not in own}


def lock_for(declared: EnvDeclaration, *, resolve: bool = True,
             needs: Mapping[str, str] | None = None) -> EnvLock | None:
    """The lock of ``declared``: from the lock cache, else resolved now (None if not allowed).

    ``needs``: the packages the run's backends need in a task (requirement -> why), added to
    headwater's runtime requirements; the lock cache keys on them too."""
    interpreter, version = find_interpreter(declared.python)
    added = added_packages(declared, needs)
    runtime = runtime_requirements() + sorted(added)
    path = cache.section("locks") / f"{declared.key(version, runtime)}.json"
    if path.is_file():
        return EnvLock.from_dict(json.loads(path.read_text()))
    if not resolve:
        return None
    try:
        text = _backend(declared.kind).resolve(declared, interpreter, version, runtime)
    except StepEnvironmentError as err:
        if not added:
            raise
        from headwater.environments.backend_packages import describe

        raise StepEnvironmentError(
            f"{err.msg} (headwater adds {describe(added)} to every environment of this run)",
            fix=f"{err.fix}; to choose the version of a package headwater adds, list it among "
            "the step's packages") from None
    lock = EnvLock(declared.kind, version, declared.to_dict(), text)
    cache.write_atomic(path, json.dumps(lock.to_dict(), indent=1))
    return lock


def build_env(lock: EnvLock) -> tuple[BuiltEnv, bool]:
    """The environment of ``lock``, built now unless cached; returns it and whether it was."""
    envs = cache.section("envs")
    target = envs / lock.id
    if (target / READY_MARK).is_file():
        return BuiltEnv(lock, target), True
    interpreter, _ = find_interpreter(lock.python)
    cache.sweep_stale(envs)  # what killed builds left: never used, only removed
    staging = cache.staging_dir(envs, lock.id)
    try:
        _backend(lock.kind).build(lock, interpreter, staging)
        (staging / READY_MARK).write_text(json.dumps(lock.to_dict(), indent=1))
        cache.publish(staging, target, lambda done: (done / READY_MARK).is_file())
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return BuiltEnv(lock, target), False


def prepare_environments(flow_cls: type, policies: Mapping[str, Any],
                         say: Callable[[str], None] = lambda line: None,
                         recorded: dict[str, Any] | None = None,
                         build: bool = True,
                         needs: Mapping[str, str] | None = None) -> dict[str, BuiltEnv]:
    """Step name -> its built environment, for every step that declares one.

    ``recorded``: the environments record of the run being resumed; a step whose declaration
    is unchanged reuses the lock recorded there instead of resolving again (unless it lacks a
    package of ``needs``). ``build=False`` only locks (for executors whose workers build the
    environments themselves). ``needs``: what the run's datastore and metadata backends need
    in a task (:func:`~headwater.environments.backend_packages.backend_packages`).
    """
    declarations = step_declarations(flow_cls, policies)
    flow = flow_cls.__name__
    if needs and declarations:
        from headwater.environments.backend_packages import describe

        say(f"    Adding {describe(dict(needs))} to each environment")
    locks: dict[EnvDeclaration, EnvLock] = {}
    for step, declared in declarations.items():
        if declared in locks:
            continue
        try:
            locks[declared] = (_recorded(recorded, step, declared, needs, say)
                               or _lock_now(declared, say, needs))
        except StepEnvironmentError as err:
            raise StepEnvironmentError(f"step '{step}' of {flow}: {err.msg}", fix=err.fix) from None
    built: dict[str, BuiltEnv] = {}
    for declared, lock in locks.items():
        steps = [s for s, d in declarations.items() if d == declared]
        if not build:
            say(f"    Environment {lock.id[:12]} for {', '.join(steps)}: {_summary(lock)} "
                "(locked; the workers build it)")
            built.update(dict.fromkeys(steps, BuiltEnv(lock, None)))
            continue
        start = time.monotonic()
        try:
            env, cached = build_env(lock)
        except StepEnvironmentError as err:
            raise StepEnvironmentError(f"step '{steps[0]}' of {flow}: {err.msg}",
                                       fix=err.fix) from None
        how = "cached" if cached else f"built in {time.monotonic() - start:.1f}s"
        say(f"    Environment {lock.id[:12]} for {', '.join(steps)}: {_summary(lock)} ({how})")
        built.update(dict.fromkeys(steps, env))
    return built


def _recorded(record: dict[str, Any] | None, step: str, declared: EnvDeclaration,
              needs: Mapping[str, str] | None, say: Callable[[str], None]) -> EnvLock | None:
    """The lock ``step`` ran with in the run being resumed, if its declaration is unchanged
    and it holds every package the backends need (a run made before they were added did not)."""
    lock = step_lock(record, step)
    if lock is None or lock.declared != declared.to_dict():
        return None
    pinned = {_project(p) for p in lock.pinned()}
    missing = [req for req in added_packages(declared, needs) if _project(req) not in pinned]
    if missing:
        say(f"    The lock step {step} ran with lacks {', '.join(missing)}: resolving anew")
        return None
    return lock


def _lock_now(declared: EnvDeclaration, say: Callable[[str], None],
              needs: Mapping[str, str] | None) -> EnvLock:
    lock = lock_for(declared, resolve=False, needs=needs)
    if lock is None:
        say(f"    Resolving {declared.describe()}...")
        lock = lock_for(declared, needs=needs)
    assert lock is not None
    return lock


def _project(name: str) -> str:
    """A package's normalized name: ``Requests[socks]`` and ``requests`` are one project."""
    bare = re.split(r"[\[=<>!~ ;@]", name.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


def _summary(lock: EnvLock) -> str:
    names = {_project(n) for n in lock.declared.get("packages", {})}
    shown = [p for p in lock.pinned() if _project(p) in names]
    return hide_url_credentials(f"{lock.kind}, python {lock.python}"
                                + (f", {', '.join(shown)}" if shown else ""))
