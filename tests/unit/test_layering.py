"""The package's layers import downward only (see docs/architecture.md).

Each rule lists packages a layer must never import, at module level or inside a function. Every
package and top-level module has a rule. The sanctioned exceptions are listed in ``ALLOWED``,
each with its reason. Also checked: no module imports a private name (``_x``) from another
package, none imports the public face ``headwater/__init__.py`` (``from headwater import
__version__`` loads the whole package and installs an excepthook), and the packages import each
other without a cycle, except the one Metaflow's API forces.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import headwater

PACKAGE = Path(headwater.__file__).parent

# Every package (and the test helpers' module): what the floor modules may import none of.
# (runtime/ is a namespace package: a folder of modules without __init__.py)
_ALL = [*(f"headwater.{p.name}" for p in sorted(PACKAGE.iterdir())
          if p.is_dir() and any(p.glob("*.py"))), "headwater.testing"]

FORBIDDEN = {
    "version.py": ["headwater."],
    "records.py": ["headwater."],
    "exceptions.py": ["headwater."],
    "redaction.py": ["headwater."],  # masks passwords for every layer: it imports none
    "folders.py": ["headwater."],  # folders of headwater's data, closed to others' writes
    "local_read.py": ["headwater."],  # a user-named input file read in bounded memory and time
    "env_numbers.py": ["headwater."],  # the one rule numeric settings are read by, for every layer
    "webhook.py": ["headwater."],  # posts an event without following redirects, for every layer
    "fault_points.py": ["headwater."],  # tests' holds inside headwater's writes, for every layer
    "outfiles.py": ["headwater."],  # writes a user-named output file safely, for every layer
    "spelling.py": ["headwater."],  # the one "did you mean" rule, for every layer
    "limits.py": ["headwater."],  # the soft resource limits, read one way for every layer
    "durations.py": ["headwater."],  # "90s", "1h", "7d" read one way for every layer
    "interpreters.py": ["headwater."],  # our own Pythons started without the current folder
    "lookalikes.py": ["headwater."],  # which characters of a label could pass for others
    "import_hint.py": ["headwater."],  # where a flow's own package is, for the import-time hook
    # the registry names its backends as strings and imports one only when it is chosen
    "backends.py": [*_ALL, "headwater.settings", "headwater.profiles", "headwater.records"],
    "profiles.py": _ALL,
    # one copy each of "hide headwater's frames" and "import a flow file", for every layer
    "tracebacks.py": ["headwater."],
    "flow_file.py": ["headwater.runtime", "headwater.store", "headwater.meta", "headwater.client",
                     "headwater.cli", "headwater.runner", "headwater.graph", "headwater.testing"],
    "settings.py": _ALL,
    # the S3 client flows use: the s3fs filesystem of the store, current for S3(run=self)
    "s3client.py": ["headwater.runtime", "headwater.cli", "headwater.meta", "headwater.client",
                    "headwater.runner", "headwater.compat", "headwater.graph",
                    "headwater.testing"],
    # the S3 client's values and errors: named by the compat layer without loading the client
    "s3objects.py": _ALL,
    "flow": ["headwater.runtime", "headwater.store", "headwater.meta", "headwater.client"],
    "graph": ["headwater.runtime", "headwater.store", "headwater.meta", "headwater.client",
              "headwater.cli"],
    "store": ["headwater.runtime", "headwater.meta", "headwater.client", "headwater.cli",
              "headwater.flow", "headwater.graph"],
    "meta": ["headwater.runtime", "headwater.store", "headwater.client", "headwater.cli",
             "headwater.flow", "headwater.graph"],
    "client": ["headwater.runtime", "headwater.cli", "headwater.graph"],
    "runtime": ["headwater.cli", "headwater.client", "headwater.ui"],
    "decorators": ["headwater.runtime", "headwater.cli", "headwater.client", "headwater.meta",
                   "headwater.compat", "headwater.store", "headwater.runner"],
    # the runtime builds on environments (the launcher prepares them, executors serve them)
    "environments": ["headwater.runtime", "headwater.cli", "headwater.client", "headwater.meta",
                     "headwater.runner", "headwater.compat", "headwater.testing"],
    "runner": ["headwater.runtime", "headwater.cli", "headwater.compat.metaflow_api",
               "headwater.graph", "headwater.store"],
    "cli": ["headwater.runner", "headwater.testing"],
    # `python -m headwater`: the command line's entry, nothing else
    "__main__.py": [layer for layer in _ALL if layer != "headwater.cli"],
    "compat": ["headwater.cli", "headwater.runtime", "headwater.testing"],
    # deployers compile a flow (graph, policies, code package); they never read runs
    "deployers": ["headwater.cli", "headwater.client", "headwater.runner", "headwater.compat",
                  "headwater.testing"],
    "testing.py": ["headwater.cli", "headwater.client", "headwater.runner", "headwater.compat"],
    # deleting runs and collecting garbage: over meta and store only, called by the CLI
    "maintenance": ["headwater.runtime", "headwater.cli", "headwater.client", "headwater.runner",
                    "headwater.flow", "headwater.graph", "headwater.compat", "headwater.deployers",
                    "headwater.testing", "headwater.decorators", "headwater.cards"],
    # Cards render in the task (no metadata, no scheduler); only the lazy get_cards re-export
    # reaches the client.
    "cards": ["headwater.runtime", "headwater.cli", "headwater.meta", "headwater.store"],
    # The web UI reads meta and store (and the graph kept with each run); it never runs anything.
    "ui": ["headwater.runtime", "headwater.cli", "headwater.runner", "headwater.deployers",
           "headwater.compat", "headwater.testing", "headwater.flow", "headwater.decorators",
           "headwater.environments"],
}
# (file, module) -> why the edge is allowed
ALLOWED = {
    # a label (a tag, a run id) is printed by the one rule of which letters could pass for others
    ("tracebacks.py", "headwater.lookalikes"):
        "printable_name and printable_lines show lookalike letters escaped",
    # the numeric-settings rule raises headwater's own error; the pipe wait is one such setting
    ("env_numbers.py", "headwater.exceptions"): "SettingError, raised by the shared rule",
    ("local_read.py", "headwater.env_numbers"): "HEADWATER_INCLUDE_FILE_WAIT by the shared rule",
    # Metaflow's API: `MyFlow()` at the bottom of a flow file starts its command line. The one
    # upward import, made lazily inside FlowSpec.__init__.
    ("flow/flowspec.py", "headwater.cli.plain_run"): "MyFlow() runs the flow's CLI",
    # The Runner starts flows written for `metaflow` the way `headwater run` does; the rule that
    # tells them apart is the alias's.
    ("runner/command.py", "headwater.compat.alias"): "which flows need the metaflow alias",
    # Metaflow's API: current.trigger.run is the client Run of the upstream flow; imported only
    # when a step reads it.
    ("flow/trigger.py", "headwater.client"): "current.trigger.run is a client Run",
    # Metaflow's API: current.run and current.task are the client's Run and Task, whatever the
    # flow imported; the client is loaded only when a step reads one of them.
    ("flow/current.py", "headwater.client"): "current.run and current.task are client objects",
    # The test-only fault points refuse a bad setting with headwater's error, and a shared
    # folder by the one rule for private folders.
    ("fault_points.py", "headwater.exceptions"): "SettingError for a bad HEADWATER_FAULT_*",
    ("fault_points.py", "headwater.folders"): "HEADWATER_FAULT_DIR must be a private folder",
    # Two floor modules: the one reader of the process's umask lives with the output files.
    ("folders.py", "headwater.outfiles"): "one way to read the umask without changing it",
}
# (file, module) -> why: imports a type checker reads and Python never runs (under
# ``if TYPE_CHECKING:``), so they close no cycle and load nothing: current.run and current.task
# are the client's Run and Task, current.card the card collector, for a checker to catch misuse.
TYPES_ONLY = {
    ("flow/current.py", "headwater.client.core"): "the type of current.run and current.task",
    ("flow/current.py", "headwater.cards.collector"): "the type of current.card",
}
TOP_LEVEL = ["version.py", "records.py", "exceptions.py", "backends.py", "profiles.py",
             "folders.py", "local_read.py", "env_numbers.py",
             "tracebacks.py", "flow_file.py",
             "settings.py", "testing.py", "s3client.py", "s3objects.py"]


def _imports(path: Path) -> list[str]:
    """Modules ``path`` imports; ``from headwater import x`` counts as ``headwater.x`` for a
    submodule ``x`` and as ``headwater`` (the public face) for anything else."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "headwater":
                names.extend(f"headwater.{a.name}" if _is_module(a.name) else "headwater"
                             for a in node.names)
            else:
                names.append(node.module)
    return names


