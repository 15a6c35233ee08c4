"""The README's tour runs as shown: its flow is the example file, its commands and snippets work.

A newcomer copies what the README says. Every ``python pets_flow.py ...`` command in it (in code
blocks and inline), ``headwater runs``, and every Python snippet about PetsFlow is run here, in
README order, in a fresh folder holding ``examples/pets_flow.py``. A snippet line ending in a
comment that is a Python value (``run.data.pets  # ['cat', ...]``) is checked against it; a
``print(...)  # text`` line must print that text.
"""

from __future__ import annotations

import ast
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from .flowrun import EXAMPLES, hermetic_env

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"```(?P<lang>\w+)\n(?P<body>.*?)```", re.DOTALL)
INLINE_COMMAND = re.compile(r"(?<!`)`(?P<cmd>(?:python pets_flow\.py|headwater runs)[^`]*)`")
COMMENTED = re.compile(r"^(?P<code>\S.*?)\s+# (?P<comment>.+)$")


def _steps(text: str) -> list[tuple[str, str]]:
    """``("shell", command)`` and ``("python", snippet)`` in the order the README shows them."""
    found: list[tuple[int, str, str]] = []
    for block in BLOCK.finditer(text):
        if block["lang"] == "bash":
            for line in block["body"].splitlines():
                if line.startswith(("python pets_flow.py", "headwater runs")):
                    found.append((block.start(), "shell", line.strip()))
        elif block["lang"] == "python" and "class PetsFlow" not in block["body"] \
                and ("PetsFlow" in block["body"] or "pets_flow.py" in block["body"]):
            found.append((block.start(), "python", block["body"]))
    outside = BLOCK.sub(lambda m: " " * len(m.group(0)), text)  # keep the offsets
    for inline in INLINE_COMMAND.finditer(outside):
        found.append((inline.start(), "shell", inline["cmd"]))
    return [(kind, what) for _, kind, what in sorted(found, key=lambda f: f[0])]


def _checked(snippet: str) -> tuple[str, list[str]]:
    """The snippet with its value comments turned into asserts, and the texts it must print."""
    lines, printed = [], []
    for line in snippet.splitlines():
        match = COMMENTED.match(line.lstrip())
        if match is None:
            lines.append(line)
            continue
        code, comment = match["code"], match["comment"]
        indent = line[: len(line) - len(line.lstrip())]
        if code.startswith("print("):
            printed.append(comment.strip())
            lines.append(line)
            continue
        try:
            expected = ast.literal_eval(comment.strip())
        except (ValueError, SyntaxError):
            lines.append(line)
            continue
        lines.append(f"{indent}assert ({code}) == {expected!r}, ({code!r}, {code})")
    return "\n".join(lines) + "\n", printed


def test_the_tours_flow_is_the_example_file():
    text = README.read_text()
    shown = text.split("This is `examples/pets_flow.py`:", 1)[1]
    code = BLOCK.search(shown)
    assert code is not None and code["lang"] == "python"
    assert code["body"] == (EXAMPLES / "pets_flow.py").read_text()


def test_every_command_and_snippet_of_the_tour_runs_as_shown(tmp_path):
    shutil.copy(EXAMPLES / "pets_flow.py", tmp_path)
    steps = _steps(README.read_text())
    commands = [what for kind, what in steps if kind == "shell"]
    assert "python pets_flow.py run --owner alex" in commands  # the tour was found
    assert sum(kind == "python" for kind, _ in steps) >= 2
    env = hermetic_env()
    headwater = shutil.which("headwater")
    for kind, what in steps:
        if kind == "shell":
            argv = shlex.split(what)
            if argv[0] == "python":
                argv[0] = sys.executable
            elif headwater:
                argv[0] = headwater
            else:
                argv = [sys.executable, "-c", "from headwater.cli.main import main; main()",
                        *argv[1:]]
            proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=120)
            assert proc.returncode == 0, f"$ {what}\n{proc.stdout}{proc.stderr}"
        else:
            script, printed = _checked(what)
            proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, f"{script}\n{proc.stdout}{proc.stderr}"
            for text in printed:
                assert text in proc.stdout, (script, proc.stdout)
