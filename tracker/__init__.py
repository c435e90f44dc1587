"""policy-tracker: follow how privacy policies change, with archived evidence.

The Python API is ``tracker.Tracker`` (see ``tracker.api``)."""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "Tracker":  # imported when asked for: `import tracker` stays light
        from tracker.api import Tracker
        return Tracker
    raise AttributeError(f"module 'tracker' has no attribute {name!r}")
