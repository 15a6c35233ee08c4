"""The package's layers import downward only (see docs/architecture.md).

Each rule lists packages a layer must never import, at module level or inside a function. The one
sanctioned exception is ``FlowSpec.__init__`` handing a script's argv to the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import headwater

PACKAGE = Path(headwater.__file__).parent

FORBIDDEN = {
    "records.py": ["headwater."],
    "exceptions.py": ["headwater."],
    "flow": ["headwater.runtime", "headwater.store", "headwater.meta", "headwater.client"],
    "graph": ["headwater.runtime", "headwater.store", "headwater.meta", "headwater.client",
              "headwater.cli"],
    "store": ["headwater.runtime", "headwater.meta", "headwater.client", "headwater.cli",
              "headwater.flow", "headwater.graph"],
    "meta": ["headwater.runtime", "headwater.store", "headwater.client", "headwater.cli",
             "headwater.flow", "headwater.graph"],
    "client": ["headwater.runtime", "headwater.cli", "headwater.graph"],
    "runtime": ["headwater.cli", "headwater.client"],
    "decorators": ["headwater.runtime", "headwater.cli", "headwater.client", "headwater.meta"],
    # Cards render in the task (no metadata, no scheduler); only the lazy get_cards re-export
    # reaches the client.
    "cards": ["headwater.runtime", "headwater.cli", "headwater.meta", "headwater.store"],
}
ALLOWED = {("flow/flowspec.py", "headwater.cli.flow_cli")}


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


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
                if inside and (relative, name) not in ALLOWED:
                    offences.append(f"{relative} imports {name}")
    assert offences == []


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
