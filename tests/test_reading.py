"""Reading a rewrite: `diff --stat`, the change page's summary, long sections collapsed,
permalinks on every section; and what the version page, tables on a phone and the feeds show."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import run_cli, write_config

ROOT = Path(__file__).resolve().parents[1]
DEMO_WARC = ROOT / "examples" / "krop-demo.warc.gz"
KROP = ["https://www.krop.com/privacy", "https://krrop.com/trust"]


def demo(tmp_path: Path, extra: str = "") -> Path:
    config = write_config(tmp_path, [{"name": "krop", "title": "Krop / KRROP", "urls": KROP,
                                      "archives": [f"warc:{DEMO_WARC}"], "live": False}], extra)
    result = run_cli(config, "backfill")
    assert result.exit_code == 0, result.stderr
    return config


# --- the terminal ---------------------------------------------------------------------------

def test_diff_stat_gives_a_rewrite_in_one_screen(tmp_path):
    config = demo(tmp_path)
    result = run_cli(config, "diff", "krop", "--stat")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) < 30 and "[-" not in result.stdout  # no text: one line per section
    assert lines[0] == "Krop / KRROP: version 1 -> 2: rewrite, magnitude 1.00"
    rows = [line.split(None, 3) for line in lines[lines.index(next(x for x in lines if x.startswith("status"))) + 1:]]
    table = {name: (status, added, removed) for status, added, removed, name in rows}
    assert table["INFORMATION WE COLLECT"] == ("removed", "+0", "-38")
    assert table["Protection and Security of Information"] == ("added", "+409", "-0")
    assert table["(opening text)"][0] == "modified"
    total = table.pop("1 modified, 6 added, 13 removed")
    assert total[0] == "total"
    assert int(total[1][1:].replace(",", "")) == sum(int(a[1:]) for s, a, r in table.values() if s != "total")
    assert int(total[2][1:].replace(",", "")) == sum(int(r[1:]) for s, a, r in table.values() if s != "total")

    data = json.loads(run_cli(config, "diff", "krop", "--stat", "--json").stdout)
    assert (data["from_version"], data["to_version"], data["kind"]) == (1, 2, "rewrite")
    assert len(data["sections"]) == 20 and "ops" not in data["sections"][0]
    assert {"status": "removed", "heading": "INFORMATION WE COLLECT", "old_heading": "INFORMATION WE COLLECT",
            "new_heading": None, "moved": False, "words_added": 0, "words_removed": 38} in data["sections"]
    assert data["words_added"] == int(total[1][1:].replace(",", ""))
    assert data["words_added"] == json.loads(run_cli(config, "diff", "krop", "--json").stdout)["words_added"]
