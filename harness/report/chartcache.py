"""Charts already drawn, kept on disk so that a rerun whose charts show the same numbers does
not draw them again.

Drawing is most of what report.html costs (matplotlib's import alone ~0.36 s, then ~0.1 s a
chart), and a cached rerun shows exactly the numbers of the run before it. A chart is kept
under a key made of the chart's name, its input (``repr``), the chart code and matplotlib's
version: any difference draws it anew.

The folder is the response cache's (``<cache dir>/charts/``), a place others can write, so an
entry is data, never code: it is used only when it parses as XML (defusedxml) made of the
elements and attributes matplotlib's SVG output has, with no script, event handler, foreign
content or reference outside itself. Anything else is drawn again and replaced, as is an
unreadable entry.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.codeversion import code_digest

log = logging.getLogger("harness.report.chartcache")

#: Entries kept at most; past it the oldest go when one is written.
MAX_ENTRIES = 200

#: What matplotlib's SVG backend writes (the chart code's output, see tests).
_TAGS = frozenset({
    "svg", "metadata", "RDF", "Work", "type", "format", "date", "creator", "Agent", "title",
    "desc", "defs", "style", "g", "path", "rect", "text", "tspan", "use", "clipPath",
    "circle", "ellipse", "line", "polyline", "polygon",
})
_ATTRIBUTES = frozenset({
    "clip-path", "d", "height", "id", "role", "style", "transform", "type", "version",
    "viewBox", "width", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry",
    "points", "class", "fill", "stroke", "opacity", "font-family", "font-size",
    "text-anchor", "dominant-baseline", "resource", "href", "space",
})
#: Text that has no business in a chart: a script, a reference out of the file, old IE CSS.
_UNSAFE = re.compile(r"javascript:|@import|expression\(|url\((?!\s*#)", re.IGNORECASE)
_NAMESPACE = re.compile(r"^\{[^}]*\}")


@functools.cache
def _version() -> str:
    """The chart code and matplotlib's version: a change to either draws anew."""
    matplotlib = ""
    with contextlib.suppress(metadata.PackageNotFoundError):
        matplotlib = metadata.version("matplotlib")
    return code_digest("report/charts.py", "money.py", extra=matplotlib)


def safe_svg(text: str) -> bool:
    """Whether ``text`` is an SVG made only of what matplotlib's output has (see module)."""
    from defusedxml import ElementTree

    try:
        root = ElementTree.fromstring(text)
    except Exception:  # not XML, or XML defusedxml refuses (entities, DTDs)
        return False
    if _NAMESPACE.sub("", root.tag) != "svg":
        return False
    for element in root.iter():
        if _NAMESPACE.sub("", element.tag) not in _TAGS:
            return False
        if element.text and _UNSAFE.search(element.text):
            return False
        for name, value in element.attrib.items():
            bare = _NAMESPACE.sub("", name)
            if bare not in _ATTRIBUTES or _UNSAFE.search(value):
                return False
            if bare == "href" and not value.startswith("#"):
                return False
    return True


class ChartCache:
    """Drawn charts in ``folder``, by the key of what they were drawn from."""

    def __init__(self, folder: Path, before_drawing: Callable[[], None] | None = None) -> None:
        """``before_drawing`` is called once, before the first chart that is not in the
        folder is drawn (the end of a run waits there for its exports child: see
        harness.run.finish)."""
        self.folder = Path(folder)
        self._before_drawing = before_drawing

    def drawn(self, chart: Callable[[Any], str | None], data: Any) -> str | None:
        """``chart(data)``, from the folder when the same chart of the same data was kept."""
        key = hashlib.sha256(
            "\0".join((chart.__module__, chart.__qualname__, repr(data), _version())).encode()
        ).hexdigest()
        path = self.folder / f"{key}.svg"
        try:
            kept = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            kept = None
        if kept is not None:
            if safe_svg(kept):
                return kept
            log.warning("chart cache entry %s is not a chart; drawing it again", path)
        if self._before_drawing is not None:
            before, self._before_drawing = self._before_drawing, None
            before()
        svg = chart(data)
        if svg is not None:
            self._keep(path, svg)
        return svg

    def _keep(self, path: Path, svg: str) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(svg, "utf-8")
            os.replace(tmp, path)  # atomic: a concurrent reader sees none or all of it
            entries = sorted(self.folder.glob("*.svg"), key=lambda p: p.stat().st_mtime)
            for old in entries[:-MAX_ENTRIES]:
                old.unlink(missing_ok=True)
        except OSError as exc:  # a read-only cache only costs the next run a drawing
            log.debug("chart not kept in %s: %s", self.folder, exc)
