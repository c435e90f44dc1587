"""What a policy says it does: sells data, shares it (with whom), targets advertising,
trains AI on it, the rights users have (and where), and for terms of service, arbitration
and class-action waivers. Each statement is 'no' or 'may'; a question states nothing.
"""

from __future__ import annotations

import re

from tracker.facts.model import Value
from tracker.facts.periods import NUMBER, _number
from tracker.facts.places import _jurisdictions
from tracker.facts.text import (NEGATION, PLACE_WORDS, PRONOUN, QUESTION, Sentences, _negated, _noun_phrase,
                                _question)

SELL = re.compile(r"\b(?:sell|sells|sold|selling|sale of)\b[^.]*\b(?:personal|your|data|information)\b|"
                  r"\b(?:personal|your) (?:data|information)\b[^.]*\b(?:sell|sold|sale)\b", re.I)
SHARE_VERB = re.compile(r"\b(?:share|shares|shared|sharing|disclose|discloses|disclosed|transfer|transfers|"
                        r"transferred|trade|rent|release|provide|provides|make available|partag\w*|communiqu\w*|"
                        r"transm\w*|weitergeben|weitergegeben|übermitt\w*|compart\w*)\b")
RECIPIENT = re.compile(r"\b(advertis\w*|marketing|third[- ]part\w*|(?:outside|other) (?:part\w*|compan\w*)|"
                       r"partners?|affiliates?|tiers|partenaires|annonceurs|(?:autres )?(?:sociétés|entreprises)|"
                       r"dritte\w*|werbe\w*|terceros|socios|anunciantes)\b")
RECIPIENTS = [("advertis", "advertisers"), ("annonceur", "advertisers"), ("werbe", "advertisers"),
              ("anunciante", "advertisers"), ("marketing", "for marketing"), ("partner", "partners"),
              ("partenaire", "partners"), ("socio", "partners"), ("affiliate", "affiliates")]
# any other recipient word: third, outside or other parties

SELL_WORD = re.compile(r"s(?:ell|old|ale)")
SHARE_WITH = frozenset(("advertis", "marketing", "third", "outside", "other part", "other comp", "partner", "affiliate",
              "tiers", "partenaire", "annonceur", "société", "entreprise", "dritte", "werbe", "terceros", "socios",
              "anunciante"))  # one is in every SHARE statement


TARGETED = re.compile(r"\b(?:targeted|personali[sz]ed|interest[- ]based|behaviou?ral|cross[- ]context(?:ual)?|"
                      r"tailored)\s+(?:behaviou?ral\s+)?(?:advertising|ads|advertisements)\b", re.I)
ADS_WORD = re.compile(r"(?:advertis|\bads\b)")
TARGETING = frozenset(("targeted", "personali", "interest", "behavio", "cross", "tailored"))  # one is in every TARGETED
TRAINS = re.compile(r"\b(?:train|trains|trained|training|fine-tun\w*)\b[^.]*\b(?:models?|artificial intelligence|"
                    r"machine[- ]learning|AI|algorithms?|LLMs?)\b|\b(?:models?|artificial intelligence|"
                    r"machine[- ]learning|AI|LLMs?)\b[^.]*\b(?:train|trains|trained|training)\b", re.I)
TRAIN_WORD = re.compile(r"train")
RIGHT_WORDS = (r"access|delet\w*|eras\w*|correct\w*|rectif\w*|portab\w*|object\w*|restrict\w*|opt[- ]out|withdraw\w*|"
               r"appeal\w*|lodge a complaint|file a complaint|complain\w*|non-discrimination|judicial remedy|know")
