"""Loading a protocol file: ``yaml.safe_load`` only, pydantic validation, one message per problem.

Every problem becomes a :class:`~robusteval.errors.ProtocolIssue` naming the file, the line and the field
path (``shifts[2].severities[0]``), found by walking the YAML node tree alongside pydantic's error location.
A key repeated in one mapping is an error naming both lines (plain YAML keeps the last value silently).
Problems found later, in the data or a model file, are placed at their field's line by :func:`issue_at`.
"""

from __future__ import annotations

__all__ = ["field_path", "issue_at", "load_protocol", "protocol_sha256"]

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from robusteval.errors import ProtocolError, ProtocolIssue, field_path
from robusteval.protocol.schema import Protocol


def _line_of(root: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """1-based line of the deepest YAML node that ``loc`` reaches."""
    node = root
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    nxt = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            nxt = node.value[part]
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def _repeated_keys(file: str, root: yaml.Node | None) -> list[ProtocolIssue]:
    """One issue per key repeated in a mapping (YAML would silently keep the last value), naming both lines."""
    issues: list[ProtocolIssue] = []
    visited: set[int] = set()  # an anchor's node is shared by its aliases, and may contain itself

    def walk(node: yaml.Node | None, loc: tuple[int | str, ...]) -> None:
        if node is None or id(node) in visited:
            return
        visited.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*loc, i))
        elif isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    continue
                line = key.start_mark.line + 1
                if (key.tag, key.value) in first:
                    issues.append(
                        ProtocolIssue(
                            file,
                            line,
                            field_path((*loc, key.value)),
                            f"key {key.value!r} repeats (also on line {first[key.tag, key.value]}); YAML would "
                            "keep only the last value: remove one",
                        )
                    )
                first.setdefault((key.tag, key.value), line)
                walk(value, (*loc, key.value))

    walk(root, ())
    return issues


def issue_at(path: str | Path, loc: Sequence[int | str], message: str) -> ProtocolIssue:
    """A problem found after loading (in the data, a checkpoint) at the line of the field ``loc``."""
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        root = None
    return ProtocolIssue(str(path), _line_of(root, loc), field_path(loc), message)


def _describe(err: dict[str, Any]) -> str:
    kind, msg = err["type"], str(err["msg"])
    if kind == "extra_forbidden":
        return "unknown key (check its spelling; `python -m robusteval schema` lists the allowed keys)"
    if kind == "missing":
        return "required field is missing"
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    if "input" in err and not isinstance(err["input"], dict | list):
        return f"{msg[:1].lower()}{msg[1:]}, got {err['input']!r}"
    return msg[:1].lower() + msg[1:]


def protocol_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_protocol(path: str | Path) -> Protocol:
    """Read and validate a protocol; raise :class:`ProtocolError` listing every problem."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProtocolError([ProtocolIssue(name, None, "", "protocol file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError([ProtocolIssue(name, None, "", f"cannot read the file: {exc}")]) from None
    loader = yaml.SafeLoader(text)
    try:  # yaml.safe_load, with the node tree kept for line numbers and checked for repeated keys first
        root = loader.get_single_node()
        repeated = _repeated_keys(name, root)
        if repeated:
            raise ProtocolError(repeated)
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        if "python/" in problem or "could not determine a constructor" in problem:
            problem = f"{problem} (tags that build Python objects are not allowed in a protocol)"
        raise ProtocolError([ProtocolIssue(name, line, "", f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise ProtocolError([ProtocolIssue(name, None, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if data is None:
        raise ProtocolError([ProtocolIssue(name, 1, "", "the protocol file is empty")])
    if not isinstance(data, dict):
        raise ProtocolError([ProtocolIssue(name, 1, "", f"expected a mapping of keys, got {type(data).__name__}")])
    try:
        return Protocol.model_validate(data, context={"base_dir": path.resolve().parent})
    except ValidationError as exc:
        issues = [
            ProtocolIssue(name, _line_of(root, err["loc"]), field_path(err["loc"]), _describe(dict(err)))
            for err in exc.errors(include_url=False)
        ]
        raise ProtocolError(issues) from None
