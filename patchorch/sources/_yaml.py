"""A safe YAML loader with a nesting limit: a hostile or broken file is an error with a line, not a stack overflow."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import Node

# Deeper than any policy or project file needs; far below where PyYAML's recursion would exhaust the stack.
MAX_DEPTH = 64


class BoundedLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses collections nested more than MAX_DEPTH levels deep."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self._depth >= MAX_DEPTH:
            event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
            raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
