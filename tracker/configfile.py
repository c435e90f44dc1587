"""Adding a policy to ``config.toml`` by command, as a person would by hand.

The file is the user's: its comments and layout are theirs, so the new ``[[policy]]`` table
(rendered by tomlkit, which writes TOML as a person would) is appended to the text as it is,
and the file is replaced only once the project's own loader accepts the result.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
import secrets
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT

from tracker.archive import same_page_key
from tracker.config import PolicyConfig, load_config
from tracker.errors import ConfigError, TrackerError

NEW_CONFIG = """\
# policy-tracker configuration: the policies to follow and how.
# Every key, its default and its meaning: docs/configuration.md in policy-tracker's repository.

[storage]
path = "snapshots/tracker.db"   # relative to this file

[fetch]
# contact = "you@example.org"   # sent with every request, so site and archive owners can reach you

# The policies, oldest URL first in `urls`: `tracker add URL` appends one.
"""

# second-level labels under a country code: 'bbc.co.uk' is the site 'bbc', not 'co'
SECOND_LEVEL = {"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or"}
LONGEST_NAME = 48


def add_policy(path: str | Path, url: str, name: str | None = None, title: str | None = None) -> PolicyConfig:
    """Append a policy to the config file at ``path`` (created when missing) and return it.

    Everything already in the file stays byte for byte (its BOM and line endings too); a name
    or URL already tracked, or one the config would refuse, raises ``TrackerError`` and leaves
    the file as it was. Two of these at once add both: each reads the file only once the other
    has written it."""
    path = Path(path)
    _refuse_missing_folder(path)
    with _locked(path.resolve()):
        exists = path.exists()
        if exists:
            _refuse_read_only(path)
        tracked = load_config(path).policies if exists else []
        bom, text = _split_bom(path.read_bytes().decode("utf-8") if exists else NEW_CONFIG)
        policy = _valid_policy(url.strip(), name or default_name(url.strip()), title or "")
        _refuse_taken(path, policy, tracked, named=name is not None)
        _refuse_inline_policies(path, text)
        added = (_separator(text.replace("\r\n", "\n")) + _table(policy)).replace("\n", _newline(text))
        _replace_checked(path, bom + text + added, policy.name)
    return policy


def _refuse_missing_folder(path: Path) -> None:
    """Naming the folder: the temporary file the write would start with means nothing to the user."""
    folder = path.resolve().parent
    if not folder.is_dir():
        raise TrackerError(f"{folder if path.is_symlink() else path.parent}: no such folder")


def _refuse_read_only(path: Path) -> None:
    """A file made read-only is one its owner wants left alone, though replacing it would only
    need a writable folder (and root may write it anyway)."""
    if not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222:
        raise TrackerError(f"{path}: read-only: not changed")


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """An exclusive lock on a file beside ``target``, held from reading the config to writing it.

    The kernel releases a flock however the process ends. The lock file is removed while held;
    whoever locked it meanwhile finds it gone and locks the new one, so no two hold a lock at once."""
    lock = target.with_name(f".{target.name}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, lock):
                try:
                    yield
                finally:
                    os.unlink(lock)
                return
        finally:
            os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _split_bom(text: str) -> tuple[str, str]:
    return ("\ufeff", text[1:]) if text.startswith("\ufeff") else ("", text)


def _newline(text: str) -> str:
    """The file's line ending, as its first line ends."""
    end = text.find("\n")
    return "\r\n" if end > 0 and text[end - 1] == "\r" else "\n"


def default_name(url: str) -> str:
    """A name a person would give the policy at ``url``: its site, then the last segment of
    its path ('https://www.example.com/legal/privacy.html' -> 'example-privacy')."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL: the checks that follow say so
        return "policy"
    site = _site((parts.hostname or "").removeprefix("www."))
    page = _slug(parts.path.rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0])
    name = page if page.startswith(site) else "-".join(p for p in (site, page) if p)
    if len(name) > LONGEST_NAME:
        name = name[:LONGEST_NAME].rsplit("-", 1)[0]
    return name or "policy"


def _site(host: str) -> str:
    """The part of a host name that names the site: 'docs.github.com' -> 'github'."""
    try:
        ipaddress.ip_address(host)
        return _slug(host)
    except ValueError:
        pass
    labels = [label for label in host.split(".") if label]
    if len(labels) >= 3 and labels[-2] in SECOND_LEVEL and len(labels[-1]) == 2:
        labels = labels[:-2]
    elif len(labels) >= 2:
        labels = labels[:-1]
    return _slug(labels[-1]) if labels else ""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _valid_policy(url: str, name: str, title: str) -> PolicyConfig:
    """The policy, checked by the same rules as a policy read from the file."""
    try:
        return PolicyConfig(name=name, urls=[url], title=title)
    except ConfigError as e:
        raise TrackerError(f"{'url' if e.where == 'urls' else e.where}: {e.problem}") from None


def _refuse_taken(path: Path, policy: PolicyConfig, tracked: list[PolicyConfig], named: bool) -> None:
    """One policy per name, and one policy per page (whichever of its URLs it is)."""
    page = same_page_key(policy.current_url)
    for other in tracked:
        if any(same_page_key(u) == page for u in other.urls):
            raise TrackerError(f"{path}: {policy.current_url} is tracked already, by policy {other.name!r}")
    if any(other.name == policy.name for other in tracked):
        hint = "" if named else " (choose another with --name)"
        raise TrackerError(f"{path}: a policy named {policy.name!r} exists already{hint}")


def _refuse_inline_policies(path: Path, text: str) -> None:
    """A file that lists its policies as an inline array cannot take a ``[[policy]]`` table."""
    try:
        policies = tomlkit.parse(text).get("policy")
    except TOMLKitError as e:
        raise TrackerError(f"{path}: TOML syntax error: {e}") from None
    if policies is not None and not isinstance(policies, AoT):
        raise TrackerError(f"{path}: its policies are an inline array (policy = [...]): "
                           "write them as [[policy]] tables to add one with `tracker add`")


def _separator(text: str) -> str:
    """A blank line between what is there and the new table, however the file ends."""
    if not text or text.endswith("\n\n"):
        return ""
    return "\n" if text.endswith("\n") else "\n\n"


def _table(policy: PolicyConfig) -> str:
    table = tomlkit.table()
    table["name"] = policy.name
    if policy.title:
        table["title"] = policy.title
    table["urls"] = policy.urls
    tables = tomlkit.aot()
    tables.append(table)
    return tomlkit.dumps({"policy": tables})


def _replace_checked(path: Path, text: str, name: str) -> None:
    """Write the new text beside the file, load it with the project's loader, and only then
    put it in the file's place: a reader never sees half a file, and a refused one is never
    left behind. A link to the file stays a link: what it leads to is replaced."""
    target = path.resolve()
    fd, temporary = _create_beside(target)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        if target.exists():
            os.chmod(temporary, target.stat().st_mode & 0o7777)
        try:
            load_config(temporary).select([name])
        except ConfigError as e:
            where = f"{e.where}: " if e.where else ""
            raise TrackerError(f"{path}: not changed: the result would be refused ({where}{e.problem})") from None
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _create_beside(target: Path) -> tuple[int, str]:
    """A new file beside ``target``, with the mode a file written the ordinary way gets (the
    umask applies; mkstemp's would be private to its owner)."""
    temporary = str(target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp"))
    return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temporary