RIGHTS = [  # (a word the sentence must hold, the pattern): each pattern is only tried where it can match
    ("right", re.compile(r"\bright(?:s)?\s+(?:to|of)\s+(?:[\w-]+\s+){0,3}?(" + RIGHT_WORDS + r")\b", re.I)),
    # 'you may opt out', 'Clients can request access', 'residents of Texas may appeal'
    (" may ", re.compile(r"\b(?:you|users?|clients?|customers?|residents?|consumers?|members?)"
                         r"(?:\s+(?:of|in)\s+[\w ,.'’-]{1,60}?)?\s+(?:(?:may|can)(?:\s+be\s+able\s+to)?|"
                         r"are (?:able|entitled) to|have the option to)\s+(?:also\s+)?(?:at any time\s+)?"
                         r"(?:request\s+(?:to\s+|that we\s+)?|ask\s+(?:us\s+)?(?:to\s+)?)?(" + RIGHT_WORDS + r")\b",
                         re.I)),
    # 'the ability to opt out of', 'the option to request deletion'
    # (a sentence about the user: 'our staff have the ability to access the servers' is none)
    ("ability to", re.compile(r"^(?=.*\b(?:you|your|users?)\b).*?\b(?:ability|option|possibility)\s+to\s+"
                              r"(?:request\s+(?:the\s+)?)?(" + RIGHT_WORDS + r")\b", re.I | re.S)),
    # 'parents may write to us to request the erasure of the data', 'to file a complaint'
    ("request", re.compile(r"\bto\s+request\s+(?:the\s+)?(eras\w*|delet\w*|rectif\w*|correct\w*)\s+of\b", re.I)),
    ("complaint", re.compile(r"\bto\s+(lodge a complaint|file a complaint)\b", re.I)),
    # French and German: 'droit d'accès', 'droit de déposer une plainte', 'Recht auf Löschung'
    ("droit", re.compile(r"\bdroit\s+(?:d['’]|de\s+|à\s+(?:l['’]|la\s+)?)(accès|rectification|effacement|"
                         r"opposition|portabilité|limitation|retirer|introduire une réclamation|déposer une plainte|"
                         r"réclamation)", re.I)),
    ("recht", re.compile(r"\brecht\s+auf\s+(auskunft|berichtigung|löschung|einschränkung|datenübertragbarkeit|"
                         r"widerspruch|beschwerde)|\b(widerspruchs|beschwerde)recht", re.I)),
]
RIGHT_WORD = re.compile(r"\b(" + RIGHT_WORDS + r")\b", re.I)
RIGHT_CUES = frozenset(("right to", "right of", "rights to", "rights of", " may ", " can ", "able to", "entitled",
              "option to", "ability to", "possibility", "request", "complaint", "droit", "recht"))  # one is in every RIGHT
RIGHT_STEMS = frozenset(("access", "delet", "eras", "correct", "rectif", "portab", "object", "restrict", "opt", "withdraw",
               "appeal", "complain", "lodge", "judicial", "know", "accès", "effacement", "opposition", "limitation",
               "retirer", "réclamation", "plainte", "auskunft", "berichtigung", "löschung", "einschränkung",
               "übertragbar", "widerspruch", "beschwerde"))  # one is in every RIGHT
CLAUSE_END = re.compile(r"[.;:]|\bright")  # what ends a list of rights: 'access, correct or delete'
RIGHT_NAMES = [("access", "access"), ("delet", "deletion"), ("eras", "deletion"), ("correct", "correction"),
               ("rectif", "correction"), ("portab", "portability"), ("object", "objection"),
               ("restrict", "restriction"), ("opt", "opt-out"), ("withdraw", "withdrawal of consent"),
               ("appeal", "appeal"), ("lodge", "complaint"), ("file", "complaint"), ("complain", "complaint"),
               ("non-discrimination", "non-discrimination"), ("judicial", "judicial remedy"), ("know", "to know"),
               ("accès", "access"), ("auskunft", "access"), ("effacement", "deletion"), ("löschung", "deletion"),
               ("berichtigung", "correction"), ("opposition", "objection"), ("widerspruch", "objection"),
               ("portabilité", "portability"), ("datenübertragbarkeit", "portability"),
               ("limitation", "restriction"), ("einschränkung", "restriction"), ("retirer", "withdrawal of consent"),
               ("introduire", "complaint"), ("déposer", "complaint"), ("réclamation", "complaint"),
               ("beschwerde", "complaint")]


