"""``headwater.testing.run_step``, used the way a user tests their own steps with pytest."""

from __future__ import annotations

import pytest

from headwater import Config, FlowSpec, Parameter, card, current, project, step
from headwater.testing import StepFailed, run_step


@project(name="shop")
class TrainFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)
    config = Config("config", default_value={"scale": 10})

    @step
    def start(self):
        self.data = [1, 2, 3]
        self.next(self.train)

    @step
    def train(self):
        print("training on", len(self.data))
        self.model = sum(self.data) * self.alpha * self.config.scale
        self.branch = current.branch_name
        self.next(self.fan)

    @step
    def fan(self):
        self.items = ["a", "b"]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.upper = self.input.upper()
        self.position = self.index
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.all = sorted(inp.upper for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        if self.fail:
            raise ValueError("broken on purpose")


def test_a_step_sees_its_artifacts_and_parameters():
    out = run_step(TrainFlow, "train", artifacts={"data": [1, 2, 3]}, params={"alpha": 0.1})
    assert out.data.model == pytest.approx(6.0)
    assert out.next == ("fan",)
    assert "training on 3" in out.stdout
    assert "model" in out.created and "data" not in out.created
    assert out.data.data == [1, 2, 3]  # inherited artifacts pass through


def test_defaults_configs_and_current_are_as_in_a_run():
    out = run_step(TrainFlow, "train", artifacts={"data": [1]}, configs={"config": {"scale": 2}})
    assert out.data.model == 1.0
    assert out.data.branch.startswith("user.")


def test_a_foreach_step_and_its_item():
    out = run_step(TrainFlow, "fan")
    assert out.foreach_count == 2 and out.next == ("each",)
    item = run_step(TrainFlow, "each", input="b", index=1)
    assert (item.data.upper, item.data.position) == ("B", 1)


def test_a_join_takes_one_dict_per_input():
    out = run_step(TrainFlow, "gather", inputs=[{"upper": "B"}, {"upper": "A"}])
    assert out.data.all == ["A", "B"]


def test_inputs_for_a_foreach_body_or_input_for_a_join_is_refused_naming_the_other():
    # inputs= was ignored for a step that is no join: the body ran with self.input None.
    with pytest.raises(TypeError, match=r"inputs= is for a join step, and step 'each' is no "
                       r"join\. For the item of a foreach, give input='b'"):
        run_step(TrainFlow, "each", inputs="b")
    with pytest.raises(TypeError, match=r"input= is a foreach item, and step 'gather' is a join"):
        run_step(TrainFlow, "gather", input="b")
    # Each as the message says it.
    assert run_step(TrainFlow, "each", input="b").data.upper == "B"


def test_a_failing_step_raises_with_its_traceback():
    with pytest.raises(StepFailed, match="ValueError: broken on purpose") as info:
        run_step(TrainFlow, "end", artifacts={"fail": True})
    assert "raise ValueError" in info.value.failure.traceback
    out = run_step(TrainFlow, "end", artifacts={"fail": True}, check=False)
    assert not out.ok and out.failure.type_name == "ValueError"


def test_the_step_runs_in_its_own_process():
    out = run_step(TrainFlow, "end", artifacts={"fail": False})
    assert out.ok and current.step_name is None  # nothing leaked into this process


def test_a_misspelt_step_or_parameter_names_the_close_one():
    from headwater.exceptions import HeadwaterException

    with pytest.raises(HeadwaterException, match=r"has no step 'trian'; did you mean 'train'\?"):
        run_step(TrainFlow, "trian")
    with pytest.raises(HeadwaterException,
                       match=r"has no parameter 'alpah'; did you mean 'alpha'\?"):
        run_step(TrainFlow, "train", artifacts={"data": [1]}, params={"alpah": 0.1})


class CardFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @card
    @step
    def end(self):
        from headwater.cards import Markdown

        current.card.append(Markdown("# Report"))
        self.reported = True


def test_a_carded_step_has_current_card_as_in_a_run():
    """newuser7: a step with @card failed under run_step, told it had no @card."""
    out = run_step(CardFlow, "end")
    assert out.data.reported is True
    assert "has no @card" not in out.stderr


def test_a_foreach_body_run_without_its_item_says_input_was_not_given():
    # `run_step(TrainFlow, "each")`: self.input is None, and the step's own error hid why.
    with pytest.raises(StepFailed) as failed:
        run_step(TrainFlow, "each")
    text = str(failed.value)
    assert "AttributeError" in text  # None.upper()
    assert ("note: step 'each' runs for each item of the foreach in 'fan', and no input= was "
            "given, so self.input was None; give the item: run_step(TrainFlow, 'each', "
            "input=ITEM, index=0)") in text
    # The call it names runs; a failure with the item given carries no note.
    assert run_step(TrainFlow, "each", input="b", index=0).data.upper == "B"
    with pytest.raises(StepFailed) as other:
        run_step(TrainFlow, "each", input=3, index=0)
    assert "note:" not in str(other.value)
