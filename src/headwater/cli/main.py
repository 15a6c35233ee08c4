"""``headwater COMMAND path/to/flow.py [options]``: run any flow file's command line.

The flow file is imported under its own module name (not ``__main__``), so its
``if __name__ == '__main__'`` block does not fire, and then the same command line as
``python flow.py COMMAND`` runs with the remaining arguments.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import click

from headwater.cli.errors import report
from headwater.exceptions import FlowDefinitionError, HeadwaterException
from headwater.version import __version__

USAGE = """usage: headwater COMMAND FLOW_FILE [OPTIONS]

Run a command of the flow defined in FLOW_FILE, as `python FLOW_FILE COMMAND` would.
Commands: run, resume, spin, check, show, output-dot, output-mermaid, logs, dump, tag.
Top-level options (--quiet, --datastore-root, ...) may come before COMMAND.

  headwater run examples/linear_flow.py
  headwater --quiet run flow.py --alpha 0.6
  headwater version
  headwater shim FOLDER     write a `metaflow` package that forwards to headwater
                            (--force replaces a metaflow folder it did not write)
  headwater configure show  the settings in effect and where each came from
"""


def load_flow_class(path: str) -> type:
    """Import ``path`` and return the FlowSpec subclass it defines."""
    from headwater.flow.flowspec import FlowSpec

    full = os.path.abspath(path)
    if not os.path.isfile(full):
        raise FlowDefinitionError(f"flow file {path!r} does not exist")
    name = os.path.splitext(os.path.basename(full))[0]
    from headwater.compat import alias

    with open(full, encoding="utf-8", errors="replace") as handle:
        if alias.imports_metaflow(handle.read()):
            alias.install()
    sys.path.insert(0, os.path.dirname(full))
    spec = importlib.util.spec_from_file_location(name, full)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    flows = [
        obj for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, FlowSpec) and obj is not FlowSpec
        and obj.__module__ == name
    ]
    leaves = [f for f in flows if not any(o is not f and issubclass(o, f) for o in flows)]
    if len(leaves) != 1:
        found = ", ".join(f.__name__ for f in leaves) or "none"
        raise FlowDefinitionError(
            f"{path} must define exactly one flow (a FlowSpec subclass); found: {found}"
        )
    return leaves[0]


def _show_configuration() -> None:
    """Each setting in effect and where it came from (environment, profile, default)."""
    from headwater.profiles import PROFILE_ENV, config_path, explain
    from headwater.redaction import redact
    from headwater.settings import Settings

    try:
        rows = explain()
        settings = Settings.resolve()
    except HeadwaterException as err:
        report(err)
        raise SystemExit(1) from None
    click.echo(f"config file: {config_path()}")
    click.echo(f"profile:     {os.environ.get(PROFILE_ENV) or '(none)'}")
    for key, value, source in rows:
        click.echo(f"{key:<15} {redact(value) or '-':<40} {source}")
    click.echo(f"resolved datastore root: {redact(settings.datastore_root)}")
    click.echo(f"resolved metadata:       {redact(settings.metadata_url)}")


def _write_shim(args: list[str]) -> None:
    force = "--force" in args
    args = [a for a in args if a != "--force"]
    if len(args) != 1:
        click.echo("usage: headwater shim [--force] FOLDER", err=True)
        raise SystemExit(2)
    from headwater.compat.shim import write_shim

    try:
        package = write_shim(args[0], force=force)
    except HeadwaterException as err:
        report(err)
        raise SystemExit(1) from None
    click.echo(f"Wrote {package}. Put its folder first on PYTHONPATH to run flows written for "
               f"Metaflow with plain python:\n  PYTHONPATH={package.parent} python flow.py run")


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        click.echo(USAGE)
        return
    if args[0] in ("version", "--version"):
        click.echo(f"headwater {__version__}")
        return
    if args[:2] == ["configure", "show"]:
        _show_configuration()
        return
    if args[0] == "shim":
        _write_shim(args[1:])
        return
    files = [i for i, a in enumerate(args) if a.endswith(".py")]
    if not files:
        click.echo(USAGE, err=True)
        raise SystemExit(2)
    path = args.pop(files[0])
    try:
        flow_cls = load_flow_class(path)
    except HeadwaterException as err:
        report(err)
        raise SystemExit(1) from None
    from headwater.cli.flow_cli import build_cli

    build_cli(flow_cls).main(args=args, prog_name=f"headwater ... {path}", standalone_mode=True)
