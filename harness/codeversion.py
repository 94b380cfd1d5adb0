"""What version of the harness's own code made a cached thing, for caches of derived data
(parsed suites, drawn charts): an entry is used only while that code is byte-for-byte the
same. An editable install changes without a version bump, so the sources are hashed."""

from __future__ import annotations

import hashlib
from pathlib import Path

#: The harness package.
_ROOT = Path(__file__).resolve().parent


def code_digest(*parts: str, extra: str = "") -> str:
    """The digest of ``extra`` and these parts of the package (a module's path, or a folder:
    every module in it), by file name and content."""
    digest = hashlib.sha256(extra.encode())
    for part in parts:
        path = _ROOT / part
        for file in sorted(path.glob("*.py")) if path.is_dir() else [path]:
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()