def _is_module(name: str) -> bool:
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name).is_dir()


def _package_of(module: str) -> str:
    """``headwater.store.datastore`` -> ``store``; ``headwater.backends`` -> ``backends.py``."""
    top = module.split(".")[1]
    return top if (PACKAGE / top).is_dir() else f"{top}.py"


def _layers() -> list[str]:
    return sorted(p.name for p in PACKAGE.iterdir()
                  if p.is_dir() and any(p.glob("*.py")) or p.suffix == ".py"
                  and p.name != "__init__.py")


def _files(layer: str) -> list[Path]:
    target = PACKAGE / layer
    return [target] if target.is_file() else sorted(target.rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_downward(layer: str) -> None:
    offences = []
    for path in _files(layer):
        relative = path.relative_to(PACKAGE).as_posix()
        for name in _imports(path):
            for banned in FORBIDDEN[layer]:
                inside = name == banned.rstrip(".") or name.startswith(banned.rstrip(".") + ".")
                if inside and (relative, name) not in ALLOWED | TYPES_ONLY:
                    offences.append(f"{relative} imports {name}")
    assert offences == []


def test_every_package_has_a_rule() -> None:
    """A new package (or top-level module) must say what it may not import."""
    missing = [layer for layer in _layers() if layer not in FORBIDDEN]
    assert missing == []


def test_nothing_inside_imports_the_public_face() -> None:
    offences = [f"{path.relative_to(PACKAGE).as_posix()} imports headwater/__init__.py"
                for path in PACKAGE.rglob("*.py") if path.name != "__init__.py"
                or path.parent != PACKAGE
                for name in _imports(path) if name == "headwater"]
    assert offences == []


def test_no_private_name_crosses_a_package() -> None:
    """``from headwater.cli.main import _RULE`` or ``from headwater.client import _context``
    from another package is an offence: private means private to its package."""
    offences = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        here = relative.split("/")[0] if "/" in relative else relative
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                    and node.module.startswith("headwater.")):
                continue
            if _package_of(node.module) == here:
                continue
            parts = [*node.module.split(".")[2:], ""]
            for alias in node.names:
                names = [*parts[:-1], alias.name]
                if any(p.startswith("_") and not p.startswith("__") for p in names):
                    offences.append(f"{relative} imports {node.module}.{alias.name}")
    assert offences == []