def _rights(sentences: Sentences) -> tuple[Value, ...]:
    """The rights the text says users have ('the right to request deletion', 'you may opt out',
    'the right to access, correct or delete it'), each with where it is offered when the
    sentence says: ('appeal', 'Texas') for 'residents of Texas ... may appeal'; ('',
    'access') for a right offered to all."""
    out = []
    for sentence in sentences.containing(RIGHT_STEM):
        lower = sentence.lower()
        matches = [m for cue, pattern in RIGHTS if cue in lower or (cue == " may " and MODAL.search(lower))
                   for m in pattern.finditer(sentence)]
        places = _jurisdictions(sentence) if matches else []
        for match in matches:
            word = next(g for g in match.groups() if g)
            listed = CLAUSE_END.split(sentence[match.end():], maxsplit=1)[0]
            for named in [word, *(m.group(1) for m in RIGHT_WORD.finditer(listed))]:
                right = next(name for start, name in RIGHT_NAMES if named.lower().startswith(start))
                out.extend([(right, place) for place in places] or [("", right)])
    return tuple(out)


RIGHT_STEM = re.compile("|".join(RIGHT_STEMS))
MODAL = re.compile(r"\b(?:may|can|able to|entitled to|option to)\b")


def _sharing(sentences: Sentences, named: tuple[str, ...]) -> tuple[Value, ...]:
    """A sharing statement per kind of recipient: ('advertisers', 'no'), ('third parties',
    'may'): 'we share with our affiliates' and 'we never share with advertisers' are two facts;
    a service named (``named``: the known services the text names) is a recipient of its own."""
    out = []
    for sentence in sentences.containing(RECIPIENT_WORD):  # rarer than the verbs: fewer sentences to read
        if _question(sentence):
            continue
        lower = sentence.lower()
        verbs = [m.end() for m in SHARE_VERB.finditer(lower)]
        for verb, following in zip(verbs, [*verbs[1:], len(lower)]):  # the first recipient after each verb
            match = RECIPIENT.search(lower, verb, following)
            if match:
                recipient = match.group(1)
                subject = next((name for start, name in RECIPIENTS if recipient.startswith(start)), "third parties")
                out.append((subject, "no" if _negated(sentence, match.start()) else "may"))
    for sentence in sentences.containing(SHARE_WITH_NAMED) if named else ():
        for match in SHARE_WITH_NAMED.finditer(sentence):  # 'data sharing with TikTok': a recipient by name
            party = next((p for p in named if sentence.startswith(p, match.end())), None)
            if party and not _question(sentence):
                out.append((party, "no" if _negated(sentence, match.end()) else "may"))
    return tuple(out)


SHARE_WITH_NAMED = re.compile(r"\b(?:share|shares|shared|sharing|disclose|discloses|disclosed)\b[^.]*?\bwith\s+",
                              re.I)
RECIPIENT_WORD = re.compile("|".join(SHARE_WITH))


USED_FOR = re.compile(r"\buses?\s+((?:[\w'’-]+\s+){1,8}?)(?:to|for|in)\b", re.I)
USED_PASSIVE = re.compile(r"\b(?:is|are|will|may|won['’]t|aren['’]t|isn['’]t)\s+(?:be\s+)?(?:not\s+|never\s+)?(?:be\s+)?"
                          r"(?:\w+ly\s+)?used\b", re.I)


def _training(sentences: Sentences) -> tuple[Value, ...]:
    """Whether user data trains AI models, per kind of data when the sentence says ('files
    you add to your notebook' are not used to train; 'your chats' may be)."""
    out = []
    for sentence in sentences.containing(TRAIN_WORD):
        if _question(sentence):
            continue
        match = TRAINS.search(sentence)
        if match:
            stance = "no" if NEGATION.search(sentence[:match.end()]) else "may"
            out.append((_trained_on(sentence[:match.end()]), stance))
    return tuple(out)


