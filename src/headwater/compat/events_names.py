"""``metaflow.events``: ``Trigger`` (what started a run; ``Trigger.from_runs`` builds one by hand)
and ``MetaflowEvent``, one event of it."""

from headwater.flow.trigger import Trigger, TriggerEvent

MetaflowEvent = TriggerEvent
MetaflowTrigger = Trigger

__all__ = ["MetaflowEvent", "MetaflowTrigger", "Trigger"]
