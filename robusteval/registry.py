"""A tiny typed registry: adding a shift, metric, model adapter or data source is one file + one entry."""

from __future__ import annotations

__all__ = ["Registry"]

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from robusteval.errors import RobustEvalError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps a name to an object (a class or an instance) with a one-line doc."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator adding ``obj`` under ``name``; names are unique."""

        def add(obj: T) -> T:
            if name in self._items:
                raise RobustEvalError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return add

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name`` (non-decorator form)."""
        return self.register(name)(obj)

    def get(self, name: str) -> T:
        """The object registered as ``name``; a clear error lists the known names."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise RobustEvalError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        return [(n, self._items[n]) for n in self.names()]
