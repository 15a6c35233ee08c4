"""Config parsers that read a step's environment from a project's own files.

A flow keeps its dependencies where the project already lists them and hands them to a decorator::

    reqs = Config("reqs", default="requirements.txt", parser=requirements_txt_parser)

    @pypi(**reqs)
    @step
    def start(self): ...

Each environment parser takes the file's text and returns ``{"packages": {name: spec},
"python": spec or None}``: exactly the keyword arguments of ``@pypi`` / ``@conda``. A spec is
what follows the name (``"1.2.0"`` for ``==1.2.0``, ``">=2,<3"``, ``""`` for any version), and
a ``python`` entry becomes the Python the environment is built on. Lines the decorators cannot
honour (environment markers, pip options, a second ``python``) are refused with
:class:`ParserValueError` rather than dropped, so an environment never silently differs from
the file. ``yaml_parser`` turns any YAML document into a config's dict.

Only ``re`` is imported here: ``tomllib`` (``tomli`` before Python 3.11) and PyYAML are imported
by the parser that needs them, and this module itself only by a flow that names one.
"""

from __future__ import annotations

import re
from typing import Any

from headwater.exceptions import HeadwaterException

__all__ = ["ParserValueError", "ParserImportError", "conda_environment_yml_parser",
           "pyproject_toml_parser", "requirements_txt_parser", "yaml_parser"]


class ParserValueError(HeadwaterException):
    """A line of the file cannot become a declaration (the message quotes it)."""

    headline = "Value error"


class ParserImportError(HeadwaterException, ImportError):
    """The library a parser reads its format with is not installed (the fix names it)."""

    headline = "Parser unavailable"


_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
# name [extras] then either "@ url" or version specifiers (bare, or in parentheses), then markers
_REQUIREMENT = re.compile(
    rf"(?P<name>{_NAME})\s*"
    rf"(?:\[\s*(?P<extras>{_NAME}(?:\s*,\s*{_NAME})*)?\s*\])?\s*"
    r"(?:@\s*(?P<url>\S+)|\(\s*(?P<paren>[^()]*?)\s*\)|(?P<specs>[~=!<>][^;]*?))?"
    r"\s*(?:;(?P<marker>.*))?")
_SPECIFIER = re.compile(r"(~=|===|==|!=|<=|>=|<|>)\s*(\S+)")
# PEP 440: [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], written loosely as pip accepts it
_VERSION = re.compile(
    r"v?(?:\d+!)?\d+(?:\.\d+)*"
    r"(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?\d*)?"
    r"(?:-\d+|[-_.]?(?:post|rev|r)[-_.]?\d*)?"
    r"(?:[-_.]?dev[-_.]?\d*)?"
    r"(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?", re.IGNORECASE)
_INLINE_COMMENT = re.compile(r"\s+#.*$")


def _specifiers(text: str, line: str) -> str:
    """The specifiers of a requirement, checked and written without spaces (``==`` of a lone
    pin dropped: ``"1.2.0"``), or ParserValueError quoting ``line``."""
    if not text.strip():
        return ""
    written = []
    for part in text.split(","):
        found = _SPECIFIER.fullmatch(part.strip())
        if found is None:
            raise ParserValueError(f"Not a valid PEP 508 requirement: '{line}'")
        op, version = found.groups()
        wildcard = version.endswith(".*") and op in ("==", "!=")
        if op != "===" and not _VERSION.fullmatch(version[:-2] if wildcard else version):
            raise ParserValueError(f"Not a valid PEP 508 requirement: '{line}' "
                                   f"({version!r} is not a version)")
        written.append(op + version)
    spec = ",".join(written)
    return spec[2:] if spec.startswith("==") and not spec.startswith("===") else spec


def _requirement(line: str) -> tuple[str, str]:
    """``(key, spec)`` of one PEP 508 line: the key is the name with its extras and direct
    reference (``requests[socks]``, ``lib@git+https://...``), as a package key of ``@pypi``."""
    found = _REQUIREMENT.fullmatch(line)
    if found is None:
        raise ParserValueError(f"Not a valid PEP 508 requirement: '{line}'")
    if found["marker"] is not None:
        raise ParserValueError(
            "Environment markers (e.g. 'platform_system==\"Linux\"') are not supported for "
            f"line: '{line}' (an environment is built for one platform: list what it needs)")
    key = found["name"]
    if found["extras"]:
        key += "[" + ",".join(e.strip() for e in found["extras"].split(",")) + "]"
    if found["url"]:
        return f"{key}@{found['url']}", ""
    return key, _specifiers(found["paren"] or found["specs"] or "", line)


