"""Run a compiled WorkflowTemplate's commands here, in the order its DAG gives (no cluster).

A small, strict reading of the Argo features the compiler uses: DAG templates, ``depends`` made
of ``X.Succeeded`` joined by ``&&`` / ``||``, ``when`` on a task output or a task's status
(``'a' == 'b'`` clauses joined by ``||``), ``withParam`` over a JSON
list, input/workflow/task-output parameters, container ``command`` + ``args`` and output
parameters read from files. Anything else raises, so a manifest using more fails the test.
Tasks of one DAG run one after another in a valid topological order (ready tasks in order).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from headwater.deployers.argo.compile import OUTPUT_DIR

_REF = re.compile(r"\{\{([^}]+)\}\}")


_CLAUSE = re.compile(r"^\(?'([^']*)' == '([^']*)'\)?$")


def _when(text: str) -> bool:
    """A ``when`` the compiler writes: ``'a' == 'b'``, or such clauses, each in brackets,
    joined by ``||``. Anything else fails the test."""
    results = []
    for clause in text.split(" || "):
        match = _CLAUSE.match(clause.strip())
        assert match, f"unexpected when {text!r}"
        results.append(match.group(1) == match.group(2))
    return any(results)


class Walk:
    def __init__(self, template: dict[str, Any], workflow_name: str, params: dict[str, str],
                 env: dict[str, str], cwd: Path) -> None:
        self.templates = {t["name"]: t for t in template["spec"]["templates"]}
        self.workflow = {"name": workflow_name}
        defaults = {p["name"]: p.get("value", "") for p in template["spec"]["arguments"]["parameters"]}
        self.params = {**defaults, **params}
        self.env, self.cwd = env, cwd
        self.order: list[tuple[str, str]] = []  # (step template, task id) as run

    def run(self) -> None:
        self._dag(self.templates[self.templates_entry()], {})

    def templates_entry(self) -> str:
        return "main"

    def _sub(self, text: str, scope: dict[str, str]) -> str:
        def one(match: re.Match) -> str:
            key = match.group(1).strip()
            if key in scope:
                return scope[key]
            if key == "workflow.name":
                return self.workflow["name"]
            if key.startswith("workflow.parameters."):
                return self.params[key.removeprefix("workflow.parameters.")]
            raise AssertionError(f"unknown reference {{{{{key}}}}}")
        return _REF.sub(one, text)

    def _dag(self, template: dict[str, Any], inputs: dict[str, str]) -> None:
        scope = {f"inputs.parameters.{k}": v for k, v in inputs.items()}
        tasks = template["dag"]["tasks"]
        status: dict[str, str] = {}
        pending = list(tasks)
        while pending:
            for task in pending:
                names = re.findall(r"([\w-]+)\.Succeeded", task.get("depends", ""))
                if all(n in status for n in names):
                    break
            else:
                raise AssertionError(f"no task is ready among {[t['name'] for t in pending]}")
            pending.remove(task)
            expr = task.get("depends", "")
            ok = True
            if expr:
                py = re.sub(r"([\w-]+)\.Succeeded",
                            lambda m: str(status[m.group(1)] == "Succeeded"), expr)
                ok = eval(py.replace("&&", " and ").replace("||", " or "))  # noqa: S307
            if ok and "when" in task:
                known = {**scope, **{f"tasks.{n}.status": s for n, s in status.items()}}
                ok = _when(self._sub(task["when"], known))
                if not ok:
                    status[task["name"]] = "Skipped"
                    continue
            if not ok:
                status[task["name"]] = "Omitted"
                continue
            status[task["name"]] = self._task(task, scope)

    def _task(self, task: dict[str, Any], scope: dict[str, str]) -> str:
        known = {"name", "template", "arguments", "depends", "when", "withParam"}
        assert set(task) <= known, set(task) - known
        args = {p["name"]: p["value"] for p in task.get("arguments", {}).get("parameters", [])}
        template = self.templates[task["template"]]
        items = [None]
        if "withParam" in task:
            items = json.loads(self._sub(task["withParam"], scope))
        for item in items:
            local = dict(scope, item=str(item)) if item is not None else scope
            values = {k: self._sub(v, local) for k, v in args.items()}
            if "dag" in template:
                self._dag(template, values)
            else:
                outputs = self._container(template, values)
                for name, value in outputs.items():
                    scope[f"tasks.{task['name']}.outputs.parameters.{name}"] = value
        return "Succeeded"

    def _container(self, template: dict[str, Any], inputs: dict[str, str]) -> dict[str, str]:
        scope = {f"inputs.parameters.{k}": v for k, v in inputs.items()}
        container = template["container"]
        out_dir = tempfile.mkdtemp(prefix="argo-out-")
        try:
            argv = [self._sub(a, scope).replace(OUTPUT_DIR, out_dir) for a in container["args"]]
            assert container["command"] == ["python"]
            env = {**self.env, **{e["name"]: e["value"] for e in container.get("env", [])}}
            self.order.append((template["name"], inputs.get("task-id", "")))
            done = subprocess.run([sys.executable, *argv], env=env, cwd=self.cwd,
                                  capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, (template["name"], done.stdout, done.stderr)
            outputs = {}
            for param in template.get("outputs", {}).get("parameters", []):
                path = Path(param["valueFrom"]["path"].replace(OUTPUT_DIR, out_dir))
                outputs[param["name"]] = path.read_text() if path.exists() else param["valueFrom"]["default"]
        finally:
            shutil.rmtree(out_dir)
        return outputs
