"""Errors of the stack launcher. Messages name the setting (env var, file) and the fix."""

from harness_common.errors import HarnessError


class StackError(HarnessError):
    """The stack could not be configured, started, inspected or stopped."""


class StackConfigError(StackError, ValueError):
    """A setting (environment variable or option) is invalid; the message names it."""


class PortInUseError(StackError):
    """A port the stack needs is taken by a process the stack did not start."""


class MissingBinaryError(StackError):
    """A system binary (prometheus, alertmanager, ...) is not installed."""


class PartFailedError(StackError):
    """A part exited or did not become ready; the message carries its log tail."""
