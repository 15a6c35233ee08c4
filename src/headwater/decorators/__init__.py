"""Step decorators (cache, concurrency, retry, catch, timeout, resources, environment, parallel, card) and @project."""

from headwater.decorators.base import StepDecorator, StepPolicy
from headwater.decorators.cache import cache
from headwater.decorators.card import card
from headwater.decorators.catch import CaughtException, catch
from headwater.decorators.concurrency import concurrency
from headwater.decorators.environment import environment
from headwater.decorators.parallel import parallel
from headwater.decorators.project import project
from headwater.decorators.resources import resources
from headwater.decorators.retry import retry
from headwater.decorators.secrets import secrets
from headwater.decorators.timeout import timeout

__all__ = [
    "CaughtException", "StepDecorator", "StepPolicy", "cache", "card", "catch", "concurrency", "environment", "parallel", "project",
    "resources", "retry", "secrets", "timeout",
]
