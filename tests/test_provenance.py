"""Provenance of a text capture: the archived copy named in a leading blockquote."""

from __future__ import annotations

from tracker.textparse import parse_text

POLICY = "We collect your e-mail address when you sign up, and use it only to send the newsletter.\n"


def test_provenance_with_its_address():
    doc = parse_text(f"> Archived from https://web.archive.org/web/20200101000000/https://example.com/privacy\n\n{POLICY}")
    assert doc.provenance == "https://web.archive.org/web/20200101000000/https://example.com/privacy"
    assert doc.provenance_date == "2020-01-01"


def test_archive_named_without_an_address_is_no_provenance():
    """'web.archive.org/web/...' with no scheme names no address to keep: read as text, not a crash."""
    doc = parse_text(f"> Archived copy: web.archive.org/web/20200101000000/https://example.com/privacy\n\n{POLICY}")
    assert doc.provenance is None and doc.provenance_date is None
    assert "newsletter" in doc.text
