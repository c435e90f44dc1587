"""The facts as they flow: a version's values, a change of them, and the sentences that state them."""

from __future__ import annotations

from dataclasses import dataclass, field

# The order facts are shown in.
FACT_NAMES = ["title", "declared date", "contact e-mail", "postal address", "contact page", "retention", "minimum age",
              "law", "third party", "data collected", "sells data", "shares data", "targeted advertising",
              "trains AI on user data", "transfers to", "user right", "arbitration", "class-action waiver"]
STANCES = {"sells data", "shares data", "targeted advertising", "trains AI on user data"}


@dataclass
class Evidence:
    """Where a value was read: the sentence that states it, in the section that holds it."""

    value: str
    section: str  # the heading of the section ("" for the opening text)
    sentence: str

    def to_dict(self) -> dict:
        return {"value": self.value, "section": self.section, "sentence": self.sentence}


@dataclass
class FactChange:
    name: str
    old: list[str]
    new: list[str]
    # the sentences that state the values that changed, in the old and the new version
    old_evidence: list[Evidence] = field(default_factory=list)
    new_evidence: list[Evidence] = field(default_factory=list)
    subject: str = ""  # what the values are about ("server logs"), for the kinds that have one

    @property
    def label(self) -> str:
        """'retention (server logs)', 'shares data (advertisers)', 'law'."""
        return f"{self.name} ({self.subject})" if self.subject else self.name

    @property
    def added(self) -> list[str]:
        return [v for v in self.new if v not in self.old]

    @property
    def removed(self) -> list[str]:
        return [v for v in self.old if v not in self.new]

    @property
    def summary(self) -> str:
        """'minimum age 13 -> 17', 'GDPR added', 'retention (server logs): 90 days -> 30 days'."""
        if self.name in STANCES:  # "sells data: no -> may", "shares data (advertisers): not stated -> no"
            return f"{self.label}: {'/'.join(self.old) or 'not stated'} -> {'/'.join(self.new) or 'not stated'}"
        name = f"{self.label}:" if self.subject else self.label
        if len(self.old) == 1 and len(self.new) == 1:
            return f"{name} {self.old[0]} -> {self.new[0]}"
        if self.subject:
            return f"{name} {', '.join(self.old) or 'not stated'} -> {', '.join(self.new) or 'not stated'}"
        label = "" if self.name in ("law", "third party", "transfers to") else f"{name} "
        parts = [f"{label}{v} added" for v in self.added] + [f"{label}{v} removed" for v in self.removed]
        return "; ".join(parts)

    def to_dict(self) -> dict:
        # the summary is written for other tools, not read back: it follows from the values
        return {"name": self.name, "subject": self.subject, "old": self.old, "new": self.new, "summary": self.summary,
                "evidence": {"old": [e.to_dict() for e in self.old_evidence],
                             "new": [e.to_dict() for e in self.new_evidence]}}

    @classmethod
    def from_dict(cls, data: dict) -> FactChange:
        evidence = data.get("evidence", {})
        return cls(data["name"], data["old"], data["new"], [Evidence(**e) for e in evidence.get("old", [])],
                   [Evidence(**e) for e in evidence.get("new", [])], data.get("subject", ""))


Value = tuple[str, str]  # (subject, value): what a value is about ("" for kinds without a subject) and the value
# kinds whose values are compared per subject
SUBJECTED = {"contact e-mail", "postal address", "minimum age", "retention", "shares data", "user right",
             "trains AI on user data"}
