"""policy-tracker: follow how privacy policies change, with archived evidence."""

__version__ = "0.1.0"
