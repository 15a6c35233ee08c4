"""Namespaces, exactly as in Metaflow: a namespace is a tag every visible run must carry.

By default it is ``user:<you>``, so a notebook sees only its user's runs; ``namespace(None)``
sees every run; ``namespace('user:alice')`` or any other tag (a ``project:...`` tag, a user tag)
switches the view. The choice is process-wide, like Metaflow's.

Objects reached by listing (``Flow.runs()``, ``Metaflow().flows``) are filtered by it in the
query. Objects named by pathspec that exist but lie outside it raise
:class:`~headwater.exceptions.NamespaceMismatchError`, never a silent "not found".
"""

from __future__ import annotations

from collections.abc import Iterable

from headwater.exceptions import NamespaceMismatchError
from headwater.flow.current import current
from headwater.meta.tags import user_namespace
from headwater.settings import current_username

_UNSET = object()
_namespace: object = _UNSET
# The field of ``current`` a run's tasks find ``run --namespace NS`` in (set by the launcher).
RUN_NAMESPACE_FIELD = "_hw_client_namespace"


def namespace(ns: str | None) -> str | None:
    """Switch the namespace (``None``: everything) and return the new one."""
    global _namespace
    if ns is not None and (not isinstance(ns, str) or not ns):
        raise ValueError(f"a namespace is a tag such as 'user:alice', or None; got {ns!r}")
    _namespace = ns
    return ns


def get_namespace() -> str | None:
    """The current namespace; the first call settles on :func:`default_namespace`, or inside a
    task of ``run --namespace NS`` on NS (``--namespace=`` : the global namespace)."""
    if _namespace is _UNSET:
        chosen = _run_namespace()
        if chosen is not _UNSET:
            return namespace(chosen)  # type: ignore[arg-type]
        return default_namespace()
    return _namespace  # type: ignore[return-value]


def _run_namespace() -> object:
    """The namespace ``run --namespace`` gave the running task's client (None for ``""``), or
    _UNSET outside a task or when the run was not given one."""
    if not current.is_running_flow:
        return _UNSET
    chosen = current._extra.get(RUN_NAMESPACE_FIELD)
    if chosen is None:
        return _UNSET
    return chosen or None


def default_namespace() -> str:
    """Return to the default namespace, ``user:<username>``, and return it."""
    global _namespace
    _namespace = user_namespace(current_username())
    return _namespace  # type: ignore[return-value]


def reset_namespace() -> None:
    """Forget any choice, so the next call resolves the default again (for tests)."""
    global _namespace
    _namespace = _UNSET


def namespace_tags() -> tuple[str, ...]:
    """The tags a run must carry to be visible: ``()`` in the global namespace."""
    ns = get_namespace()
    return () if ns is None else (ns,)


def check_namespace(kind: str, pathspec: str, tags: Iterable[str], owner: str | None) -> None:
    """Raise NamespaceMismatchError if an object with these run tags is outside the namespace."""
    ns = get_namespace()
    if ns is None or ns in set(tags):
        return
    owner_hint = f", or namespace('{user_namespace(owner)}') for its owner's" if owner else ""
    raise NamespaceMismatchError(
        f"{kind} '{pathspec}' exists but is not in the current namespace '{ns}'",
        fix=f"call namespace(None) to see objects of every namespace{owner_hint}",
    )
