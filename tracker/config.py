"""Load and validate ``config.toml``.

Each TOML table maps onto a dataclass below. Validation is driven by the dataclasses' type
hints, so a later feature adds its settings by adding a field or a section dataclass, and
every mistake is reported with the file, the key path and the problem.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import cssselect

from tracker import __version__
from tracker.errors import ConfigError

DEFAULT_CONFIG = "config.toml"
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")


MAX_URL = 2000


class _Invalid(Exception):
    """Raised by a field check; the loader adds the file and key path."""


# C0 and C1 control characters and DEL break feeds (XML 1.0 refuses them) and terminals; bidi
# overrides make a title or URL read as something else; lone surrogates are bytes that were
# not UTF-8 and cannot be written back
UNSAFE_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _check_text(text: str) -> str:
    """Text the reports, feeds and digest show."""
    unsafe = UNSAFE_CHARACTERS.search(text)
    if unsafe:
        what = "a byte that is not UTF-8" if "\ud800" <= unsafe.group() <= "\udfff" else "a control character"
        raise _Invalid(f"{text!r} holds U+{ord(unsafe.group()):04X}, {what}: only printable text is accepted")
    return text


def _check_url(url: str) -> str:
    _check_text(url)
    if len(url) > MAX_URL:
        raise _Invalid(f"a URL of {len(url):,} characters: the longest accepted is {MAX_URL:,}")
    try:
        parts = urlsplit(url)
        parts.port  # raises ValueError for a port that is not a number
    except ValueError as e:
        raise _Invalid(f"{url!r} is not a valid URL ({e})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise _Invalid(f"{url!r} is not an http(s) URL")
    if "@" in parts.netloc:  # the reports publish every URL: the password would be published too
        shown = parts._replace(netloc="…@" + parts.netloc.rpartition("@")[2]).geturl()
        raise _Invalid(f"{shown!r} holds a user name or password: the reports publish every URL, "
                       "so a URL with credentials is refused")
    return url


def _check_urls(urls: list[str]) -> list[str]:
    if not urls:
        raise _Invalid("must list at least one URL")
    for url in urls:
        _check_url(url)
    return urls


def _check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise _Invalid(f"{name!r} is not a slug (lower-case letters, digits, '-' and '_')")
    return name


def _check_archives(archives: list[str]) -> list[str]:
    for archive in archives:
        kind, _, rest = archive.partition(":")
        if archive == "ia":
            continue
        if kind == "memento" and rest:
            _check_url(rest)
        elif kind == "warc" and rest:
            continue
        else:
            raise _Invalid(f"{archive!r} is not an archive: use 'ia', 'memento:<URL>' or 'warc:<path>'")
    return archives


def _check_selector(selector: str) -> str:
    if selector:
        try:
            cssselect.GenericTranslator().css_to_xpath(selector)
        except cssselect.SelectorError as e:
            raise _Invalid(f"{selector!r} is not a valid CSS selector ({e})") from None
    return selector


def _check_selectors(selectors: list[str]) -> list[str]:
    return [_check_selector(s) for s in selectors]


def _check_positive(value: float) -> float:
    if not math.isfinite(value):
        raise _Invalid(f"must be a number, not {value}")
    if value <= 0:
        raise _Invalid(f"must be greater than 0, not {value}")
    return value


def _check_not_negative(value: int) -> int:
    if value < 0:
        raise _Invalid(f"must be 0 or more, not {value}")
    return value


_HINTS: dict[type, dict[str, Any]] = {}  # a class's field types never change


def _hints(cls: type) -> dict[str, Any]:
    """A settings class's field types: worked out once, not for every object made."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


class _Checked:
    """Settings check their own values, however they are made: read from a file (which adds
    the file and key path to the error) or built in code."""

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if not f.init:
                continue
            if not _has_type(getattr(self, f.name), hints[f.name]):
                raise ConfigError(type(self).__name__, f.metadata.get("key", f.name),
                                  f"must be {_type_description(hints[f.name])}, not {getattr(self, f.name)!r}")
            if "check" in f.metadata:
                try:
                    setattr(self, f.name, f.metadata["check"](getattr(self, f.name)))
                except _Invalid as e:
                    raise ConfigError(type(self).__name__, f.metadata.get("key", f.name), str(e)) from None


def _check_timeout(value: float) -> float:
    _check_positive(value)
    if value > 3600:
        raise _Invalid(f"must be at most 3600 (an hour), not {value}")
    return value


def _check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise _Invalid(f"must be a port number (1 to 65535), not {value}")
    return value


def _check_header_text(value: str) -> str:
    """Text sent in an HTTP header: printable ASCII only."""
    if not all(" " <= c <= "~" for c in value):
        raise _Invalid(f"{value!r}: only printable ASCII can be sent in an HTTP header")
    return value


