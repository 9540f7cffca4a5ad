"""Every shift's severity table as Markdown (``python -m robusteval shifts table``; docs/shifts.md)."""

from __future__ import annotations

__all__ = ["severity_markdown"]

from collections.abc import Sequence
from typing import Any

from robusteval.shifts.base import SHIFTS


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def severity_markdown(names: Sequence[str] | None = None) -> str:
    """Every shift's severity table as Markdown, one ``### name`` section each (default options, or one table
    per entry of the class's ``doc_variants`` options, e.g. each scanner profile)."""
    out: list[str] = []
    for name in names or SHIFTS.names():
        cls = SHIFTS.get(name)
        out.append(f"### {name}\n\n_{cls.family}_ - {cls.doc}\n")
        variants: tuple[dict[str, Any], ...] = getattr(cls, "doc_variants", ({},))
        for options in variants:
            rows = cls(**options).severity_table()
            if options:
                out.append("Options " + ", ".join(f"`{k}: {_fmt(v)}`" for k, v in options.items()) + ":\n")
            keys = list(rows[0])
            out.append("| " + " | ".join(keys) + " |")
            out.append("|" + "|".join("---" for _ in keys) + "|")
            out.extend("| " + " | ".join(_fmt(r[k]) for k in keys) + " |" for r in rows)
            out.append("")
    return "\n".join(out)
