"""What the running command is, for code SpiffWorkflow calls without passing it along.

SpiffWorkflow evaluates timer expressions and calls registered functions with their arguments only, so the
unit of work of the command being run and the data of the task being evaluated travel in context variables.
They live here, apart from both the code that sets them and the code that reads them, so that neither has to
import the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

# The unit of work a command is running, so that timer expressions can reach their instance's deadlines; typed
# loosely because the unit of work's module imports this one (its readers check what they get).
current_work: ContextVar[Any] = ContextVar("current_work", default=None)
# The data of the task whose expression is being evaluated (SpiffWorkflow passes only arguments to functions).
current_data: ContextVar[Mapping[str, Any] | None] = ContextVar("current_data", default=None)
