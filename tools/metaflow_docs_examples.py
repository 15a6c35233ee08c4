"""The examples of Metaflow's documentation (``docs/metaflow``, ``docs/scaling``), played against headwater.

    python tools/metaflow_docs_examples.py --snapshot GITDIR --python PY [--metaflow]
        [--json OUT] [--baseline BASE.json] [PAGE ...]

Users copy the documentation's examples first. The pages are extracted from a snapshot of the
documentation site's repository (``Netflix/metaflow-docs``; nothing of them is copied here) and
played in page order, each page in its own scratch folder, the way a reader would:

* a code block the prose names (``Save it as `statsprofiler.py```, ``a config file,
  `myconfig.json```) is written to that file before the examples after it run; so is a module
  that defines what a flow imports (``from robust_flow import robust_flow``), even from another
  page, and a config the prose shows unnamed right after the flow whose ``Config`` default it is;
  a page that asks for a Git repository gets one;
* a complete flow (a ``FlowSpec`` subclass and ``if __name__ == "__main__"``) is an example: it is
  saved under the name its shell blocks use (``python debug.py run``; else the name the prose
  gives, else the class's) and played with every command the shell blocks after it give for that
  file, in order, with ``run`` first when none of them runs it;
* a client, Runner or notebook snippet after it is an example too when it names a flow (its
  file or class) that the page played; a snippet without a ``metaflow`` import gets the imports
  a notebook cell above it would have made.

Every command is played even after one fails (pages show failures on purpose: ``debug.py`` is
meant to fail before it is resumed), and an example is ``ok`` only when all its commands exit 0.
Because some examples fail on purpose or by a slip of the page, the verdict that counts is
against real Metaflow: ``--json`` writes each example's exit codes, and ``--baseline`` compares
with such a file from a ``--metaflow`` run, listing the examples whose outcome differs.

Skipped, with the reason printed: examples that need the cloud (S3, Batch, Kubernetes, Step
Functions, Argo, Airflow), environments built from conda-forge or PyPI, secrets managers or
extensions outside Metaflow's core (``@checkpoint``, ``@model``), modules the interpreter under
test does not have, or data the page does not provide; commands that name a run id of the
writer's machine, open a long-running card server, or deploy. The last line printed is always
``metaflow-docs-examples: P ok, F failed, S skipped``; the exit status is 0 only when nothing
failed (with ``--baseline``: when nothing differs).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metaflow_pytests import _environment, _extract_tests  # noqa: E402 - a sibling script

FOLDERS = ("docs/metaflow", "docs/scaling")
_FENCE = re.compile(r"^[ \t]*```+[ \t]*([\w-]*)[^\n]*\n(.*?)^[ \t]*```+[ \t]*$", re.M | re.S)
_NAMED_FILE = re.compile(r"`([\w./-]+\.(?:py|json|toml|ya?ml|txt|sql|csv|cfg|ini))`")
_COMMAND = re.compile(r"""^\s*(?:\$\s*)?((?:\w+=(?:'[^']*'|"[^"]*"|\S+)\s+)*)"""
                      r"python3?\s+([\w./-]+\.py)\b(.*)$")
_FLOW_CLASS = re.compile(r"^class\s+(\w+)\s*\([^)]*FlowSpec[^)]*\)", re.M)
_CONFIG_DEFAULT = re.compile(r"""\bConfig\([^)]*?\bdefault=['"]([\w./-]+)['"]""")
_MAIN = re.compile(r"""^if\s+__name__\s*==\s*['"]__main__['"]""", re.M)
_SHELL_LANGS = {"bash", "sh", "shell", "console", ""}
_PY_LANGS = {"python", "py"}

# (pattern in a flow or snippet, why it cannot run here)
_SOURCE_SKIPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"@(batch|kubernetes)\b|\bnum_parallel\b.*@(batch|kubernetes)"),
     "runs tasks on AWS Batch or Kubernetes"),
    (re.compile(r"s3://|\bS3\(|\bIncludeFile\([^)]*s3"), "needs an S3 bucket"),
    (re.compile(r"@conda\b|@conda_base\b|--environment"), "builds a @conda environment from conda-forge"),
    (re.compile(r"@pypi\b|@pypi_base\b"), "builds a @pypi environment (micromamba, PyPI)"),
    (re.compile(r"@secrets\b"), "reads a cloud secrets manager"),
    (re.compile(r"@(checkpoint|model|huggingface_hub)\b|\bcurrent\.checkpoint\b"),
     "needs the metaflow-checkpoint extension, not part of Metaflow"),
    (re.compile(r"\bargo_workflows\b|\bstep_functions\b|\bDeployer\("),
     "deploys to Argo Workflows or Step Functions"),
    (re.compile(r"\bdecospecs=\[[^\]]*(kubernetes|batch)"), "runs tasks on Kubernetes or Batch"),
    (re.compile(r"@(slurm|snowpark|nvidia|nvct|app_deploy)\b"), "needs a compute extension"),
    (re.compile(r"""default=['"](/Users/|/home/)"""), "reads a file of the writer's machine"),
    (re.compile(r"\brequests\.get\(|\burlopen\("), "downloads from the internet"),
    (re.compile(r"""\b(Run|Step|Task)\(\s*f?['"]\w+/\d+"""), "names a run of the writer's machine"),
)
_COMMAND_SKIPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(batch|kubernetes)\b"), "AWS Batch or Kubernetes"),
    (re.compile(r"\b(step-functions|argo-workflows|airflow)\b"), "deploys to a scheduler"),
    (re.compile(r"--environment"), "a conda/pypi environment"),
    (re.compile(r"card server"), "a long-running card server"),
    (re.compile(r"\b\d{6,}\b|\b\d+/|RUN_ID|--run-id|--origin-run-id|/path/to"),
     "names a run id or path of the writer's machine"),
    (re.compile(r"\bspin\s+\S*\d"), "names a run id of the writer's machine"),
)


