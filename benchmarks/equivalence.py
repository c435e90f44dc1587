"""Does a change of the code change what users see? The export JSON of every corpus history,
and with --save-views / --compare-views every other view of them.

Every history in ../shared/corpus (the Markdown versions and the raw HTML snapshots) is stored
as captures, derived, and exported as `tracker export --json` writes it; the time a change was
first derived (`detected_at`) is the one field that differs from run to run, and is left out.
`--save DIR` writes one file per policy; `--compare DIR` derives again and names every policy
whose export differs from the one saved (exit 1 if any).

The views are what the commands print and write for the same store, through the command
line: the HTML report (`tracker report`: every page, the manifest aside, as its fingerprints
hash this tool's own source), the digest of every change (`tracker digest --dry-run`, its
text and HTML parts, once with cosmetic changes summed up and once shown in full), and per
policy `tracker history`, `tracker diff` of every change, of the latest and of the first
version against the latest, with and without --json. `detected_at` is masked wherever it
shows (Atom feeds, JSON). `--save-views DIR` writes them under DIR; `--compare-views DIR`
names every file that differs (exit 1 if any).

A refactoring is checked by saving before it and comparing after it:
    python benchmarks/equivalence.py --save /tmp/before
    python benchmarks/equivalence.py --compare /tmp/before
    python benchmarks/equivalence.py --save-views /tmp/before-views
    python benchmarks/equivalence.py --compare-views /tmp/before-views

Usage: python benchmarks/equivalence.py (--save | --compare | --save-views | --compare-views) DIR [CORPUS_DIR]
"""

from __future__ import annotations

import email
import email.policy
import json
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

from tracker import export
from tracker.cli import cli
from tracker.config import PolicyConfig
from tracker.history import rebuild
from tracker.models import NewCapture
from tracker.store import Store

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]


def corpus() -> Path:
    rest = ARGS[1:] if len(ARGS) > 1 else []
    return Path(rest[0]) if rest else Path(__file__).resolve().parents[2] / "shared" / "corpus"


def histories(root: Path) -> list[tuple[str, str, list[tuple[str, Path]]]]:
    """(policy name, format, [(date, file)]) for every history; a policy recorded by two
    sources is two policies."""
    out = []
    for meta_path in sorted(root.glob("ota-*/*/meta.json")):
        meta = json.loads(meta_path.read_text())
        fmt = "html" if "snapshots" in meta_path.parts[-3] else "text"
        out.append((f"{meta_path.parent.parent.name}-{meta_path.parent.name}", fmt,
                    [(v["date"], meta_path.parent / v["file"]) for v in meta["versions"]]))
    return out


def build(root: Path, store: Store) -> list[PolicyConfig]:
    """Store and derive every history of the corpus; the policies, in corpus order."""
    policies = []
    for name, fmt, files in histories(root):
        policy = PolicyConfig(name=name, urls=[f"https://example.org/{name}"])
        store.runs.sync_policies([policy])
        for date, file in files:
            if file.exists():
                stamp = date.replace("Z", ".000Z")
                store.captures.add(NewCapture(
                    policy=name, url=policy.urls[0], captured_at=stamp, source="warc", status=200,
                    sha256=None, fetched_at=stamp, format=fmt,
                    content_type="text/html" if fmt == "html" else "text/markdown"), file.read_bytes())
        rebuild(store, policy)
        policies.append(policy)
    return policies