def _trained_on(text: str) -> str:
    """What a training statement is about: the words 'use' governs ('we use [your
    content] to train'), or the subject of a passive ('[files you add] are not used')."""
    passive = USED_PASSIVE.search(text)
    if passive:  # the clause's subject, up to a relative clause: '[Files] you add ... are not used'
        words = text[:passive.start()].rsplit(",", 1)[-1].split()
        cut = next((i for i, w in enumerate(words) if i and w.lower() in PRONOUN | PLACE_WORDS), len(words))
        return _noun_phrase(words[:cut][:6])
    found = [m.group(1).split() for m in USED_FOR.finditer(text)]
    return _noun_phrase(found[-1]) if found else ""


# --- terms of service: disputes ----------------------------------------------------------------

ARBITRAT, CLASS = re.compile("arbitrat"), re.compile("class")  # the words that find the sentences to read
ARBITRATION = re.compile(r"\b(?:disputes?|claims?|controvers\w+)\b[^.]*\b(?:resolved|settled|decided|submitted|"
                         r"brought)\b[^.]*\barbitration\b|\bagree\w*\s+(?:that\s+)?(?:to\s+)?(?:resolve\s+[^.]{0,60}?by\s+)?"
                         r"(?:binding\s+|individual\s+|final\s+)*arbitrat\w+|\barbitration agreement\b|"
                         r"\bagreement to arbitrate\b", re.I)
RECOURSE = re.compile(r"privacy framework|\bdpf\b|privacy shield|annex i\b", re.I)  # a framework's recourse, not ours
ARBITRATION_OPT_OUT = re.compile(r"\bopt[- ]out\b[^.]*\barbitrat[^.]*?\bwithin\s+" + NUMBER + r"\s+days|"
                                 r"\bwithin\s+" + NUMBER + r"\s+days\b[^.]*\bopt[- ]out\b[^.]*\barbitrat", re.I)
CLASS_WAIVER = re.compile(r"\bclass[- ]actions?\b[^.]*\bwaive|\bwaive\w*\b[^.]*\bclass(?:[- ]wide|[- ]action)|"
                          r"\bnot as (?:a )?plaintiff or class member|\bno class (?:actions?|arbitrations?)\b", re.I)


def _arbitration(sentences: Sentences) -> tuple[str, ...]:
    """Terms that send disputes to arbitration ('binding arbitration'), and the window to opt
    out of it ('opt-out within 30 days'); a data-transfer framework's arbitration (the DPF's
    recourse for complaints) is not the terms' own."""
    out = []
    for sentence in sentences.containing(ARBITRAT):
        if RECOURSE.search(sentence) or QUESTION.match(sentence):
            continue
        match = ARBITRATION.search(sentence)
        if match and not _negated(sentence, match.start()):
            out.append("binding arbitration")
        window = ARBITRATION_OPT_OUT.search(sentence)
        if window:
            days = _number(window.group(1) or window.group(2))
            out.append(f"opt-out within {days} days")
    return tuple(out)


def _class_waiver(sentences: Sentences) -> tuple[str, ...]:
    """Terms in which users give up class actions."""
    return tuple("waived" for sentence in sentences.containing(CLASS) if CLASS_WAIVER.search(sentence)
                 and not RECOURSE.search(sentence))


def _stance(sentences: Sentences, word: re.Pattern, pattern: re.Pattern) -> tuple[str, ...]:
    """'no' or 'may' for each statement the policy makes about it (in a sentence with ``word``);
    a question ('Do we disclose any information to outside parties?', often a heading) states
    nothing."""
    out = []
    for sentence in sentences.containing(word):
        if _question(sentence):
            continue
        match = pattern.search(sentence)
        if match:
            before = sentence[:match.end()]
            out.append("no" if NEGATION.search(before) else "may")
    return tuple(out)
