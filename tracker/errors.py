"""Errors a user can act on.

Anything raised as a ``TrackerError`` names what is at fault: the CLI shows it as one line
without a traceback, the Python API raises it as is; every other exception is a bug.
"""


class TrackerError(Exception):
    """A problem with the user's input or environment, with a message that names the culprit."""


class ConfigError(TrackerError):
    """A mistake in the configuration file, located by file and key path."""

    def __init__(self, file: str, where: str, problem: str):
        self.file, self.where, self.problem = file, where, problem
        super().__init__(f"{file}: {where}: {problem}" if where else f"{file}: {problem}")
