"""The pathspec forms ``spin`` accepts (Metaflow's), parsed without a run."""

from __future__ import annotations

import pytest

from headwater.exceptions import NotFoundError
from headwater.runtime.spin_target import SpinTarget, parse_target


@pytest.mark.parametrize(("text", "target"), [
    ("train", SpinTarget("train")),
    ("12/train", SpinTarget("train", "12")),
    ("12/train/3", SpinTarget("train", "12", "3")),
    ("MyFlow/12/train", SpinTarget("train", "12")),
    ("MyFlow/12/train/3", SpinTarget("train", "12", "3")),
    ("/12/train/3/", SpinTarget("train", "12", "3")),
])
def test_forms(text, target):
    assert parse_target("MyFlow", text) == target


@pytest.mark.parametrize(("text", "message"), [
    ("Other/12/train/3", "names flow 'Other', not MyFlow"),
    ("12//3", "a part of the pathspec is empty"),
    ("MyFlow/12/train/3/x", "not a pathspec spin understands"),
])
def test_refused_with_the_forms_named(text, message):
    with pytest.raises(NotFoundError, match=message) as caught:
        parse_target("MyFlow", text)
    assert caught.value.fix