def exports(root: Path) -> dict[str, str]:
    """Policy name -> its export JSON, detected_at left out."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "corpus.db")
        for policy in build(root, store):
            data = export.history_json(store, policy)
            for change in data["changes"]:
                change.pop("detected_at", None)
            out[policy.name] = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)
        store.close()
    return out


def views(root: Path) -> dict[str, str]:
    """Path under the views folder -> what the commands print or write there, detected_at masked."""
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = Store(folder / "corpus.db")
        policies = build(root, store)
        detected = {row[0] for row in store.db.execute("SELECT DISTINCT detected_at FROM changes")}
        changes = {p.name: [(c.from_version, c.to_version) for c in store.history.changes(p.name)] for p in policies}
        store.close()
        config = folder / "config.toml"

        def configure(cosmetic: bool) -> None:
            config.write_text(f"[storage]\npath = \"corpus.db\"\n\n[email]\ninclude_cosmetic = {str(cosmetic).lower()}\n\n"
                              "[report]\nbase_url = \"https://reports.example.org\"\n\n"
                              + "".join(f"[[policy]]\nname = \"{p.name}\"\nurls = {json.dumps(p.urls)}\nlive = false\n\n"
                                        for p in policies))

        def run(*args: str) -> str:
            result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
            return f"exit {result.exit_code}\n{result.stdout}{result.stderr}"

        configure(cosmetic=False)
        for p in policies:
            lines = [run("history", p.name), run("history", p.name, "--json"),
                     run("diff", p.name), run("diff", p.name, "--json"),
                     run("diff", p.name, "1"), run("diff", p.name, "1", "--json")]
            lines += [run("diff", p.name, str(a), str(b)) for a, b in changes[p.name]]
            out[f"console/{p.name}.txt"] = "\n".join(lines)
        for cosmetic in (False, True):
            configure(cosmetic)
            run("digest", "--dry-run", "--since", "1990-01-01", "--until", "2099-01-01", "--out", str(folder / "digest.eml"))
            message = email.message_from_bytes((folder / "digest.eml").read_bytes(), policy=email.policy.default)
            name = "digest-cosmetic" if cosmetic else "digest"
            out[f"{name}/subject.txt"] = str(message["Subject"])
            out[f"{name}/text.txt"] = message.get_body(("plain",)).get_content()
            out[f"{name}/html.html"] = message.get_body(("html",)).get_content()
        run("report", "--out", str(folder / "reports"))
        for page in sorted((folder / "reports").rglob("*")):
            if page.is_file() and page.name != ".manifest.json":
                out[f"reports/{page.relative_to(folder / 'reports')}"] = page.read_text(encoding="utf-8")
    for moment in detected:
        for path, text in out.items():
            out[path] = text.replace(moment, "<detected_at>")
    return out


def compare_views(folder: Path) -> int:
    current = views(corpus())
    saved = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    differ = [path for path, text in current.items()
              if path not in saved or (folder / path).read_bytes().decode("utf-8") != text]  # \r\n kept
    missing = sorted(saved - set(current))
    print(f"{len(current)} views compared: {len(differ)} differ" + (f", {len(missing)} missing" if missing else ""))
    for path in differ + missing:
        print(f"  {path}")
    return 1 if differ or missing else 0


def main() -> int:
    if len(ARGS) < 1 or not ({"--save", "--compare", "--save-views", "--compare-views"} & set(sys.argv)):
        print(__doc__)
        return 2
    folder = Path(ARGS[0])
    if "--save-views" in sys.argv:
        current = views(corpus())
        for path, text in current.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(text.encode("utf-8"))
        print(f"{len(current)} views saved in {folder}")
        return 0
    if "--compare-views" in sys.argv:
        return compare_views(folder)
    current = exports(corpus())
    if "--save" in sys.argv:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in current.items():
            (folder / f"{name}.json").write_text(text, encoding="utf-8")
        print(f"{len(current)} exports saved in {folder}")
        return 0
    differ = [name for name, text in current.items()
              if not (folder / f"{name}.json").exists() or (folder / f"{name}.json").read_text(encoding="utf-8") != text]
    missing = sorted({p.stem for p in folder.glob("*.json")} - set(current))
    print(f"{len(current)} exports compared: {len(differ)} differ" + (f", {len(missing)} missing" if missing else ""))
    for name in differ + missing:
        print(f"  {name}")
    return 1 if differ or missing else 0


if __name__ == "__main__":
    sys.exit(main())