LANGUAGE_RE = re.compile(r"[a-z]{2,3}")
LANGUAGE_RANGE_RE = re.compile(r"(?:[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)(?:\s*;\s*q=[01](?:\.\d{0,3})?)?")


def _check_language(code: str) -> str:
    if code and not LANGUAGE_RE.fullmatch(code):
        raise _Invalid(f"{code!r} is not a language code (ISO 639-1, lower case: 'en', 'fr', 'de')")
    return code


def _check_accept_language(value: str) -> str:
    """An Accept-Language header: language ranges with optional weights ("fr-CH, fr;q=0.9")."""
    if value and not all(LANGUAGE_RANGE_RE.fullmatch(part.strip()) for part in value.split(",")):
        raise _Invalid(f"{value!r} is not an Accept-Language value (e.g. \"en\" or \"fr-CH, fr;q=0.9\")")
    return value


def _has_type(value: Any, hint: Any) -> bool:
    """Whether a value built in code has the type a setting's hint names."""
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_has_type(v, item) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is Path:
        return isinstance(value, (str, Path))
    return isinstance(value, hint)


def _type_description(hint: Any) -> str:
    if typing.get_origin(hint) is list:
        return f"a list of {_type_description(typing.get_args(hint)[0]).removeprefix('a ').removeprefix('an ')}s"
    return _EXPECTED.get(hint, f"a {getattr(hint, '__name__', hint)}")


def _checked(check: Callable[[Any], Any], default: Any = dataclasses.MISSING, **kw: Any) -> Any:
    """A dataclass field whose value is passed through ``check`` after type checking."""
    if isinstance(default, list):
        kw["default_factory"] = lambda: list(default)
    elif default is not dataclasses.MISSING:
        kw["default"] = default
    return field(metadata={"check": check}, **kw)


DATABASE_SCHEMES = ("postgresql", "postgres")


