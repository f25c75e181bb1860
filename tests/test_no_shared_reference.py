"""Nothing a user installs or runs (the package, its presets, recipes, preprocessing, the demo)
names the development machine's ``../shared`` folder: users do not have it (benchmarks may)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_package_recipes_and_presets_do_not_name_shared():
    hits = []
    for folder in ("fairseq_xdomain", "recipes"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".sh", ".yaml", ".json", ".md"):
                text = path.read_text(encoding="utf-8", errors="replace")
                if "../shared" in text or "/work/shared" in text:
                    hits.append(str(path.relative_to(ROOT)))
    assert not hits, f"files that name ../shared, which users do not have: {hits}"
