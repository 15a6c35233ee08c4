"""Tag rules shared by every backend and the client.

A tag is a non-empty string of at most :data:`MAX_TAG_LENGTH` characters, without control
characters, and never shaped like a path that climbs out of a folder (a ``..`` segment or a leading
``/``): backends may one day key files or object names by tag, so such a tag is refused up front
rather than escaped differently by each. System tags
(``user:<name>``, ``runtime:dev``, ``python_version:3.11.7``, ...) are set when a run starts and
never removed; user tags come and go through ``Run.add_tag`` and friends. Namespaces are tags:
a run is in namespace ``user:alice`` because it carries that system tag.
"""

from __future__ import annotations

from collections.abc import Iterable

from headwater.exceptions import ArtifactError

MAX_TAG_LENGTH = 512


def check_tags(tags: Iterable[str]) -> list[str]:
    """Return the tags as a de-duplicated list, or raise ValueError naming the bad one."""
    if isinstance(tags, str):
        raise TypeError(f"tags must be a list of strings, not the string {tags!r}")
    seen: dict[str, None] = {}
    for tag in tags:
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"a tag must be a non-empty string, not {tag!r}")
        if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in tag):
            raise ValueError(f"tag {tag!r} contains a control character")
        if tag.startswith(("/", "\\")) or ".." in tag.replace("\\", "/").split("/"):
            raise ValueError(
                f"tag {tag!r} looks like a path leaving its folder ('..' segment or leading '/')"
            )
        if len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"tag {tag[:40]!r}... is longer than {MAX_TAG_LENGTH} characters")
        seen[tag] = None
    return list(seen)


def user_namespace(user: str) -> str:
    """The namespace (and system tag) of everything ``user`` runs."""
    return f"user:{user}"


def with_user_tag(system_tags: list[str], user: str) -> list[str]:
    """System tags always include ``user:<user>``, so every run is in its user's namespace."""
    tag = user_namespace(user)
    return system_tags if tag in system_tags else [*system_tags, tag]


# The ``runtime:`` value of a run the local scheduler orchestrates: Metaflow's name for its own
# local runtime, so ``task.runtime_name == 'dev'`` tells a local run in both. headwater's own
# executors (``dask``, ``spawn``) keep their names: Metaflow has none for them.
LOCAL_RUNTIME = "dev"


def runtime_name(executor: str) -> str:
    """The ``runtime:`` system tag's value for a run on ``executor``."""
    return LOCAL_RUNTIME if executor == "local" else executor


START_STEP_TAG = "start_step:"
END_STEP_TAG = "end_step:"


def endpoint_tags(start: str | None, end: str | None) -> list[str]:
    """The system tags that record a run's first and last steps when they are not named
    ``start`` and ``end`` (``@step(start=True)``, a flow of one step); none for the usual flow,
    whose runs then carry the same tags as before."""
    tags = []
    if start and start != "start":
        tags.append(START_STEP_TAG + start)
    if end and end != "end":
        tags.append(END_STEP_TAG + end)
    return tags


def endpoints_of(system_tags: Iterable[str]) -> tuple[str, str]:
    """A run's (start step, end step), read back from its system tags."""
    start, end = "start", "end"
    for tag in system_tags:
        if tag.startswith(START_STEP_TAG):
            start = tag[len(START_STEP_TAG):]
        elif tag.startswith(END_STEP_TAG):
            end = tag[len(END_STEP_TAG):]
    return start, end


# ``@transient('raw')`` on a flow: each of its runs carries ``transient:raw``, which the collector
# (a succeeded run's data under that name is not kept), the client (why such data is gone) and
# resume read back (headwater.decorators.transient).
TRANSIENT_TAG_PREFIX = "transient:"


def transient_tags(names: Iterable[str]) -> list[str]:
    """The system tags a run records its ``@transient`` artifact names with."""
    return [TRANSIENT_TAG_PREFIX + name for name in names]


def transient_names_of(system_tags: Iterable[str]) -> frozenset[str]:
    """The artifact names a run declared ``@transient``, read back from its system tags."""
    cut = len(TRANSIENT_TAG_PREFIX)
    return frozenset(tag[cut:] for tag in system_tags if tag.startswith(TRANSIENT_TAG_PREFIX))


def freed_transient_error(exc: BaseException, name: str, pathspec: str,
                          system_tags: Iterable[str]) -> ArtifactError | None:
    """The error to raise instead of ``exc`` (a blob found missing while loading artifact
    ``name`` of task ``pathspec``) when the task's run (its ``system_tags``) declared ``name``
    transient: ``gc`` freed it on purpose, which the store's own "missing blob" cannot say.
    None when the blob went missing for another reason."""
    if not isinstance(exc.__cause__, FileNotFoundError) or name not in transient_names_of(
            system_tags):
        return None
    return ArtifactError(
        f"artifact {name!r} of task {pathspec} was declared @transient: its data was freed by "
        "`headwater gc` once the run succeeded",
        fix=f"run the flow again (or resume it from the step that makes {name!r}) to compute "
        f"it anew; leave {name!r} out of @transient(...) to keep it",
    )
