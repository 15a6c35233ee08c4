"""What a user writes: FlowSpec, @step, Parameter, JSONType, IncludeFile, current."""

from headwater.flow.current import current
from headwater.flow.flowspec import FlowSpec
from headwater.flow.includefile import IncludeFile
from headwater.flow.parameters import JSONType, Parameter
from headwater.flow.step import step

__all__ = ["FlowSpec", "IncludeFile", "JSONType", "Parameter", "current", "step"]