def masked_url(url: str) -> str:
    """A database URL as messages show it: its password, if any, replaced by '***'."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)
    netloc = parts.netloc
    if password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:***@{host}"
    query = re.sub(r"(^|&)(password=)[^&]*", r"\1\2***", parts.query, flags=re.IGNORECASE)
    # the '//' written out: urlunsplit drops it from a URL without a host (postgresql:///db?host=/run/...)
    authority = "//" if url[len(parts.scheme):].startswith("://") else ""
    return f"{parts.scheme}:{authority}{netloc}{urlunsplit(('', '', parts.path, query, parts.fragment))}"


def _check_database_url(url: str) -> str:
    """A PostgreSQL connection URL (libpq's form): postgresql://user:password@host:port/database."""
    if not url:
        return url
    shown = masked_url(url)
    try:
        parts = urlsplit(url)
        parts.port  # raises ValueError for a port that is not a number
    except ValueError as e:
        raise _Invalid(f"{shown!r} is not a valid URL ({e})") from None
    if parts.scheme not in DATABASE_SCHEMES or any(c.isspace() for c in url):
        raise _Invalid(f"{shown!r} is not a PostgreSQL URL: give postgresql://user@host:port/database "
                       "(or set path = ... for a SQLite file)")
    return url


@dataclass
class StorageConfig(_Checked):
    """Where the store is: a SQLite file (``path``, the default) or a PostgreSQL database
    (``url``), which several machines can share."""

    path: Path = Path("snapshots/tracker.db")
    url: str = _checked(_check_database_url, "")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.url and self.path != StorageConfig.path:
            raise ConfigError(type(self).__name__, "url", "set path (a SQLite file) or url (PostgreSQL), not both")

    @property
    def location(self) -> Path | str:
        """What ``Store`` opens: the URL when one is set, else the file."""
        return self.url or self.path

    @property
    def name(self) -> str:
        """How messages name the store (never with its password)."""
        return masked_url(self.url) if self.url else str(self.path)


@dataclass
class FetchConfig(_Checked):
    user_agent: str = _checked(_check_header_text, f"policy-tracker/{__version__}")
    contact: str = _checked(_check_header_text, "")
    timeout_s: float = _checked(_check_timeout, 30.0)
    max_bytes: int = _checked(_check_positive, 10_000_000)
    accept_language: str = _checked(_check_accept_language, "")  # sent with live requests, if set

    @property
    def full_user_agent(self) -> str:
        """The User-Agent sent: the tool, and a contact so site and archive owners can reach us."""
        return f"{self.user_agent} (+{self.contact})" if self.contact else self.user_agent


@dataclass
class ArchiveConfig(_Checked):
    """Where the Internet Archive (or a mirror of it) answers, and how gently to ask it."""

    cdx_url: str = _checked(_check_url, "https://web.archive.org/cdx/search/cdx")
    replay_url: str = _checked(_check_url, "https://web.archive.org/web")
    index_per_minute: float = _checked(_check_positive, 30.0)  # CDX / TimeMap requests, per host
    captures_per_second: float = _checked(_check_positive, 8.0)  # capture fetches, per host
    retries: int = _checked(_check_not_negative, 3)  # for 5xx answers, lost connections and 429s
    pause_s: float = _checked(_check_timeout, 60.0)  # after a 429, at least this long
    save_on_change: bool = False  # ask the Internet Archive to save a policy page when it changed
    save_url: str = _checked(_check_url, "https://web.archive.org/save")
    saves_per_minute: float = _checked(_check_positive, 6.0)


def _check_security(value: str) -> str:
    if value not in ("starttls", "ssl", "none"):
        raise _Invalid(f"{value!r} is not one of 'starttls', 'ssl', 'none'")
    return value


def _check_addresses(addresses: list[str]) -> list[str]:
    for address in addresses:
        _check_address(address)
    return addresses


def _check_address(address: str) -> str:
    if address and (not re.fullmatch(r"[^@\s<>\"]+@[^@\s<>\"]+", address)):
        raise _Invalid(f"{address!r} is not an e-mail address")
    return address


def _check_base_url(url: str) -> str:
    return _check_url(url) if url else url


INTERVAL = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
INTERVAL_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def interval_seconds(spec: str) -> int | None:
    """'30s', '15m', '6h', '1d', '1w' -> seconds; None for a cron expression."""
    match = INTERVAL.match(spec)
    return int(match.group(1)) * INTERVAL_SECONDS[match.group(2)] if match else None


def _check_when(spec: str) -> str:
    if not spec:
        return spec
    seconds = interval_seconds(spec)
    if seconds is not None:
        if seconds == 0:
            raise _Invalid(f"{spec!r}: an interval must be longer than 0")
        return spec
    from apscheduler.triggers.cron import CronTrigger
    try:
        CronTrigger.from_crontab(spec)
    except ValueError as e:
        raise _Invalid(f"{spec!r} is neither an interval (30s, 15m, 6h, 1d, 1w) nor a cron expression ({e})") from None
    return spec


def _check_timezone(name: str) -> str:
    import zoneinfo
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _Invalid(f"{name!r} is not a time zone (such as 'UTC' or 'Europe/Paris')") from None
    return name


@dataclass
class ScheduleConfig(_Checked):
    """When the daemon (and `tracker run`) does what: intervals ('30s', '15m', '6h', '1d',
    '1w') or cron expressions ('0 8 * * mon')."""

    check: str = _checked(_check_when, "6h")
    archive_refresh: str = _checked(_check_when, "1w")
    digest: str = _checked(_check_when, "0 8 * * mon")
    timezone: str = _checked(_check_timezone, "UTC")
    failures: int = _checked(_check_positive, 5)  # failed checks in a row that mark a policy as failing
    per_host: int = _checked(_check_positive, 2)  # fetches at once to one host
    log_file: str = ""


SCHEDULER_RE = re.compile(r"(?:tcp|tls)://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")


def _check_scheduler(address: str) -> str:
    match = SCHEDULER_RE.fullmatch(address)
    if address and (not match or not 1 <= int(match.group(1)) <= 65535):
        raise _Invalid(f"{address!r} is not a Dask scheduler address (such as 'tcp://10.0.0.5:8786')")
    return address


@dataclass
class ComputeConfig(_Checked):
    """Where per-policy work runs: here (the default), or on the Dask cluster whose scheduler
    is at ``scheduler`` (``--workers N`` starts one on this machine instead)."""

    scheduler: str = _checked(_check_scheduler, "")


@dataclass
class ReportConfig(_Checked):
    base_url: str = _checked(_check_base_url, "")  # where reports/ is published: links in e-mails
    datasette_url: str = _checked(_check_base_url, "")  # a `tracker serve` instance: history pages link to it


@dataclass
class EmailConfig(_Checked):
    """The weekly digest's delivery. The password is never in this file: ``password_env`` names
    the environment variable that holds it."""

    smtp_host: str = "localhost"
    smtp_port: int = _checked(_check_port, 587)
    security: str = _checked(_check_security, "starttls")
    username: str = ""
    password_env: str = ""
    sender: str = field(default="", metadata={"key": "from", "check": _check_address})
    to: list[str] = _checked(_check_addresses, [])
    include_cosmetic: bool = False
    timeout_s: float = _checked(_check_timeout, 30.0)
    list_unsubscribe: str = ""  # a mailto: or https: URL, sent as the List-Unsubscribe header
    tls_ca_file: str = ""  # a CA bundle to trust instead of the system's (a private mail server)


@dataclass
class PolicyConfig(_Checked):
    name: str = _checked(_check_name)
    urls: list[str] = _checked(_check_urls)
    title: str = _checked(_check_text, "")
    selector: str = _checked(_check_selector, "")
    remove: list[str] = _checked(_check_selectors, [])
    live: bool = True
    archives: list[str] = _checked(_check_archives, ["ia"])
    check: str = _checked(_check_when, "")  # this policy's own check schedule (default: [schedule] check)
    language: str = _checked(_check_language, "")  # pinned: captures in another language are set aside

    @property
    def current_url(self) -> str:
        return self.urls[-1]

    @property
    def display_title(self) -> str:
        return self.title or self.name


@dataclass
class Config(_Checked):
    storage: StorageConfig = field(default_factory=StorageConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)
    policy: list[PolicyConfig] = field(default_factory=list)
    path: Path = field(init=False, default=Path(DEFAULT_CONFIG))

    def __post_init__(self) -> None:
        super().__post_init__()
        seen: dict[str, int] = {}
        for i, policy in enumerate(self.policy, start=1):
            if policy.name in seen:
                raise ConfigError("Config", f"policy[{i}].name",
                                  f"duplicate name {policy.name!r} (also policy[{seen[policy.name]}])")
            seen[policy.name] = i

    @property
    def policies(self) -> list[PolicyConfig]:
        return self.policy

    @property
    def database(self) -> Path | str:
        """The store: the SQLite file, or the PostgreSQL URL (``storage.location``)."""
        return self.storage.location

    def select(self, names: tuple[str, ...] | list[str]) -> list[PolicyConfig]:
        """The named policies in the order given, or all of them when no name is given."""
        if not names:
            return list(self.policy)
        if not all(isinstance(n, str) for n in names):
            raise ConfigError(str(self.path), "", f"policy names are strings, not {list(names)!r}")
        by_name = {p.name: p for p in self.policy}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            known = ", ".join(by_name) or "none"
            raise ConfigError(str(self.path), "", f"no policy named {unknown[0]!r} (known: {known})")
        return [by_name[n] for n in names]


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file; raises ``ConfigError`` naming what is wrong."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a BOM, as some Windows editors write
    except FileNotFoundError:
        raise ConfigError(str(path), "", "no such file (pass --config PATH or set TRACKER_CONFIG)") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), "", f"TOML syntax error: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), "", f"cannot read: {e}") from None

    config = _Loader(str(path)).build(Config, raw, "")
    config.path = path
    if not config.storage.path.is_absolute():
        config.storage.path = path.parent / config.storage.path
    for policy in config.policy:  # WARC paths are relative to the config file too
        policy.archives = [f"warc:{path.parent.resolve() / a[5:]}" if a.startswith("warc:") and not Path(a[5:]).is_absolute()
                           else a for a in policy.archives]
    return config


