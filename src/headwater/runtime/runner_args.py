"""The Runner's parameter checks, made in the child once the flow's parameters are known.

Metaflow's ``Runner(...).run(n="abc")`` refuses a Python value of the wrong type for a parameter
(a ``str`` for an ``int``, an ``int`` for a ``str``) with a ``TypeError``, and a missing required
parameter with a ``ValueError``, before any run exists. headwater's Runner never imports the flow
in the caller (a run costs what the command line costs), so it cannot know the parameters' types
there. It hands the child the Python type of each value it passed instead
(``HEADWATER_RUNNER_ARGS``, a JSON object ``{"types": {name: type}, "refusal": path}``); the child
checks them here, after configs and mutators settled the parameters and before a run is
registered, and writes a refusal (``{"kind": "TypeError", "message": ...}``) the Runner raises as
that exception.

Only a child started by the Runner has the variable; it is removed from the environment at once,
so the run's tasks do not inherit it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from headwater.exceptions import HeadwaterException, ParameterError
from headwater.flow.parameters import JSONTypeClass, flow_parameters
from headwater.spelling import closest

RUNNER_ARGS_ENV = "HEADWATER_RUNNER_ARGS"

# The Python types a parameter of each declared type accepts from the Runner (Metaflow's rule:
# an int is a float too, a bool an int; a str is only a str). JSONType takes anything.
_ACCEPTED = {int: {"int", "bool"}, float: {"int", "float", "bool"}, str: {"str"},
             bool: {"bool"}}


class RunnerArgs:
    """What the Runner told the child about the values it passed."""

    def __init__(self, types: Mapping[str, str], refusal: str | None) -> None:
        self.types = dict(types)
        self.refusal = refusal

    @classmethod
    def take(cls) -> RunnerArgs | None:
        """Read and remove ``HEADWATER_RUNNER_ARGS``; None when the Runner did not start us."""
        text = os.environ.pop(RUNNER_ARGS_ENV, None)
        if not text:
            return None
        try:
            spec = json.loads(text)
        except ValueError:
            return None
        return cls(spec.get("types") or {}, spec.get("refusal"))

    def check(self, flow_cls: type, given: dict[str, Any]) -> None:
        """Refuse a value whose Python type the parameter does not take (TypeError for the
        Runner). A ``JSONType`` parameter given a ``str`` keeps it as that string, as Metaflow's
        Runner passes every JSONType value as JSON."""
        by_name = {p.name: p for p in flow_parameters(flow_cls).values()}
        for name in self.types:
            # A name that is no parameter but an option of `run` (`run-id-file`, `executor`,
            # `dask-address`, `package-suffixes`, ...) reached the command line as that option:
            # run(**form) with a form's keys wrote the run id over any file the caller may
            # write, or sent the run's code and data to another Dask cluster. Metaflow's Runner
            # refuses any argument that is neither one of its own nor a parameter.
            if name not in by_name:
                self.refuse(unknown_argument(flow_cls, name), "ValueError")
        for name, given_type in self.types.items():
            param = by_name.get(name)
            if param is not None and given_type == "NoneType" and param.required:
                self.refuse(ParameterError(
                    f"Invalid type for the required parameter '{name}' of {flow_cls.__name__}: "
                    "got None",
                    fix=f"pass a value, e.g. Runner(...).run({name}=...): None means \"not "
                    "given\", which a required parameter does not allow"), "TypeError")
            if param is None or name not in given:
                continue  # an unknown name is refused where the names are checked
            if getattr(param, "multiple", False):
                if given_type in ("list", "tuple"):  # run(val=[1, 2]): the values, not one
                    given[name] = _listed_values(given[name])
                continue
            if isinstance(param.type, JSONTypeClass):
                if given_type == "str":
                    _note_json_text(flow_cls, name, given[name])
                    given[name] = json.dumps(given[name])
                continue
            accepted = _ACCEPTED.get(param.type) if isinstance(param.type, type) else None
            if accepted is None or given_type in accepted or param.separator is not None:
                continue
            declared = param.type.__name__
            text = given[name]  # the value as the command line carried it
            shown = repr(text) if given_type == "str" else text
            self.refuse(ParameterError(
                f"Invalid type for parameter '{name}' of {flow_cls.__name__}: expected "
                f"{declared}, got {given_type} {shown}",
                fix=f"pass a Python {declared}, e.g. Runner(...).run({name}="
                f"{_EXAMPLES[param.type]}): the Runner's arguments are Python values, not "
                "command-line text"), "TypeError")

    def refuse(self, error: HeadwaterException, kind: str) -> None:
        """Tell the Runner which exception to raise for ``error``, then raise it here."""
        self.record(error, kind)
        raise error

    def record(self, error: HeadwaterException, kind: str) -> None:
        """Tell the Runner which exception (``TypeError``/``ValueError``) to raise for
        ``error``; this process reports its own error as usual."""
        if self.refusal:
            try:
                with open(self.refusal, "w", encoding="utf-8") as handle:
                    json.dump({"kind": kind, "message": str(error)}, handle)
            except OSError:
                pass  # the Runner then reports the command's output, as for any other failure


_EXAMPLES = {int: "3", float: "0.5", str: "'text'", bool: "True"}


def _note_json_text(flow_cls: type, name: str, text: str) -> None:
    """``run(lrs="[0.5]")``: the command line's text given to the Runner, which passes a str to
    a JSONType parameter as that string (Metaflow's rule, kept), so a foreach then iterates its
    characters. Say so when the text reads as a JSON list or object."""
    import sys

    try:
        value = json.loads(text)
    except ValueError:
        return
    if not isinstance(value, (list, dict)):
        return
    sys.stderr.write(
        f"Note: parameter '{name}' of {flow_cls.__name__} (JSONType) was given the str "
        f"{text[:80]!r}, which the Runner passes as that string, not as the "
        f"{type(value).__name__} it spells (as Metaflow's does); pass the value itself: "
        f"Runner(...).run({name}={text[:80]})\n")
    sys.stderr.flush()


# A keyword of `Runner(...).run()` that is no parameter of the flow -> the keyword that does it.
RUNNER_ARGUMENTS: dict[str, str] = {
    **dict.fromkeys(("retries", "retry", "max_retries"), "decospecs=['retry:times=3']"),
    **dict.fromkeys(("timeout", "timeout_seconds"), "decospecs=['timeout:seconds=600']"),
    **dict.fromkeys(("concurrency", "concurrency_limit", "max_concurrency", "parallelism",
                     "workers", "num_workers"), "max_workers=4"),
    "cache": "decospecs=['cache'] (no_cache=True runs every @cache step)",
    **dict.fromkeys(("params", "parameters"), "each parameter as a keyword of its own, "
                    "run(alpha=0.6)"),
    **dict.fromkeys(("name", "run_name", "flow_run_name"), "tags=['name']"),
}


def unknown_argument(flow_cls: type, name: str) -> HeadwaterException:
    """The error for ``Runner(...).run(NAME=...)`` when NAME is no parameter of the flow: a close
    spelling of a parameter, or the keyword that does what another tool's word asks for
    (``retries=3`` -> ``decospecs=['retry:times=3']``)."""
    from headwater.runtime.parameters import ParameterNotGivenError

    known = sorted(p.name for p in flow_parameters(flow_cls).values())
    close = closest(name, known)
    hint = f"; did you mean {close!r}?" if close else ""
    instead = RUNNER_ARGUMENTS.get(name.lower()) if not close else None
    return ParameterNotGivenError(
        f"Runner(...).run() was given {name!r}, which is not a parameter of {flow_cls.__name__}"
        f"{hint}",
        fix=(f"for {name}, pass {instead}; " if instead else "")
        + f"its parameters are {', '.join(known) or 'none'}; run() also takes tags, "
        "max_workers, max_num_splits, run_id_file, no_cache and decospecs")


def _listed_values(raw: Any) -> Any:
    """``run(val=[1, 2])`` for a ``multiple=True`` parameter: the Runner passed the list as one
    JSON option (it cannot know the parameter repeats); its items are the values, as Metaflow's
    Runner repeats the option for them."""
    text = raw[0] if isinstance(raw, (list, tuple)) and len(raw) == 1 else raw
    if not isinstance(text, str):
        return raw
    try:
        values = json.loads(text)
    except ValueError:
        return raw
    return tuple(values) if isinstance(values, list) else raw
