"""Errors a user can act on.

Anything raised as a ``UserError`` is shown as one line without a traceback; every other
exception is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input or environment, with a message that names the culprit."""


class ConfigError(UserError):
    """A mistake in the configuration file, located by file and key path."""

    def __init__(self, file: str, where: str, problem: str):
        self.file, self.where, self.problem = file, where, problem
        super().__init__(f"{file}: {where}: {problem}" if where else f"{file}: {problem}")