@dataclass
class _Loader:
    file: str

    def build(self, cls: type, table: Any, where: str) -> Any:
        if not isinstance(table, dict):
            raise ConfigError(self.file, where, f"must be a table, not {_type_name(table)}")
        # TOML key -> field (a key that is a Python keyword, such as `from`, names its field)
        fields = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls) if f.init}
        hints = _hints(cls)
        for key in table:
            if key not in fields:
                raise ConfigError(self.file, _join(where, key), "unknown key" + _did_you_mean(key, fields))
        values = {}
        for key, f in fields.items():
            key_path = _join(where, key)
            if key not in table:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise ConfigError(self.file, key_path, "missing (required)")
                continue
            values[f.name] = self.coerce(table[key], hints[f.name], key_path)
        try:
            return cls(**values)
        except ConfigError as e:  # a value the settings refused: located in this file
            raise ConfigError(self.file, _join(where, e.where), e.problem) from None

    def coerce(self, value: Any, hint: Any, where: str) -> Any:
        origin = typing.get_origin(hint)
        if origin is list:
            (item,) = typing.get_args(hint)
            if not isinstance(value, list):
                raise ConfigError(self.file, where, f"must be a list, not {_type_name(value)}")
            return [self.coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value, start=1)]
        if origin in (typing.Union, types.UnionType):
            raise TypeError(f"unsupported config type {hint}")  # keep config types simple
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.build(hint, value, where)
        if hint is Path:
            return Path(self.coerce(value, str, where))
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if hint is int and isinstance(value, bool) or not isinstance(value, hint):
            raise ConfigError(self.file, where, f"must be {_type_name(hint)}, not {_type_name(value)} {value!r}")
        return value


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _did_you_mean(key: str, known: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_EXPECTED = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
_GIVEN = {str: "a string", int: "an integer", float: "a decimal number", bool: "a boolean",
          list: "a list", dict: "a table"}


def _type_name(value_or_type: Any) -> str:
    """'an integer' for an expected type, 'a decimal number' for a given value."""
    if isinstance(value_or_type, type):
        return _EXPECTED.get(value_or_type, value_or_type.__name__)
    return _GIVEN.get(type(value_or_type), type(value_or_type).__name__)
