"""What a step asked for: its @pypi/@conda declaration merged with the flow's ``_base`` one.

Merging follows Metaflow: the step's packages are added to (and override) the flow-wide ones of
the same kind, its ``python`` wins over the flow's, and ``disabled=True`` sends the step back to
the interpreter running the flow. A step with no declaration of its own takes the flow's.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from headwater.environments.decorators import base_declaration
from headwater.exceptions import FlowDefinitionError

_OPERATORS = ("=", "<", ">", "!", "~", "@")
CHANNELS_ENV = "HEADWATER_CONDA_CHANNELS"  # comma-separated; default: conda-forge


def default_channels() -> tuple[str, ...]:
    """The conda channels of a @conda step that names none (part of its declaration)."""
    given = os.environ.get(CHANNELS_ENV, "")
    return tuple(c.strip() for c in given.split(",") if c.strip()) or ("conda-forge",)


@dataclass(frozen=True)
class EnvDeclaration:
    """One environment as declared: its kind, Python version and packages (name -> spec)."""

    kind: str  # "pypi" or "conda"
    python: str | None  # "3.11", or None for the version running the flow
    packages: tuple[tuple[str, str], ...]  # sorted (name, version spec)
    channels: tuple[str, ...] = ()  # conda only

    def requirements(self) -> list[str]:
        """The packages as requirement strings: ``name==1.0``, ``name>=1``, or ``name``."""
        return [requirement(self.kind, name, spec) for name, spec in self.packages]

    def describe(self) -> str:
        """As printed: a package URL's credentials masked (the text goes to consoles and logs)."""
        from headwater.redaction import hide_url_credentials

        pkgs = ", ".join(self.requirements()) or "no packages"
        return hide_url_credentials(f"@{self.kind} ({pkgs}; python {self.python or 'as running'})")

    def key(self, *extra: Any) -> str:
        """A hash of the declaration (and ``extra``: the exact Python, the runtime's needs)."""
        blob = json.dumps([self.kind, self.python, self.packages, self.channels, extra],
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "python": self.python, "packages": dict(self.packages),
                "channels": list(self.channels)}


def requirement(kind: str, name: str, spec: str) -> str:
    spec = spec.strip()
    if not spec:
        return name.strip()
    if spec.startswith(_OPERATORS):
        return f"{name.strip()}{spec}"
    return f"{name.strip()}=={spec}"


def _merge(base: Mapping[str, Any] | None, own: Mapping[str, Any] | None) -> EnvDeclaration | None:
    if own is not None and own.get("disabled"):
        return None
    if own is None:
        if base is None or base.get("disabled"):
            return None
        own, base = base, None
    packages = dict(own["packages"])
    python = own.get("python")
    channels = list(own.get("channels") or [])
    if base is not None and not base.get("disabled") and base["kind"] == own["kind"]:
        packages = {**base["packages"], **packages}
        python = python or base.get("python")
        channels = list(dict.fromkeys([*channels, *(base.get("channels") or [])]))
    if own["kind"] == "conda" and not channels:  # the channels a lock came from are part of it
        channels = list(default_channels())
    return EnvDeclaration(own["kind"], python, tuple(sorted(packages.items())), tuple(channels))


def step_declarations(flow_cls: type, policies: Mapping[str, Any], strict: bool = True
                      ) -> dict[str, EnvDeclaration]:
    """Step name -> its environment, for the steps that run in one (the others are absent).

    ``strict`` (environments about to be built) refuses a step holding both @pypi and @conda;
    otherwise such a step is described by the first of the two, since nothing will be built
    (a run without ``--environment`` ignores the pair, as Metaflow does)."""
    base = base_declaration(flow_cls)
    found = {}
    for step, policy in policies.items():
        own = getattr(policy, "python_env", None)
        if strict and own is not None and own.get("also"):
            raise FlowDefinitionError(
                f"step '{step}' of {flow_cls.__name__} has both @{own['kind']} and @{own['also']}",
                fix="keep one: @pypi for PyPI packages, @conda for conda packages")
        declared = _merge(base, own)
        if declared is not None:
            found[step] = declared
    return found
