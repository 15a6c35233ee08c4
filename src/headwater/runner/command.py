"""Python keyword arguments -> the command line the Runner starts.

The Runner never imports the flow to learn its options (that would cost the caller a second import
of the flow and its libraries). It spells arguments the way a user types them instead:

* top-level options: ``quiet=True`` -> ``--quiet``, ``datastore_root='x'`` -> ``--datastore-root x``,
  ``pylint=False`` -> ``--no-pylint``, ``decospecs=['retry']`` (or ``with_``) -> ``--with retry``;
* configs as Metaflow's Runner takes them: ``config=[('cfg', 'cfg.json')]`` ->
  ``--config cfg cfg.json``, ``config_value=[('cfg', {'a': 1})]`` -> ``--config-value cfg '{"a": 1}'``;
* run options: ``tags=['a', 'b']`` -> ``--tag a --tag b``, ``max_workers=4`` -> ``--max-workers 4``,
  ``decospecs=['retry']`` -> ``run --with retry``;
* flow parameters keep their exact name: ``alpha=3`` -> ``--alpha 3``; a dict or list becomes JSON
  (what ``JSONType`` parses), a bool ``true``/``false``.

``None`` means "not given" everywhere, so callers can pass optional values through.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from headwater.exceptions import HeadwaterException

# Top-level boolean options that have a --no- form.
_NEGATABLE = frozenset({"pylint"})
# Python spellings of --with (``with`` itself is a keyword).
_WITH_ALIASES = frozenset({"with_", "decospecs", "with_decorators"})
# Options of run/resume themselves (anything else given to run() is a flow parameter).
_RUN_OPTIONS = {"tags": "--tag", "tag": "--tag", "max_workers": "--max-workers",
                "max_num_splits": "--max-num-splits", "max_log_size": "--max-log-size",
                # run(user_namespace="user:will"): Metaflow's keyword for run --namespace
                "user_namespace": "--namespace"}
# Flags of run/resume: ``no_cache=True`` -> ``--no-cache``.
_RUN_FLAGS = {"no_cache": "--no-cache"}
_RESERVED = frozenset({"runner_attribute_file"})
# Where the child finds the Python types of run()'s parameter values (the same name as
# headwater.runtime.runner_args.RUNNER_ARGS_ENV, which checks them; the runner may not import it).
RUNNER_ARGS_ENV = "HEADWATER_RUNNER_ARGS"


class RunnerArgumentError(HeadwaterException):
    """A keyword argument the Runner cannot turn into a command-line option."""

    headline = "Invalid Runner argument"


def cli_value(value: Any) -> str:
    """One value as the command line spells it (dict/list/tuple as JSON, bools lowercase)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return str(value)


def _dashed(name: str) -> str:
    return "--" + name.rstrip("_").replace("_", "-")


def _repeated(flag: str, value: Any) -> list[str]:
    values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    return [part for item in values for part in (flag, cli_value(item))]


# Top-level options that take (config name, file or value) pairs.
_CONFIG_OPTIONS = {"config": "--config", "config_value": "--config-value"}


def _config_pairs(name: str, value: Any) -> list[str]:
    """``config=[(NAME, PATH), ...]`` or ``config_value=[(NAME, VALUE), ...]`` (a dict works too)
    as repeated two-argument options; a value given as a mapping is passed as JSON."""
    flag = _CONFIG_OPTIONS[name]
    pairs = list(value.items()) if isinstance(value, Mapping) else list(value)
    if pairs and isinstance(pairs[0], str) and len(pairs) == 2:
        pairs = [tuple(pairs)]  # one pair given without its enclosing list
    args: list[str] = []
    for pair in pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise RunnerArgumentError(
                f"{name}: expected (config name, {'path' if name == 'config' else 'value'}) "
                f"pairs, got {pair!r}",
                fix=f"e.g. {name}=[('settings', "
                + ("'settings.json')]" if name == "config" else "{'lr': 0.1})]"),
            )
        config_name, item = pair
        if isinstance(item, Mapping):
            item = json.dumps(_plain_mapping(item))
        args += [flag, str(config_name), str(item)]
    return args