def _collect(requirements: list[str], python: str | None) -> dict[str, Any]:
    """The declaration of these requirement lines: a ``python`` one sets the Python."""
    parsed: dict[str, Any] = {"packages": {}, "python": python}
    for line in requirements:
        key, spec = _requirement(line)
        if key.lower() != "python":
            parsed["packages"][key] = spec
            continue
        if parsed["python"] is not None and spec:
            raise ParserValueError(f"Multiple Python version specs not allowed: '{line}'")
        parsed["python"] = spec or parsed["python"]
    return parsed


def requirements_txt_parser(content: str) -> dict[str, Any]:
    """A ``requirements.txt``: one PEP 508 requirement a line (``name[extras] specs`` or
    ``name @ url``); comments and blank lines skipped, and the ``-e file:.`` line Rye's lock
    files start with. Pip options (``-r``, ``--index-url``, ``-e pkg``) and environment markers
    raise ParserValueError: they would change what gets installed in ways a declaration cannot
    say. A ``python`` line gives the Python."""
    lines = []
    for raw in content.splitlines():
        line = _INLINE_COMMENT.sub("", raw.strip()).strip()
        if line and not line.startswith("#") and line != "-e file:.":
            lines.append(line)
    return _collect(lines, None)


def pyproject_toml_parser(content: str) -> dict[str, Any]:
    """A ``pyproject.toml``'s ``[project]`` table (PEP 621): ``dependencies`` are the packages
    and ``requires-python`` the Python (a range such as ``>=3.10`` is fine)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            raise ParserImportError(
                "pyproject_toml_parser needs a TOML reader: this Python has neither tomllib "
                "(Python 3.11 and newer) nor tomli",
                fix="pip install tomli (or run the flow on Python 3.11 or newer)") from None
    try:
        project = tomllib.loads(content).get("project", {})
    except tomllib.TOMLDecodeError as err:
        raise ParserValueError(f"Not valid TOML: {err}") from None
    requires = project.get("requires-python")
    python = None
    if isinstance(requires, str):  # ">=3.10" kept as written; "==3.11" is the version "3.11"
        python = requires.strip().lstrip("=").strip() or None
    dependencies = project.get("dependencies", [])
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise ParserValueError(f"[project] dependencies must be a list of strings, got "
                               f"{dependencies!r}")
    return _collect([d.strip() for d in dependencies], python)


_CONDA_SPEC = re.compile(r"([A-Za-z0-9_.-]+)\s*([=<>!~].*)?")


def conda_environment_yml_parser(content: str) -> dict[str, Any]:
    """A conda ``environment.yml``'s ``dependencies:`` list (``- numpy=1.21.2``, ``- numpy``,
    ``- python=3.10.*``); other sections (``name:``, ``channels:``) are skipped. Read line by
    line, not as YAML, so PyYAML is not needed; a nested list (``- pip:``) raises
    ParserValueError, since its packages come from another index."""
    packages: dict[str, str] = {}
    python: str | None = None
    listing = False
    for raw in content.splitlines():
        line = _INLINE_COMMENT.sub("", raw.strip()).strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("dependencies:"):
            listing = True
            continue
        if not line.startswith("-"):
            listing = False
        if not listing:
            continue
        entry = line[1:].strip()
        if entry.endswith(":"):
            raise ParserValueError(f"Unsupported subsection '{entry}' in environment.yml "
                                   "(list its packages in @pypi or in the dependencies)")
        found = _CONDA_SPEC.fullmatch(entry)
        if found is None:
            raise ParserValueError(f"Line '{entry}' is not a valid conda package specifier.")
        name, spec = found[1], (found[2] or "").strip()
        if spec.startswith("="):
            spec = spec.lstrip("=").strip()
        if name.lower() != "python":
            packages[name] = spec
        elif python is not None and spec:
            raise ParserValueError(f"Multiple Python version specs detected: '{entry}'")
        else:
            python = spec or python  # a bare "- python" asks for no particular version
    return {"packages": packages, "python": python}


def yaml_parser(content: str) -> Any:
    """A YAML document as Python values (a config's dict), read with PyYAML's safe loader."""
    try:
        import yaml
    except ImportError:
        raise ParserImportError(
            "yaml_parser needs PyYAML, which is not installed in this environment",
            fix="pip install pyyaml (or headwater[cards], which includes it)") from None
    try:
        return yaml.safe_load(content)
    except yaml.YAMLError as err:
        raise ParserValueError(f"Not valid YAML: {err}") from None
