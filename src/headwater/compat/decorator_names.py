"""``metaflow.decorators``: the bases of step and flow decorators written against Metaflow's
plug-in lifecycle (see ``headwater.decorators.lifecycle``)."""

from headwater.decorators.lifecycle import FlowDecorator, StepDecorator

__all__ = ["FlowDecorator", "StepDecorator"]