def _plain_mapping(value: Any) -> Any:
    """A ConfigValue (or any mapping) as plain dicts, for JSON."""
    if isinstance(value, Mapping):
        return {key: _plain_mapping(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_mapping(item) for item in value]
    return value


def top_level_args(options: Mapping[str, Any]) -> list[str]:
    """Options that go before the command (``--quiet``, ``--datastore-root DIR``, ...)."""
    args: list[str] = []
    for name, value in options.items():
        if value is None:
            continue
        if name in _WITH_ALIASES:
            args += _repeated("--with", value)
        elif name in _CONFIG_OPTIONS:
            args += _config_pairs(name, value)
        elif isinstance(value, bool):
            if value:
                args.append(_dashed(name))
            elif name in _NEGATABLE:
                args.append("--no-" + _dashed(name)[2:])
        elif isinstance(value, (list, tuple)):
            args += _repeated(_dashed(name), value)
        else:
            args += [_dashed(name), cli_value(value)]
    return args


def run_args(kwargs: Mapping[str, Any]) -> list[str]:
    """Options of ``run`` (tags, workers) followed by the flow's parameters."""
    args: list[str] = []
    params: list[str] = []
    for name, value in kwargs.items():
        if name in _RESERVED:
            raise RunnerArgumentError(f"{name} is managed by the Runner and cannot be passed")
        if value is None:
            continue
        if name in _RUN_FLAGS:
            args += [_RUN_FLAGS[name]] if value else []
        elif name in _WITH_ALIASES:  # run(decospecs=['retry']): Metaflow's run --with
            args += _repeated("--with", value)
        elif name in _RUN_OPTIONS:
            args += _repeated(_RUN_OPTIONS[name], value)
        else:
            params += [f"--{name}", _param_value(name, value)]
    return args + params


def param_types(kwargs: Mapping[str, Any]) -> dict[str, str]:
    """The Python type of each flow parameter's value among ``run()``'s arguments (``n=3`` ->
    ``{"n": "int"}``): the child checks them against the parameters' types, as Metaflow's Runner
    does before it starts a run.

    ``None`` is kept as ``"NoneType"``: it is not passed on the command line (the parameter
    takes its default), but a required parameter refuses it, as Metaflow's Runner does."""
    return {name: type(value).__name__ for name, value in kwargs.items()
            if name not in _RESERVED and name not in _RUN_FLAGS
            and name not in _WITH_ALIASES and name not in _RUN_OPTIONS}


# Linux refuses one command-line argument longer than this (MAX_ARG_STRLEN), with E2BIG.
MAX_ARG_BYTES = 128 * 1024


def _param_value(name: str, value: Any) -> str:
    """A parameter's value for the command line, or a clear refusal naming the parameter."""
    try:
        text = cli_value(value)
    except RecursionError:  # json.dumps of [[[[...]]]]
        raise RunnerArgumentError(
            f"parameter {name!r}: its value is nested too deeply to be passed as JSON",
            fix="flatten the value, or pass a file name and read the file in a step",
        ) from None
    except ValueError:  # str() of an integer of more digits than Python writes (sys.int_info)
        raise RunnerArgumentError(
            f"parameter {name!r}: its value holds an integer of more than "
            f"{sys.get_int_max_str_digits()} digits, more than Python writes as text",
            fix="pass such a number as a string, and convert it in the step",
        ) from None
    size = len(text.encode("utf-8", "surrogateescape"))
    if size >= MAX_ARG_BYTES:
        raise RunnerArgumentError(
            f"parameter {name!r}: its value is {size} bytes, more than a command line can carry "
            f"({MAX_ARG_BYTES} bytes per argument)",
            fix=f"write the value to a file and pass its name (an IncludeFile reads it for you), "
            f"e.g. {name}='data.json'",
        )
    return text


def check_no_nul(argv: Sequence[str], env: Mapping[str, str], flow_file: str) -> None:
    """Refuse, naming it, an argument or environment variable holding a NUL character: no
    command line or environment can carry one, and starting the child would fail with a bare
    ``ValueError: embedded null byte`` that names neither the value nor where it came from."""
    flow = os.path.basename(flow_file)
    for index, arg in enumerate(argv):
        if "\0" not in arg:
            continue
        before = argv[index - 1] if index else ""
        what = (f"the value of {before} ({_shown(arg)})" if before.startswith("--")
                and "\0" not in before else f"the argument {_shown(arg)}")
        raise RunnerArgumentError(
            f"{what} for {flow} holds a NUL character, which no command line can carry",
            fix="leave the NUL out; pass binary data in a file (an IncludeFile reads one)")
    for name, value in env.items():
        if "\0" in name or "\0" in value:
            raise RunnerArgumentError(
                f"environment variable {_shown(name)} for {flow} holds a NUL character, which "
                "no environment can carry", fix="leave the NUL out of env=")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:60] + "...")


