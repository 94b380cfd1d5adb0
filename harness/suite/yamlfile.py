"""Reading a suite's YAML files so that every problem can name its line: one parse gives the
data and the node tree, and ``Lines`` walks that tree to the line of a key or item.

``Fail`` is the shape of the loader's error factory: (problem, fix, location in the suite
file) -> the SuiteError naming the file and that location's line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from harness.errors import SuiteError
from harness.suite import inputguards

#: A location in a YAML document: the keys and list indexes leading to a value.
Loc = tuple[str | int, ...]
Fail = Callable[[str, str, Loc], SuiteError]

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Lines:
    """Finds the source line of a location (tuple of keys/indexes) in a YAML document."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.node = node

    def line(self, loc: Iterable[str | int]) -> int | None:
        node = self.node
        best = node.start_mark.line + 1 if node is not None else None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == part:
                        best = key.start_mark.line + 1
                        node = value
                        break
                else:
                    return best
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return best
                node = node.value[part]
                best = node.start_mark.line + 1
            else:
                return best
        return best


def read_yaml(path: Path) -> tuple[Any, Lines]:
    """The data of the YAML file at ``path`` and its Lines; a syntax error is a SuiteError."""
    text = inputguards.read_text(path, "YAML file")
    # One parse gives both the node tree (for line numbers) and the data; libyaml's C
    # parser when present (10x faster on a 5000-case suite).
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        inputguards.check_yaml_tree(node, path)  # before construction expands any alias
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise SuiteError(
            str(path),
            f"YAML syntax error: {exc.problem}",
            "fix the YAML syntax at that line (indentation, quotes, a ':' inside a value "
            "needs quotes)",
            line=mark.line + 1 if mark else None,
        ) from None
    finally:
        loader.dispose()
    return data, Lines(node)
