"""The README's tour runs as shown: its flow is the example file, its commands and snippets work.

A newcomer copies what the README says, in order. Here every command of its ``bash`` blocks is
run as written (``cd examples`` included) in a fresh copy of ``examples/pets_flow.py``, unless
:data:`NOT_RUN` says why it cannot be (installing, the suite itself, a cluster); a command the
README gains must be run here or listed there. Every inline ``python pets_flow.py ...`` /
``headwater runs`` command and every Python snippet about PetsFlow runs too, in README order.
A comment under a command is its expected output (dates, times and durations aside); a snippet
line ending in a comment that is a Python value (``run.data.pets  # ['cat', ...]``) is checked
against it; a ``print(...)  # text`` line must print that text.

The pages of ``docs/`` are checked too, without a cluster: every command they show must exist
with every option shown (asked of the real ``--help``), and every ``headwater`` import of their
Python snippets must import.
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


# Commands of the README that this test does not run, by how they start, with the reason.
NOT_RUN = {
    "pip install": "installs packages: the suite already runs from an installed headwater",
    "python -m pytest": "the test suite itself",
    "python myflow.py": "a placeholder flow; resume is tested in tests/integration/test_resume.py",
    "headwater ui": "serves until stopped; tests/integration/test_ui_*.py start it",
    "python flow.py --executor dask": "needs a Dask cluster, S3 and PostgreSQL: "
                                      "tests/integration/test_scale_out.py runs that",
}
RUNNABLE = ("python pets_flow.py", "headwater runs", "headwater delete", "headwater gc")
VARYING = re.compile(r"^(\d{4}-\d\d-\d\d|\d\d:\d\d:\d\d|\d+(s|m\d\ds|h\d\dm))$")


def _bash_commands(body: str) -> list[tuple[str, list[str]]]:
    """Each command of a bash block (continuation lines joined, its trailing comment dropped)
    with the output lines shown under it as comments (``# ...`` elides, so it is left out)."""
    commands: list[tuple[str, list[str]]] = []
    for line in body.replace("\\\n", " ").splitlines():
        if line.startswith("#"):
            shown = line[1:].strip()
            if commands and shown != "...":
                commands[-1][1].append(shown)
        elif line.strip():
            commands.append((re.sub(r"\s+# .*$", "", line).strip(), []))
    return commands


def _steps(text: str) -> list[tuple[str, str]]:
    """``("shell", command)``, ``("expect", line)`` and ``("python", snippet)`` in the order
    the README shows them."""
    found: list[tuple[int, str, str]] = []
    for block in BLOCK.finditer(text):
        if block["lang"] == "bash":
            for command, shown in _bash_commands(block["body"]):
                found.append((block.start(), "shell", command))
                found.extend((block.start(), "expect", line) for line in shown)
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


def _shown_in(expected: str, output: str) -> bool:
    """Whether a line the README shows under a command is a line of its output: word by word,
    a date, a time or a duration standing for any."""
    want = expected.split()
    for line in output.splitlines():
        got = line.split()
        if len(got) == len(want) and all(
                w == g or (VARYING.match(w) and VARYING.match(g)) for w, g in zip(want, got, strict=True)):
            return True
    return False


def _run_shell(command: str, cwd: Path, env: dict[str, str], skipped: list[str]) -> tuple[Path, str]:
    """Run one README command line part by part (``a && b``), as a shell would; returns the
    folder it ends in (``cd``) and what it printed."""
    output = ""
    for part in (p.strip() for p in command.split("&&")):
        reason = next((why for start, why in NOT_RUN.items() if part.startswith(start)), None)
        if reason is not None:
            skipped.append(part)
            continue
        argv = shlex.split(part)
        if argv[0] == "cd":
            cwd = cwd / argv[1]
            assert cwd.is_dir(), f"$ {command}: no folder {cwd}"
            continue
        assert part.startswith(RUNNABLE), (
            f"the README shows `{part}`, which this test neither runs nor lists in NOT_RUN")
        if argv[0] == "python":
            argv[0] = sys.executable
        elif script := shutil.which("headwater", path=str(Path(sys.executable).parent)):
            argv[0] = script  # this install's script, not another Python's found on PATH
        else:
            argv = [sys.executable, "-c", "from headwater.cli.main import main; main()", *argv[1:]]
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"$ {part}\n{proc.stdout}{proc.stderr}"
        output += proc.stdout
    return cwd, output


def test_every_command_and_snippet_of_the_tour_runs_as_shown(tmp_path):
    (tmp_path / "examples").mkdir()
    shutil.copy(EXAMPLES / "pets_flow.py", tmp_path / "examples")
    steps = _steps(README.read_text())
    commands = [what for kind, what in steps if kind == "shell"]
    assert "python pets_flow.py run --owner alex" in commands  # the tour was found
    assert "pip install -e . && cd examples && python pets_flow.py run" in commands
    assert sum(kind == "python" for kind, _ in steps) >= 2
    env = hermetic_env({"HEADWATER_USER": "sam"})  # the user the README's tables show
    cwd, output, skipped = tmp_path, "", []
    for kind, what in steps:
        if kind == "shell":
            cwd, output = _run_shell(what, cwd, env, skipped)
        elif kind == "expect":
            assert _shown_in(what, output), f"the README shows {what!r}; the command printed:\n{output}"
        else:
            script, printed = _checked(what)
            proc = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env,
                                  capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, f"{script}\n{proc.stdout}{proc.stderr}"
            for text in printed:
                assert text in proc.stdout, (script, proc.stdout)
    # every exemption is used: NOT_RUN lists no command the README no longer shows
    assert {start for start in NOT_RUN if any(s.startswith(start) for s in skipped)} == set(NOT_RUN)


# --------------------------------------------------------------- the commands docs/*.md show

DOCS = README.parent / "docs"
DOC_PAGES_NOT_CHECKED = {"decisions.md": "a log of past choices, commands of their time",
                         "benchmarks.md": "commands of the benchmark tools, run by them"}
DOC_INLINE_COMMAND = re.compile(r"(?<!`)`(?P<cmd>(?:python [\w/]+\.py|headwater) [^`]*)`")
# Commands the docs show that are not headwater's, or need what this test does not install.
DOC_COMMANDS_NOT_CHECKED = {
    "python flow.py card create": "Metaflow's card subprocess, named where cards.md says how "
                                  "headwater differs",
    "--executor audited": "the executor of docs/extending.md's example package, whose options "
                          "exist once it is installed (tests/integration/test_extending.py)",
}
TOP_LEVEL = ("runs", "delete", "gc", "cache", "code", "ui", "shim", "configure", "version")
GROUPS = ("tag", "card", "environment", "package", "argo-workflows", "airflow", "code", "cache")
DOC_FLOW = '''
from headwater import FlowSpec, Parameter, step


class DocFlow(FlowSpec):
    """The flow the docs' commands are asked about; its parameters are the docs' examples'."""

    alpha = Parameter("alpha", default=0.5)
    num_parallel = Parameter("num_parallel", default=2)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DocFlow()
'''


def _doc_commands() -> list[tuple[str, str]]:
    """``(page, command)`` for every ``python FILE.py ...`` and ``headwater ...`` command of the
    docs' shell blocks (leading ``NAME=value`` dropped, ``&&`` split) and of their inline code."""
    found = []
    for page in sorted(DOCS.glob("*.md")):
        if page.name in DOC_PAGES_NOT_CHECKED:
            continue
        text = page.read_text()
        lines = []
        for block in BLOCK.finditer(text):
            if block["lang"] in ("bash", ""):
                lines += block["body"].replace("\\\n", " ").splitlines()
        lines += [m["cmd"] for m in DOC_INLINE_COMMAND.finditer(BLOCK.sub(" ", text))]
        for line in lines:
            for part in re.sub(r"\s+# .*$", "", line).split("&&"):
                words = part.replace("\n", " ").strip().rstrip("&").split()
                while words and re.match(r"^[A-Z_]+=", words[0]):
                    words.pop(0)
                if words[:1] == ["headwater"] or (
                        len(words) > 1 and words[0] == "python" and words[1].endswith(".py")
                        and not words[1].startswith(("tools/", "../"))):
                    found.append((page.name, " ".join(words)))
    return found


def _top_level_values() -> dict[str, int]:
    """How many values each option of a flow's command line takes (``--with``: 1, ``--config``:
    2), so that ``--with card run`` is read as the command ``run``."""
    import click

    from headwater import FlowSpec
    from headwater.cli.flow_cli import build_cli

    group = build_cli(type("AnyFlow", (FlowSpec,), {}))
    return {opt: p.nargs for p in group.params if isinstance(p, click.Option) and not p.is_flag
            for opt in p.opts}


def _chain(words: list[str], commands: tuple[str, ...]) -> list[str]:
    """The command words of ``words`` (``["argo-workflows", "create"]``): the first that is a
    command, and for a group the next bare word (its subcommand)."""
    values, skip = _top_level_values(), 0
    for i, word in enumerate(words):
        if skip:
            skip -= 1
            continue
        if word.split("=")[0] in values and "=" not in word:
            skip = values[word]
            continue
        if word in commands:
            sub = next((w for w in words[i + 1:] if not w.startswith(("-", "["))), None)
            if word in GROUPS and sub is not None and sub not in ("...",):
                return [word, sub.split("|")[0]]
            return [word]
    return []


def test_every_command_the_docs_show_exists_with_its_options(tmp_path):
    """A reader of docs/*.md pastes its commands: each command (and subcommand) must exist and
    take every ``--option`` shown, asked of the real command line's ``--help``."""
    from headwater.cli.main import flow_commands

    flow = tmp_path / "doc_flow.py"
    flow.write_text(DOC_FLOW)
    script = shutil.which("headwater", path=str(Path(sys.executable).parent))
    helps: dict[tuple[str, ...], str] = {}

    def help_of(argv: tuple[str, ...], shown: str) -> str:
        if argv not in helps:
            proc = subprocess.run([*argv, "--help"], cwd=tmp_path, env=hermetic_env(),
                                  capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, f"{shown}: `{' '.join(argv[1:])} --help` failed:\n" \
                                         f"{proc.stdout}{proc.stderr}"
            helps[argv] = proc.stdout
        return helps[argv]

    commands = _doc_commands()
    assert len(commands) > 80 and ("production.md", "python flow.py argo-workflows list-runs") \
        in commands
    checked = 0
    for page, command in commands:
        if any(skip in command for skip in DOC_COMMANDS_NOT_CHECKED):
            continue
        shown = f"docs/{page} shows `{command}`"
        words = command.split()
        if words[0] == "headwater":
            files = [w for w in words[1:] if w.endswith(".py")]
            rest = [w for w in words[1:] if w not in files]
            if files or (rest and rest[0] in flow_commands()):
                words = ["python", "doc_flow.py", *rest]
            else:
                assert rest and rest[0].split("|")[0] in TOP_LEVEL, \
                    f"{shown}: headwater has no command {rest[:1]}"
                chain = _chain(rest, TOP_LEVEL)
                argv = (script or "headwater", *chain)
                options, top = help_of(argv, shown), ""
        if words[0] == "python":
            chain = _chain(words[2:], flow_commands())
            top = help_of((sys.executable, str(flow)), shown)
            options = help_of((sys.executable, str(flow), *chain), shown) if chain else ""
        for word in words:
            option = word.strip("[]").split("=")[0]
            if option.startswith("--") and option != "--help":
                assert f"{option} " in options or f"{option}\n" in options \
                    or f"{option} " in top or f"{option}," in options + top \
                    or f"{option}/" in options + top, f"{shown}: no option {option}"
        checked += 1
    assert checked > 80


def test_every_headwater_import_the_docs_show_works(tmp_path):
    """The docs' Python snippets need clusters, files and flows of their own to run, but every
    ``from headwater... import ...`` they show must import as written (a renamed or moved name
    is the first thing a reader pasting one meets)."""
    imports = []
    for page in sorted(DOCS.glob("*.md")):
        if page.name in DOC_PAGES_NOT_CHECKED:
            continue
        for block in BLOCK.finditer(page.read_text()):
            if block["lang"] != "python":
                continue
            for node in ast.walk(ast.parse(block["body"])):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("headwater"):
                    names = ", ".join(alias.name for alias in node.names)
                    imports.append((page.name, f"from {node.module} import {names}"))
                elif isinstance(node, ast.Import):
                    imports += [(page.name, f"import {alias.name}") for alias in node.names
                                if alias.name.startswith("headwater")]
    assert len(imports) > 15
    script = "\n".join(f"try:\n    {line}\nexcept Exception as err:\n    print({page!r}, "
                       f"{line!r}, type(err).__name__, err)" for page, line in imports)
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=hermetic_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
