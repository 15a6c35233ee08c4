"""One copy of a rule: loading a flow file, and hiding headwater's frames from a traceback.

Two copies drift apart (one learns to install the ``metaflow`` alias, the other does not; one
hides importlib's frames, the other does not). These rules live in one module each.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import headwater
from headwater.tracebacks import public_class_name, user_traceback

PACKAGE = Path(headwater.__file__).parent


@pytest.mark.parametrize(("needle", "home"), [
    ("spec_from_file_location", "flow_file.py"),
    ("exec_module", "flow_file.py"),
    ("extract_tb", "tracebacks.py"),
    ("PACKAGE_DIR", "tracebacks.py"),  # the test "is this frame headwater's?"
    ("sslpassword", "redaction.py"),  # which URL query parameters hold a password
])
def test_each_rule_has_one_home(needle, home):
    users = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
                   if needle in p.read_text())
    assert [u for u in users if u not in PASS_ON.get(needle, ())] == [home]


# Modules that name a needle only to pass the call on, not to follow the rule themselves: the
# artifact serializers' import watcher wraps the real loader of a module a parked serializer
# waits for (Metaflow retries a serializer when that module is imported); it loads no flow file.
# The extension finder's loader serves a module already imported under another name (its
# exec_module does nothing); it loads no flow file either.
PASS_ON = {"exec_module": ("store/serializers/import_watch.py", "compat/extension_finder.py")}


def test_the_class_to_catch_is_a_public_one():
    from headwater.client._errors import MissingChild, TaggingError

    assert public_class_name(MissingChild("x")) == "headwater.exceptions.NotFoundError"
    assert public_class_name(TaggingError("x")) == "headwater.exceptions.HeadwaterException"
    assert public_class_name(KeyError("x")) == "KeyError"


def test_a_users_traceback_keeps_their_frames_only():
    def users_code():
        raise ValueError("in the user's code")

    try:
        users_code()
    except ValueError as exc:
        text = user_traceback(exc)
    assert "users_code" in text and "ValueError: in the user's code" in text
    assert str(PACKAGE) not in text
