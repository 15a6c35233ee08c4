"""A resolved environment: exact versions and hashes, named by the hash of its content."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EnvLock:
    """What an environment holds, exactly. ``lock`` is the resolver's output (for PyPI, a
    requirements file with one pinned version and its hashes per package)."""

    kind: str  # "pypi" or "conda"
    python: str  # the exact interpreter version, "3.11.7"
    declared: dict[str, Any]  # the declaration it was resolved from (EnvDeclaration.to_dict())
    lock: str

    @property
    def id(self) -> str:
        """The environment's name in the cache: the same lock is the same environment."""
        blob = json.dumps([self.kind, self.python, self.lock])
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def pinned(self) -> list[str]:
        """``name==version`` for each locked package."""
        if self.kind == "conda":  # JSON: the conda records and the runtime's pypi lock
            data = json.loads(self.lock)
            runtime = EnvLock("pypi", "", {}, data["runtime"]).pinned()
            return sorted([f"{r['name']}=={r['version']}" for r in data["conda"]] + runtime)
        return [line.split()[0].rstrip("\\").strip() for line in self.lock.splitlines()
                if line and not line[0].isspace() and not line.startswith("#")]

    def describe(self) -> str:
        """As a user wrote it: ``@pypi (tabulate==0.9.0; python 3.11.7)``, a package URL's
        credentials masked."""
        from headwater.environments.declaration import requirement
        from headwater.redaction import hide_url_credentials

        packages = self.declared.get("packages", {})
        wanted = ", ".join(requirement(self.kind, n, v) for n, v in packages.items())
        return hide_url_credentials(f"@{self.kind} ({wanted or 'no packages'}; python "
                                    f"{self.python})")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "python": self.python,
                "declared": self.declared, "lock": self.lock}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvLock:
        return cls(data["kind"], data["python"], data["declared"], data["lock"])


def run_record(step_locks: dict[str, EnvLock], *, shown: bool = False) -> dict[str, Any] | None:
    """What a run records: each step's lock id, and each lock once.

    ``shown``: the record goes where others read it (the run's metadata), so the credentials of
    a package URL (``pkg @ https://user:TOKEN@host/...``, which uv writes into the lock as
    given) are masked in the declaration and the lock text; the ids stay those of the real
    locks. A resume then finds the lock in this user's private lock cache (or resolves it
    again) rather than in the record. A deployment's record (``shown=False``) is what its
    pods build from, and keeps them."""
    if not step_locks:
        return None
    locks = {lock.id: lock.to_dict() for lock in step_locks.values()}
    if shown:
        locks = {lock_id: _masked(lock) for lock_id, lock in locks.items()}
    return {"steps": {step: lock.id for step, lock in sorted(step_locks.items())},
            "locks": locks}


def _masked(lock: dict[str, Any]) -> dict[str, Any]:
    from headwater.redaction import hide_url_credentials

    declared = json.loads(hide_url_credentials(json.dumps(lock["declared"])))
    return {**lock, "declared": declared, "lock": hide_url_credentials(lock["lock"])}


def step_lock(record: dict[str, Any] | None, step: str) -> EnvLock | None:
    """The lock ``step`` ran with, from a run's record (None: the flow's own interpreter)."""
    if not record:
        return None
    lock_id = record.get("steps", {}).get(step)
    if lock_id is None:
        return None
    return EnvLock.from_dict(record["locks"][lock_id])