@dataclass
class Block:
    """One fenced code block of a page, with the prose around it."""

    lang: str
    code: str
    before: str
    after: str


@dataclass
class Example:
    """A flow with the commands to play, or a snippet to run with ``python``."""

    page: str
    index: int
    kind: str  # "flow" | "snippet"
    code: str
    filename: str
    commands: list[tuple[dict[str, str], list[str]]] = field(default_factory=list)
    skipped_commands: list[str] = field(default_factory=list)
    skip: str = ""

    @property
    def label(self) -> str:
        return f"{self.page}#{self.index} {self.filename}"


def _blocks(text: str) -> list[Block]:
    spans = [(m.start(), m.end(), m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    blocks = []
    for i, (start, end, lang, body) in enumerate(spans):
        before = text[spans[i - 1][1] if i else 0:start]
        after = text[end:spans[i + 1][0] if i + 1 < len(spans) else len(text)]
        indent = min((len(line) - len(line.lstrip()) for line in body.splitlines() if line.strip()),
                     default=0)
        code = "\n".join(line[indent:] for line in body.splitlines()) + "\n"
        blocks.append(Block(lang, code, before, after))
    return blocks


def _is_flow(block: Block) -> bool:
    return (block.lang in _PY_LANGS and bool(_FLOW_CLASS.search(block.code))
            and bool(_MAIN.search(block.code)))


def _commands(block: Block) -> list[tuple[str, str, str]]:
    """``(file, rest, env)`` for each ``[VAR=value ...] python FILE.py ...`` line of a block."""
    if block.lang in _PY_LANGS:
        return []
    joined = re.sub(r"\\\n\s*", " ", block.code)
    found = []
    for line in joined.splitlines():
        match = _COMMAND.match(line)
        if match:
            found.append((Path(match.group(2)).name, match.group(3).strip(), match.group(1)))
    return found


def _data_name(block: Block) -> str | None:
    """The file a non-flow block is saved to, when the prose just before or after names it."""
    if block.lang in _PY_LANGS:
        if re.search(r"\b(Runner|Flow|Run|Deployer|namespace)\(", block.code):
            return None  # a snippet to run, not a module to save
        # "create a file called `teatime.py` with:" just before it, else "Save it to a file,
        # `myprofile.py`." just after it, else a name earlier in the prose before it
        just_before = [n for n in _NAMED_FILE.findall(block.before.strip().split("\n\n")[-1])
                       if n.endswith(".py")]
        after = [n for n in _NAMED_FILE.findall(block.after.strip().split("\n\n")[0])
                 if n.endswith(".py")]
        before = [n for n in _NAMED_FILE.findall(block.before) if n.endswith(".py")]
        if ("def " in block.code or "class " in block.code) and (just_before or after or before):
            return (just_before[-1:] or after or before[-1:])[0]
        return None
    if _commands(block) or block.code.lstrip().startswith("$"):
        return None
    names = [n for n in _NAMED_FILE.findall(block.before) if not n.endswith(".py")]
    if names and block.code.strip()[:1] in "{[" or (names and block.lang in
                                                  {"toml", "yaml", "yml", "json", "javascript"}):
        return names[-1]
    return None


def _imported_names(blocks: list[Block]) -> dict[str, str]:
    """name -> module, for every ``from MODULE import NAME`` of the page's Python blocks and
    every ``--with MODULE.NAME`` of its commands (custom decorators)."""
    found: dict[str, str] = {}
    for block in blocks:
        if block.lang in _PY_LANGS:
            for module, names in re.findall(r"^from\s+(\w+)\s+import\s+([\w, ]+)$", block.code,
                                            re.M):
                if module != "metaflow":
                    found.update({n.strip(): module for n in names.split(",") if n.strip()})
        for _, args, _ in _commands(block):
            found.update({n: m for m, n in re.findall(r"--with\s+'?(\w+)\.(\w+)", args)})
    return found


def _module_by_import(block: Block, imported: dict[str, str]) -> str | None:
    """A block the prose does not name but which defines what a flow of the page imports
    (``from robust_flow import robust_flow``): that module."""
    if block.lang not in _PY_LANGS or _is_flow(block):
        return None
    for name in re.findall(r"^(?:def|class)\s+(\w+)", block.code, re.M):
        if name in imported:
            return imported[name] + ".py"
    return None


def _unnamed_config(block: Block, wanted: list[str]) -> str | None:
    """A config the prose shows without naming it ("Test this with a YAML file like below"),
    right after a flow whose ``Config(..., default=FILE)`` has no file yet: that FILE, when the
    block's format fits its suffix."""
    if block.lang in _PY_LANGS or _commands(block) or not wanted:
        return None
    text = block.code.strip()
    kind = ("json" if text[:1] in "{[" else "toml" if re.match(r"\[[\w.]+\]", text)
            else "yaml" if re.match(r"[\w-]+:", text) else "")
    suffixes = {"json": (".json",), "toml": (".toml",), "yaml": (".yaml", ".yml")}.get(kind, ())
    for name in wanted:
        if name.endswith(suffixes):
            wanted.remove(name)
            return name
    return None


def _flow_example(page: str, index: int, block: Block, rest: list[Block],
                  modules: set[str]) -> Example:
    commands: list[tuple[str, str, str]] = []
    for later in rest:
        if _is_flow(later):
            break
        commands += _commands(later)
    # a module the page saved (`tracked_flow.py`, imported by this flow) is not the flow's name
    named_after = [n for n in _NAMED_FILE.findall(block.after)
                   if n.endswith(".py") and n not in modules]
    named_before = [n for n in _NAMED_FILE.findall(block.before)
                    if n.endswith(".py") and n not in modules]
    if commands:
        filename = commands[0][0]
    elif named_after or named_before:
        filename = (named_after or named_before[-1:])[0]
    else:
        filename = _FLOW_CLASS.search(block.code).group(1).lower() + ".py"  # type: ignore[union-attr]
    example = Example(page, index, "flow", block.code, filename)
    for name, args, assignments in commands:
        if name != filename or not args:  # (a command split over lines without a backslash)
            continue
        why = next((why for pattern, why in _COMMAND_SKIPS if pattern.search(args)), None)
        if why:
            example.skipped_commands.append(f"{args} ({why})")
            continue
        env = dict(item.split("=", 1) for item in shlex.split(assignments))
        example.commands.append((env, shlex.split(args)))
    if not any("run" in argv for _, argv in example.commands):
        example.commands.insert(0, ({}, ["run"]))
    return example


def _references(code: str, played: dict[str, str]) -> bool:
    return any(re.search(rf"""['"/]{re.escape(name)}\b""", code) or re.search(
        rf"""['"]{re.escape(cls)}\b""", code) for name, cls in played.items())


def _page_items(page: str, text: str) -> list[tuple[str, object]]:
    """In page order: ("file", (name, code)) to save, or ("example", Example)."""
    items: list[tuple[str, object]] = []
    blocks = _blocks(text)
    played: dict[str, str] = {}  # file name -> flow class name, for snippets
    modules: set[str] = set()  # .py files the page saved that are not flows
    written: set[str] = set()
    wanted: list[str] = []  # config files the last flow reads by default, not yet written
    imported = _imported_names(blocks)
    index = 0
    pending: list[tuple[str, object]] = []  # a flow waits for the files its prose names after it
    for i, block in enumerate(blocks):
        if _is_flow(block):
            items += pending
            index += 1
            example = _flow_example(page, index, block, blocks[i + 1:], modules)
            wanted = [n for n in _CONFIG_DEFAULT.findall(block.code) if n not in written]
            played[example.filename] = _FLOW_CLASS.search(block.code).group(1)  # type: ignore[union-attr]
            pending = [("example", example)]
            continue
        name = _data_name(block) or _module_by_import(block, imported) or _unnamed_config(
            block, wanted)
        if name:
            items.append(("file", (name, block.code)))
            written.add(name)
            if name.endswith(".py"):
                modules.add(name)
        elif block.lang in _PY_LANGS and played and _references(block.code, played):
            items += pending
            pending = []
            index += 1
            code = block.code
            if not re.search(r"^\s*(from metaflow|import metaflow)", code, re.M):
                code = "from metaflow import *\n" + code  # a notebook cell above imported it
            items.append(("example", Example(page, index, "snippet", code, f"snippet{index}.py")))
    return items + pending


def _missing_modules(python: str, examples: list[Example], local: set[str],
                     env: dict[str, str]) -> set[str]:
    """Top-level modules the examples import that the interpreter under test lacks."""
    imported: set[str] = set()
    for example in examples:
        for match in re.finditer(r"^\s*(?:from|import)\s+([\w]+)", example.code, re.M):
            imported.add(match.group(1))
    imported -= local | {"metaflow", "__future__"}
    probe = ("import importlib.util, sys\n"
             "names = sys.argv[1:]\n"
             "print(' '.join(n for n in names if n not in sys.stdlib_module_names"
             " and importlib.util.find_spec(n) is None))")
    out = subprocess.run([python, "-c", probe, *sorted(imported)], env=env, capture_output=True,
                         text=True, check=True).stdout
    return set(out.split())


def _skip_reason(example: Example, missing: set[str]) -> str:
    for pattern, why in _SOURCE_SKIPS:
        if pattern.search(example.code):
            return why
    needs = sorted(m for m in missing if re.search(rf"^\s*(from|import)\s+{m}\b", example.code, re.M))
    if needs:
        return "imports " + ", ".join(needs) + ", which neither the page nor the interpreter provides"
    return ""


def _play(python: str, example: Example, folder: Path, env: dict[str, str]) -> list[int]:
    (folder / example.filename).write_text(example.code)
    plays = ([(extra, [python, example.filename, *args]) for extra, args in example.commands]
             if example.kind == "flow" else [({}, [python, example.filename])])
    codes = []
    tails = []
    for extra, argv in plays:
        try:
            proc = subprocess.run(argv, cwd=folder, env={**env, **extra}, capture_output=True, text=True,
                                  timeout=300, check=False)
            codes.append(proc.returncode)
            output = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired:
            codes.append(-1)
            output = "timed out after 300 s"
        if codes[-1]:
            tails.append(f"$ {' '.join(argv[1:])}\n{output.strip()[-1200:]}")
    shown = " ; ".join(" ".join([*extra, *argv[1:]]) for extra, argv in plays)
    verdict = "ok     " if not any(codes) else "FAILED "
    extra = f"  [not played: {'; '.join(example.skipped_commands)}]" if example.skipped_commands else ""
    print(f"{verdict}{example.label}: {shown} -> {codes}{extra}", flush=True)
    for tail in tails:
        print("    " + tail.replace("\n", "\n    "))
    return codes


def _git_repository(folder: Path) -> None:
    """A page that says its examples run in a Git repository gets one, with one commit."""
    for argv in (["init", "-q"], ["-c", "user.name=docs", "-c", "user.email=docs@example.com",
                                  "commit", "-q", "--allow-empty", "-m", "docs examples"]):
        subprocess.run(["git", *argv], cwd=folder, check=True, capture_output=True)


def _pages(root: Path, only: list[str]) -> list[Path]:
    pages = sorted(p for folder in FOLDERS for p in (root / folder).rglob("*.md"))
    if only:
        pages = [p for p in pages if any(str(p.relative_to(root)).startswith(o) for o in only)]
    return pages


def _library(site: Path) -> dict[str, str]:
    """The modules every page saves (``fallback.py``...), by file name: a page may import one
    that another page defines and links to (the mutators page's ``from fallback import ...``)."""
    found: dict[str, str] = {}
    for page in _pages(site, []):
        for kind, item in _page_items(str(page.relative_to(site)), page.read_text()):
            if kind == "file" and item[0].endswith(".py"):  # type: ignore[index]
                found.setdefault(item[0], item[1])  # type: ignore[index]
    return found


def _play_page(python: str, site: Path, page: Path, scratch: Path, env: dict[str, str],
               library: dict[str, str]) -> dict[str, list[int] | str]:
    """Play one page in its own folder; the outcome of each example, by label."""
    name = str(page.relative_to(site))
    items = _page_items(name, page.read_text())
    examples: list[Example] = [item for kind, item in items if kind == "example"]  # type: ignore[misc]
    if not examples:
        return {}
    folder = scratch / "pages" / name.replace("/", "-")[:-3]
    folder.mkdir(parents=True)
    if re.search(r"run in an existing Git repository", page.read_text(), re.I):
        _git_repository(folder)
    saved = {item[0]: item[1] for kind, item in items if kind == "file"}  # type: ignore[index]
    own = set(saved)
    sources = [e.code for e in examples] + list(saved.values())
    while sources:  # the modules they import, and the modules those import
        code = sources.pop()
        for module in re.findall(r"^\s*from\s+(\w+)\s+import", code, re.M):
            module += ".py"
            if module in library and module not in own:  # defined on a page this one links to
                (folder / module).write_text(library[module])
                own.add(module)
                sources.append(library[module])
    local = {Path(n).stem for n in own if n.endswith(".py")} | {e.filename[:-3] for e in examples}
    missing = _missing_modules(python, examples, local, env)
    outcomes: dict[str, list[int] | str] = {}
    for kind, item in items:
        if kind == "file":
            file_name, code = item  # type: ignore[misc]
            (folder / file_name).parent.mkdir(parents=True, exist_ok=True)
            (folder / file_name).write_text(code)
            continue
        example: Example = item  # type: ignore[assignment]
        why = _skip_reason(example, missing)
        if why:
            print(f"skipped {example.label}: {why}", flush=True)
            outcomes[example.label] = f"skipped: {why}"
        else:
            outcomes[example.label] = _play(python, example, folder, env)
    return outcomes


def _compare(outcomes: dict[str, list[int] | str], baseline: str) -> int:
    """Print the examples whose commands succeed or fail otherwise than with real Metaflow (an
    error's exit status may differ: a bad config is click's usage error, 2, there); how many."""
    base = json.loads(Path(baseline).read_text())
    differ = 0
    for label, codes in outcomes.items():
        theirs = base.get(label)
        if not (isinstance(codes, list) and isinstance(theirs, list)):
            continue  # skipped on either side (an interpreter lacks a module the example needs)
        if [code == 0 for code in codes] != [code == 0 for code in theirs]:
            differ += 1
            print(f"DIFFERS {label}: here {codes}, Metaflow {base[label]}")
    print(f"metaflow-docs-examples: {differ} differ from the baseline")
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshot", required=True, help="git dir of metaflow-docs")
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--python", default=sys.executable, help="the interpreter under test")
    parser.add_argument("--metaflow", action="store_true",
                        help="the interpreter has real Metaflow (baseline): write no shim")
    parser.add_argument("--json", help="write each example's exit codes to this file")
    parser.add_argument("--baseline", help="a --json file of real Metaflow to compare with")
    parser.add_argument("pages", nargs="*",
                        help="page paths (prefixes) to play, e.g. docs/metaflow/basics.md")
    args = parser.parse_args(argv)
    outcomes: dict[str, list[int] | str] = {}
    with tempfile.TemporaryDirectory(prefix="mf-docs-") as scratch_name:
        scratch = Path(scratch_name)
        site = scratch / "site"
        for folder in FOLDERS:
            _extract_tests(args.snapshot, args.rev, site, folder)
        env = _environment(args.python, scratch, args.metaflow)
        env["BROWSER"] = "true"  # `card view` opens nothing
        library = _library(site)
        for page in _pages(site, args.pages):
            outcomes.update(_play_page(args.python, site, page, scratch, env, library))
    if args.json:
        Path(args.json).write_text(json.dumps(outcomes, indent=1))
    differ = _compare(outcomes, args.baseline) if args.baseline else 0
    skipped = sum(isinstance(codes, str) for codes in outcomes.values())
    failed = sum(isinstance(codes, list) and any(codes) for codes in outcomes.values())
    print(f"metaflow-docs-examples: {len(outcomes) - skipped - failed} ok, {failed} failed, "
          f"{skipped} skipped")
    if args.baseline:
        return 0 if not differ else 1
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
