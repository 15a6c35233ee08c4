"""What a user writes: FlowSpec, @step, Parameter, JSONType, IncludeFile, Config, current."""

from headwater.flow.config import Config, ConfigValue, config_expr
from headwater.flow.current import current
from headwater.flow.flowspec import FlowSpec
from headwater.flow.includefile import IncludeFile
from headwater.flow.parameters import JSONType, Parameter
from headwater.flow.step import step

__all__ = ["Config", "ConfigValue", "FlowSpec", "IncludeFile", "JSONType", "Parameter", "config_expr", "current", "step"]
