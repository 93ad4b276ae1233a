"""Path templates (``/v1/payment_intents/{id}/capture``) matched segment by segment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from countertop.emulator.context import Ctx

Handler = Callable[[Ctx], dict[str, Any]]
Route = tuple[str, str, Handler]


class Router:
    def __init__(self, routes: list[Route]) -> None:
        # (method, number of segments) -> [(segments with None for a placeholder, handler)]
        self._table: dict[tuple[str, int], list[tuple[tuple[str | None, ...], Handler]]] = {}
        self._exact: dict[tuple[str, str], Handler] = {}
        for method, template, handler in routes:
            parts = tuple(
                None if part.startswith("{") else part for part in template.strip("/").split("/")
            )
            if None in parts:
                self._table.setdefault((method, len(parts)), []).append((parts, handler))
            else:
                self._exact[(method, template)] = handler

    def match(self, method: str, path: str) -> tuple[Handler, tuple[str, ...]] | None:
        exact = self._exact.get((method, path))
        if exact is not None:
            return exact, ()
        segments = path.strip("/").split("/")
        for parts, handler in self._table.get((method, len(segments)), ()):
            args: list[str] = []
            for part, segment in zip(parts, segments, strict=True):
                if part is None:
                    if not segment:
                        break
                    args.append(segment)
                elif part != segment:
                    break
            else:
                return handler, tuple(args)
        return None
