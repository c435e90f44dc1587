"""Does a change of the code change what users see? The export JSON of every corpus history.

Every history in ../shared/corpus (the Markdown versions and the raw HTML snapshots) is stored
as captures, derived, and exported as `tracker export --json` writes it; the time a change was
first derived (`detected_at`) is the one field that differs from run to run, and is left out.
`--save DIR` writes one file per policy; `--compare DIR` derives again and names every policy
whose export differs from the one saved (exit 1 if any).

A refactoring is checked by saving before it and comparing after it:
    python benchmarks/equivalence.py --save /tmp/before
    python benchmarks/equivalence.py --compare /tmp/before

Usage: python benchmarks/equivalence.py (--save DIR | --compare DIR) [CORPUS_DIR]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from tracker import export
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


def exports(root: Path) -> dict[str, str]:
    """Policy name -> its export JSON, detected_at left out."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "corpus.db")
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
            data = export.history_json(store, policy)
            for change in data["changes"]:
                change.pop("detected_at", None)
            out[name] = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)
        store.close()
    return out


def main() -> int:
    if len(ARGS) < 1 or not ({"--save", "--compare"} & set(sys.argv)):
        print(__doc__)
        return 2
    folder = Path(ARGS[0])
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
