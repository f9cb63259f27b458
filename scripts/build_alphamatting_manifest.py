"""How ``mattinglib/data/alphamatting_sha256.json`` was made: the SHA-256 of every file of an extracted copy.

    python scripts/build_alphamatting_manifest.py DATA_ROOT/alphamatting-lowres > alphamatting_sha256.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from mattinglib.data.alphamatting import FOLDERS, LAYOUT_HELP, sha256_of


def build_manifest(root: Path) -> dict[str, str]:
    """POSIX path relative to ``root`` (e.g. ``"gt_training_lowres/GT01.png"``) -> SHA-256, sorted by path."""
    manifest = {path.relative_to(root).as_posix(): sha256_of(path)
                for folder in FOLDERS for path in sorted((root / folder).rglob("*")) if path.is_file()}
    if not manifest:
        raise SystemExit(f"{root}: no files found; {LAYOUT_HELP}")
    return dict(sorted(manifest.items()))


if __name__ == "__main__":
    print(json.dumps(build_manifest(Path(sys.argv[1])), indent=1))
