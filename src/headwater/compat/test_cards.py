"""The card types Metaflow's own test suite renders (``metaflow.plugins.cards.card_modules.
test_cards``), so the suite's card tests run on headwater.

Each is tiny and deterministic: its HTML is plain text the suite's checkers compare (a task's
pathspec, components joined by a separator, an artifact's value), or it fails or sleeps on
purpose. They are headwater's own code; they exist only where ``metaflow`` is served
(``card_class`` looks here when a Metaflow flow names a type it does not know).
"""

from __future__ import annotations

import hashlib
import json
import random
import string
import time
from typing import Any, ClassVar

from headwater.cards import MetaflowCard, MetaflowCardComponent

SEPARATOR = "$&#!!@*"  # what the suite splits an editable test card's text on


def _texts(components: list[Any]) -> list[str]:
    """The rendered text of each real component; as with Metaflow, anything else appended to
    ``current.card`` (a plain string, an arbitrary object) or a component whose render fails
    is left out."""
    texts = []
    for component in components:
        if not isinstance(component, MetaflowCardComponent):
            continue
        try:
            text = component.render()
        except Exception:  # noqa: BLE001 - a broken component never breaks the card
            continue
        if isinstance(text, str):
            texts.append(text)
    return texts


class TestStringComponent(MetaflowCardComponent):
    """A component whose HTML is its text, as given (or as last updated)."""

    REALTIME_UPDATABLE = True

    def __init__(self, text: Any) -> None:
        super().__init__()
        self._text = text

    def render(self) -> str:
        return str(self._text)

    def update(self, text: Any) -> None:
        self._text = text


class TestJSONComponent(MetaflowCardComponent):
    """A component carrying a JSON-able value."""

    REALTIME_UPDATABLE = True

    def __init__(self, data: Any) -> None:
        super().__init__()
        self._data = data

    def render(self) -> Any:
        return self._data  # the value itself, as Metaflow's: a live card's data carries it

    def update(self, data: Any) -> None:
        self._data = data


class TestPathSpecCard(MetaflowCard):
    """The task's pathspec and a random suffix (two renders differ)."""

    type = "test_pathspec_card"

    def render(self, task: Any) -> str:
        suffix = "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(6))
        return f"{task.pathspec} {suffix}"


class _JoinedComponents(MetaflowCard):
    """The text of each component, joined by SEPARATOR."""

    separator = SEPARATOR

    def render(self, task: Any) -> str:
        return self.separator.join(_texts(self.components))


class TestEditableCard(_JoinedComponents):
    type = "test_editable_card"
    ALLOW_USER_COMPONENTS: ClassVar[bool] = True


class TestEditableCard2(_JoinedComponents):
    type = "test_editable_card_2"
    ALLOW_USER_COMPONENTS: ClassVar[bool] = True


class TestNonEditableCard(_JoinedComponents):
    type = "test_non_editable_card"


class TestMockCard(MetaflowCard):
    """The value of the artifact named by ``options['key']``."""

    type = "test_mock_card"

    def render(self, task: Any) -> str:
        return str(task[self.options.get("key", "dummy_key")].data)


class TestErrorCard(MetaflowCard):
    """Always fails to render."""

    type = "test_error_card"

    def render(self, task: Any) -> str:
        raise Exception("Unknown Things Happened")  # noqa: TRY002 - what the suite expects


class TestTimeoutCard(MetaflowCard):
    """Sleeps ``options['timeout']`` seconds (default 50), then gives the pathspec."""

    type = "test_timeout_card"

    def render(self, task: Any) -> str:
        time.sleep(float(self.options.get("timeout", 50)))
        return task.pathspec


class TestRefreshCard(MetaflowCard):
    """The pathspec and the step's last ``current.card.refresh(data)``, as JSON; re-rendered on
    every refresh (the suite reads the data it was handed back with ``Card.get_data()``)."""

    type = "test_refresh_card"
    RUNTIME_UPDATABLE: ClassVar[bool] = True
    ALLOW_USER_COMPONENTS: ClassVar[bool] = True

    def render(self, task: Any) -> str:
        return self.render_runtime(task, self.runtime_data or {})

    def render_runtime(self, task: Any, data: dict[str, Any]) -> str:
        user = json.dumps(data.get("user", {}), sort_keys=True)
        return f"<html><h1>{task.pathspec}</h1><h1>{user}</h1></html>"

    def refresh(self, task: Any, data: dict[str, Any]) -> dict[str, Any]:
        return data


def _component_values_to_hash(components: dict[str, Any]) -> str:
    """The reload token's hash for ``test_component_refresh_card``, computed as the suite
    computes its expected value: the text of each item of each component's value, joined."""
    joined = ",".join("".join(item) for value in components.values() for item in value)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


class TestRefreshComponentCard(MetaflowCard):
    """The pathspec and the step's components, as JSON; its reload token changes with its live
    components' values (and is "final" at the task's end)."""

    type = "test_component_refresh_card"
    RUNTIME_UPDATABLE: ClassVar[bool] = True
    ALLOW_USER_COMPONENTS: ClassVar[bool] = True
    RELOAD_POLICY: ClassVar[str] = MetaflowCard.RELOAD_POLICY_ONCHANGE

    def render(self, task: Any) -> str:
        values = [c.render() for c in self.components if isinstance(c, MetaflowCardComponent)]
        return (f'<html><script>var METAFLOW_RELOAD_TOKEN = "{self.RELOAD_POLICY_TOKEN}"'
                f"</script><h1>{task.pathspec}</h1>"
                f"<h1>{json.dumps(values, default=str)}</h1></html>")

    def render_runtime(self, task: Any, data: dict[str, Any]) -> str:
        return self.render(task)

    def refresh(self, task: Any, data: dict[str, Any]) -> dict[str, Any]:
        return data["components"]

    def reload_content_token(self, task: Any, data: dict[str, Any]) -> str:
        if task.finished:
            return "final"
        return f"runtime-{_component_values_to_hash(data['components'])}"


__all__ = [
    "SEPARATOR", "TestEditableCard", "TestEditableCard2", "TestErrorCard", "TestJSONComponent",
    "TestMockCard", "TestNonEditableCard", "TestPathSpecCard", "TestRefreshCard",
    "TestRefreshComponentCard", "_component_values_to_hash",
    "TestStringComponent", "TestTimeoutCard",
]