def resume_args(kwargs: Mapping[str, Any]) -> list[str]:
    """``[STEP] --origin-run-id ID`` plus run options; ``step_to_rerun`` is Metaflow's name."""
    rest = dict(kwargs)
    step = rest.pop("step", None) or rest.pop("step_to_rerun", None)
    rest.pop("step_to_rerun", None)
    origin = rest.pop("origin_run_id", None)
    unknown = sorted(set(rest) - set(_RUN_OPTIONS) - set(_RUN_FLAGS) - _WITH_ALIASES - _RESERVED
                     - {"run_id_file"})
    if unknown:
        raise RunnerArgumentError(
            f"resume() does not take {', '.join(unknown)}",
            fix="a resumed run reuses its origin's parameters; pass step, origin_run_id, tags, "
            "max_workers or max_num_splits",
        )
    args = [str(step)] if step else []
    if origin is not None:
        args += ["--origin-run-id", str(origin)]
    return args + run_args(rest)


def entry_argv(python: str, flow_file: str) -> list[str]:
    """How to start the flow's command line, as a user would.

    A flow written for ``metaflow`` starts through headwater's own entry point (what
    ``headwater run flow.py`` does), which serves ``import metaflow`` from headwater; running such a
    file directly would import the real Metaflow, or fail without it. Other flows run as
    ``python flow.py``.
    """
    from headwater.compat.alias import imports_metaflow  # the rule `headwater run` applies

    with open(flow_file, encoding="utf-8", errors="replace") as handle:
        source = handle.read()
    if imports_metaflow(source):
        from headwater.interpreters import code_argv

        return code_argv(python, "from headwater.cli.main import main; main()", flow_file)
    return [python, flow_file]


# Options of ``spin`` (a spin reuses the parameters of the run it comes from: no others).
_SPIN_FLAGS = {"persist": "persist", "skip_decorators": "skip-decorators"}
_SPIN_OPTIONS = {"artifacts_module": "--artifacts-module", "max_log_size": "--max-log-size"}


def spin_args(kwargs: Mapping[str, Any]) -> list[str]:
    """``persist=True`` -> ``--persist``, ``artifacts_module='a.py'`` -> ``--artifacts-module
    a.py``, ``skip_decorators=True`` -> ``--skip-decorators``; anything else is refused."""
    unknown = sorted(set(kwargs) - set(_SPIN_FLAGS) - set(_SPIN_OPTIONS))
    if unknown:
        raise RunnerArgumentError(
            f"Unknown argument(s) for spin(): {', '.join(unknown)}",
            fix="a spin reuses the parameters of the run it comes from; spin() takes persist, "
            "artifacts_module (its ARTIFACTS dict overrides inputs), skip_decorators and "
            "max_log_size")
    args: list[str] = []
    for name, value in kwargs.items():
        if value is None:
            continue
        if name in _SPIN_FLAGS:
            args.append(f"--{'' if value else 'no-'}{_SPIN_FLAGS[name]}")
        else:
            args += [_SPIN_OPTIONS[name], str(value)]
    return args
