"""Names that become file names, and the out folders robusteval writes into.

Case ids and condition names become file names (``export`` writes ``<condition>/<case_id>_<modality>.nii.gz``).
Each is checked once, where it enters, with :func:`unsafe_reason`: case ids by
:func:`robusteval.data.sources.list_cases` (an unsafe id makes that case fail with the reason, the others run),
condition names by the protocol schema. They are rejected, not encoded: external tools and the ``predictions``
adapter find files by the plain id, so a file name must be the id itself. Writers join names with
:func:`path_under`, which checks them again and refuses a path that resolves outside the out folder.

An out folder is robusteval's when it holds the marker file :data:`MARKER`, written before anything else;
:func:`claim_out_dir` refuses a folder that holds other files (e.g. the user's data), unless forced.
"""

from __future__ import annotations

__all__ = ["LOCK", "MARKER", "claim_out_dir", "default_cache_dir", "hold_out_dir", "path_under", "unsafe_reason"]

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from robusteval import __version__
from robusteval.errors import RobustEvalError

MARKER = ".robusteval"
"""The marker file of a folder robusteval writes into: JSON ``{"command": ..., "version": ...}``."""


def default_cache_dir() -> Path:
    """``$ROBUSTEVAL_CACHE`` or ``~/.cache/robusteval``: generated data and shifted volumes shared by runs."""
    env = os.environ.get("ROBUSTEVAL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "robusteval"


def unsafe_reason(name: str) -> str | None:
    """Why ``name`` cannot be a single file or folder name, or None when it can.

    Unsafe: empty, ``.`` or ``..``, or containing ``/``, ``\\`` or a control character (NUL included).
    """
    if not name:
        return "it is empty"
    if name in (".", ".."):
        return f"{name!r} names a folder, not a file"
    bad = sorted({c for c in name if c in "/\\" or ord(c) < 32 or ord(c) == 127})
    if bad:
        return f"it contains {', '.join(repr(c) for c in bad)} (not allowed in a file name)"
    return None


def path_under(root: Path, *names: str) -> Path:
    """``root / names[0] / names[1] ...`` when each name is one safe component and the resolved path stays
    under ``root`` (a symlinked folder cannot lead out of it); otherwise a RobustEvalError, nothing written."""
    for name in names:
        reason = unsafe_reason(name)
        if reason is not None:
            raise RobustEvalError(f"{name!r} cannot be a file name under {root}: {reason}")
    path = root.joinpath(*names)
    if not path.resolve().is_relative_to(root.resolve()):
        raise RobustEvalError(f"{path} resolves outside {root}; refusing to write it")
    return path


def _marker_command(out_dir: Path) -> str | None:
    """The command recorded in ``out_dir``'s marker ("" when unreadable), None without a marker."""
    marker = out_dir / MARKER
    if not marker.is_file():
        return None
    try:
        found = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return ""
    return str(found.get("command", "")) if isinstance(found, dict) else ""


def claim_out_dir(out_dir: Path, command: str, *, force: bool = False) -> None:
    """Make ``out_dir`` robusteval's folder for ``command`` (e.g. ``run``) by writing the marker into it.

    Accepted: a new or empty folder, or one whose marker names the same command (a rerun resumes there).
    Refused with a one-line RobustEvalError: a file, a folder that cannot be written, or a folder holding
    anything else (files robusteval did not write, or another command's output), unless ``force``.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise RobustEvalError(f"--out {out_dir} is a file, not a folder; give a folder")
    if out_dir.is_dir() and not force:
        others = sorted(p.name for p in out_dir.iterdir() if p.name != MARKER)
        owner = _marker_command(out_dir)
        if others and owner != command:
            shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
            whose = f"the output of robusteval {owner}" if owner else "files robusteval did not write"
            raise RobustEvalError(
                f"--out {out_dir} holds {whose} ({shown}); {command} would overwrite them: "
                "give a new or empty folder, or --force to write there anyway"
            )
    try:  # a folder that cannot be written fails here, before any work, not after the first unit
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        (out_dir / MARKER).write_text(json.dumps({"command": command, "version": __version__}) + "\n", encoding="utf-8")
    except OSError as exc:
        raise RobustEvalError(
            f"--out {out_dir} cannot be written ({exc.strerror or type(exc).__name__}); give a folder you can write to"
        ) from None


LOCK = ".lock"


@contextmanager
def hold_out_dir(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir`` for one run: an exclusive ``flock`` on ``out_dir/.lock`` (which names the holder's pid),
    released when the run ends or its process dies. A second run into the same folder meanwhile is refused
    with a one-line RobustEvalError naming the live run's pid."""
    import fcntl

    path = out_dir / LOCK
    with path.open("a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pid = f.read().strip() or "unknown"
            raise RobustEvalError(
                f"--out {out_dir} is in use by a run in progress (pid {pid}); wait for it to end, or give another --out"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
