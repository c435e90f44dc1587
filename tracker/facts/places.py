"""Where: the countries (ISO 3166, from pycountry), US states and regions a sentence names,
and the countries data is moved to or kept in.

Minimum ages and user rights are often stated per place ('under 16 in Europe', 'residents
of Texas may appeal'); a transfer names where data goes and, to be left out, where it comes from.
"""

from __future__ import annotations

import re

import pycountry

from tracker.facts.text import Sentences, _finder, _whole_words


def _country_names() -> dict[str, str]:
    """Every country's names as written in policies -> the name shown ('Viet Nam' and
    'Vietnam' -> 'Vietnam'), from ISO 3166 (pycountry), with the usual short forms."""
    names: dict[str, str] = {}
    for country in pycountry.countries:
        shown = getattr(country, "common_name", None) or country.name.split(",")[0]
        for name in (country.name, shown, getattr(country, "official_name", None)):
            if name and "," not in name:
                names[name] = shown
    names.update({"U.S.": "United States", "U.S.A.": "United States", "USA": "United States",
                  "United States of America": "United States", "UK": "United Kingdom", "Great Britain":
                  "United Kingdom", "Korea": "South Korea", "Republic of Korea": "South Korea", "Russia":
                  "Russian Federation", "People's Republic of China": "China", "PRC": "China",
                  "European Economic Area": "European Economic Area", "European Union": "European Union"})
    return names


COUNTRIES = _country_names()
COUNTRY_FINDER = _finder(COUNTRIES)

# --- jurisdictions: where a minimum age or a right applies ------------------------------------

US_STATES = ("Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia Hawaii Idaho "
             "Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts Michigan Minnesota "
             "Mississippi Missouri Montana Nebraska Nevada Ohio Oklahoma Oregon Pennsylvania Tennessee Texas Utah "
             "Vermont Virginia Washington Wisconsin Wyoming").split() + [
    "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota", "Rhode Island",
    "South Carolina", "South Dakota", "West Virginia", "District of Columbia"]


def _jurisdiction_names() -> dict[str, str]:
    names = {state: state for state in US_STATES}
    names.update(COUNTRIES)
    names.update({"EEA": "European Economic Area", "EU": "European Union", "Europe": "Europe"})
    return names


JURISDICTIONS = _jurisdiction_names()
JURISDICTION_FINDER = _finder(JURISDICTIONS)


def _jurisdictions(sentence: str) -> list[str]:
    """The states, countries and regions a sentence names, in reading order, once each (a
    state named 'West Virginia' is not also Virginia; 'New Jersey' is not Jersey; the
    country of the states named is not named again)."""
    found = sorted(((m.start(), m.end(), name) for name in _whole_words(JURISDICTION_FINDER, sentence)
                    for m in re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])", sentence)),
                   key=lambda f: (f[0], -f[1]))
    out: list[str] = []
    end = -1
    for start, stop, name in found:
        if start >= end:
            out.append(JURISDICTIONS[name])
            end = stop
    if any(place in US_STATES for place in out):  # 'Texas, or Connecticut, USA': the states say where
        out = [place for place in out if place != "United States"]
    return list(dict.fromkeys(out))


# --- international transfers ---------------------------------------------------------------

TRANSFER = re.compile(r"\b(?:transfer\w*|cross-border|outside|abroad|countr(?:y|ies)|"
                      r"(?:stor\w*|process\w*|host\w*|locat\w*|held|kept|servers?|data cent(?:er|re)s?)\s+"
                      r"(?:[\w'’-]+\s+){0,4}?in)\b")
TRANSFER_WORDS = frozenset(("transfer", "cross-border", "outside", "abroad", "countr", "stor", "process",
                  "host", "locat", "held", "kept", "server", "data cent"))  # one is in every TRANSFER
ORIGIN = re.compile(r"(?:outside|from|beyond|leaves?|within|inside)\s+(?:of\s+)?(?:the\s+)?$", re.I)
ORIGIN_WORD = re.compile(r"outside|from|beyond|leaves?|within|inside", re.I)
FRAMEWORK_PART = re.compile(r"[-–]|\s+Extension\b")
LIST_TOKEN = re.compile(r"[\w.'’-]+|,")
LIST_GLUE = {",", "and", "or", "the", "of"}


def _destinations(sentences: Sentences) -> tuple[str, ...]:
    """The countries (and the EEA, the EU) a sentence about moving or keeping data abroad
    names, except where the data comes from ('transfer data outside the EEA to the United
    States' -> United States). 'New Jersey' is not Jersey."""
    out = []
    for sentence in sentences.containing(TRANSFER):
        for name in _whole_words(COUNTRY_FINDER, sentence):
            for at in (m.start() for m in re.finditer(re.escape(name), sentence)):
                before, after = sentence[max(0, at - 200):at], sentence[at + len(name):at + len(name) + 12]
                if FRAMEWORK_PART.match(after) or before.endswith(("-", "–")):
                    continue  # 'the Swiss-U.S. DPF', 'the UK Extension': a framework's name, not where data goes
                if not before.endswith("New ") and not ORIGIN.search(_before_list(before)):
                    out.append(COUNTRIES[name])
                    break
    return tuple(out)


def _before_list(text: str) -> str:
    """The text before the list of names it ends in: 'outside [the EEA, Switzerland and the ]'
    -> 'outside ' (read backwards, token by token: a pattern for it backtracks without end
    on 'and , and , ...')."""
    start = len(text)
    for token in reversed(list(LIST_TOKEN.finditer(text))):
        word = token.group()
        if word not in LIST_GLUE and not word[0].isupper():
            break
        if word[0].isupper() and ORIGIN_WORD.fullmatch(word):
            break  # 'Outside the UK': the cue itself, capitalised at the start of a sentence
        start = token.start()
    return text[:start]
