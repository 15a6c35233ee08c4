"""``@transient`` declarations: what a flow class records, and the mistakes it refuses."""

from __future__ import annotations

import pytest

from headwater import FlowSpec, Parameter, step, transient
from headwater.decorators.transient import transient_names
from headwater.exceptions import FlowDefinitionError
from headwater.meta.tags import transient_names_of, transient_tags


def _flow(name: str = "Scratch") -> type:
    class Scratch(FlowSpec):
        alpha = Parameter("alpha", default=1)

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    Scratch.__name__ = name
    return Scratch


def test_names_are_recorded_in_order_stacked_and_inherited() -> None:
    flow = transient("raw", "features")(transient("raw", "tmp")(_flow()))
    assert transient_names(flow) == ("raw", "tmp", "features")

    class Child(flow):  # type: ignore[misc, valid-type]
        pass

    assert transient_names(Child) == ("raw", "tmp", "features")
    assert transient_names(_flow()) == ()


def test_the_tags_round_trip() -> None:
    tags = ["user:ann", *transient_tags(["raw", "tmp"]), "runtime:dev"]
    assert transient_names_of(tags) == {"raw", "tmp"}
    assert transient_names_of(["user:ann"]) == frozenset()


def test_a_bare_decorator_names_nothing_and_says_how() -> None:
    with pytest.raises(FlowDefinitionError, match=r"(?s)Bare names no artifact.*@transient\('raw'"):
        transient(_flow("Bare"))  # type: ignore[arg-type]
    with pytest.raises(FlowDefinitionError, match="names no artifact"):
        transient()


@pytest.mark.parametrize("name", ["", "not a name", "1st", 3, None])
def test_a_name_that_is_no_identifier_is_refused(name) -> None:
    with pytest.raises(FlowDefinitionError, match="identifier"):
        transient(name)


def test_a_parameter_cannot_be_transient() -> None:
    with pytest.raises(FlowDefinitionError, match=r"'alpha' is a Parameter") as caught:
        transient("raw", "alpha")(_flow("WithParam"))
    assert "WithParam" in str(caught.value)


def test_only_a_flow_class_takes_it() -> None:
    with pytest.raises(FlowDefinitionError, match="not a flow class"):
        transient("raw")(object)