def test_packages_import_each_other_without_a_cycle() -> None:
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "__init__.py":
            continue  # the public face re-exports the layers; nothing imports it (tested above)
        here = relative.split("/")[0] if "/" in relative else relative
        for name in _imports(path):
            if not name.startswith("headwater.") or (relative, name) in ALLOWED | TYPES_ONLY:
                continue
            there = _package_of(name)
            if there != here:
                edges.setdefault(here, set()).add(there)
    cycles = []
    for start in edges:
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, trail = stack.pop()
            for nxt in edges.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join([*trail, nxt]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert cycles == []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_statements(path: Path) -> list[tuple[str, bool]]:
    """``(module imported, lazily?)`` for each import of ``path``: lazy when inside a function,
    eager at module level; imports under ``if TYPE_CHECKING:`` never run and are left out."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit_statement(other, lazy)
                continue
            visit_statement(child, lazy)

    def visit_statement(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.append((full if _is_module_path(full) else node.module, lazy))
        else:
            visit(node, lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                  ast.Lambda)))

    visit(ast.parse(path.read_text()), False)
    return [(name, lazy) for name, lazy in found if name.split(".")[0] == "headwater"]


def _is_module_path(module: str) -> bool:
    target = PACKAGE.parent.joinpath(*module.split("."))
    return target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()


def _module_graph(*, lazy: bool) -> dict[str, set[str]]:
    """Module -> the modules importing it runs (a submodule's packages too, those not already
    being imported around it), from eager imports only or from all; the ALLOWED imports are
    left out."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        here = _module_name(path)
        relative = path.relative_to(PACKAGE).as_posix()
        targets = graph.setdefault(here, set())
        for name, is_lazy in _import_statements(path):
            if (is_lazy and not lazy) or (relative, name) in ALLOWED:
                continue
            parts = name.split(".")
            for end in range(2, len(parts) + 1):
                prefix = ".".join(parts[:end])
                if _is_module_path(prefix) and not (here + ".").startswith(prefix + "."):
                    targets.add(prefix)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_module_level_imports_have_no_cycle() -> None:
    """What importing any module runs, at module level, never comes back to it."""
    assert _cycles(_module_graph(lazy=False)) == []


# The one cycle of modules inside a package, closed by a lazy import: two classes of Metaflow's
# client that refer to each other.
SAME_PACKAGE_CYCLES = {
    ("headwater.client.artifacts", "headwater.client.core"):
        "DataArtifact('flow/run/step/task/name') finds its Task; a Task lists its DataArtifacts",
}


def test_the_only_cycles_go_through_the_allowed_lazy_imports() -> None:
    """Counting imports inside functions too, the only cycles between packages are those the
    ALLOWED upward imports close (MyFlow() starting the CLI first): without them the modules
    form no cycle but the documented one inside the client."""
    assert {tuple(group) for group in _cycles(_module_graph(lazy=True))} == set(
        SAME_PACKAGE_CYCLES)


def test_each_allowed_import_is_one_lazy_import() -> None:
    """Each sanctioned upward import exists, once, inside a function: never at module level."""
    for (relative, module), why in ALLOWED.items():
        statements = [lazy for name, lazy in _import_statements(PACKAGE / relative)
                      if name == module]
        assert statements == [True], f"{relative} -> {module} ({why})"


def test_each_types_only_import_is_made_for_checkers_only() -> None:
    """Each import sanctioned for types alone is there, and only under TYPE_CHECKING."""
    for (relative, module), why in TYPES_ONLY.items():
        assert module in _imports(PACKAGE / relative), f"{relative} -> {module} ({why})"
        assert module not in [name for name, _ in _import_statements(PACKAGE / relative)], \
            f"{relative} imports {module} where it runs ({why})"


def test_the_cycle_check_sees_a_cycle() -> None:
    """The control: the check finds a cycle where there is one."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    with_the_cli = dict(_module_graph(lazy=True))
    with_the_cli["headwater.flow.flowspec"] = {*with_the_cli["headwater.flow.flowspec"],
                                               "headwater.cli.plain_run"}
    assert any("headwater.flow.flowspec" in group and "headwater.cli.plain_run" in group
               for group in _cycles(with_the_cli))


def test_public_names_are_exactly_all() -> None:
    public = {
        "FlowSpec", "IncludeFile", "JSONType", "Parameter", "current", "step",
        "card", "catch", "environment", "resources", "retry", "timeout",
        "Metaflow", "Flow", "Run", "Step", "Task", "DataArtifact", "namespace", "get_namespace",
        "default_namespace", "metadata", "get_metadata",
    }
    assert public <= set(headwater.__all__)
    for name in headwater.__all__:
        assert getattr(headwater, name) is not None
