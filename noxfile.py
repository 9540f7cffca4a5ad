"""Developer sessions: tests, lint, typecheck, evaluate (the default protocol), bench, zoo."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.default_venv_backend = "venv"

PYTHON = "3.11"
# The CPU build of torch 2.13.0 lies on the test machines' disk; installing it first keeps pip from
# resolving a several-GB CUDA build for the range in pyproject.toml.
TORCH = "torch==2.13.0"


def _install(session: nox.Session, extras: str = "") -> None:
    session.install(TORCH)
    # the pin again: a dependency (nnunetv2 -> timm -> torchvision) would otherwise pull the newest torch (CUDA)
    session.install("-e", f".{extras}", TORCH)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (pytest; 'no tests ran' is a failure)."""
    _install(session, "[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, and the layering contracts of pyproject.toml (import-linter)."""
    session.install("ruff>=0.6", "import-linter>=2.1")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports", env={"PYTHONPATH": "."})  # reads the source; nothing of the package is run


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    _install(session, "[dev]")
    session.run("mypy")


@nox.session(python=PYTHON)
def evaluate(session: nox.Session) -> None:
    """Run protocols/ood.yaml on the embedded default data; the report lands in reports/ood/index.html."""
    _install(session)
    session.run("python", "-m", "robusteval", "run", "protocols/ood.yaml", "--out", "reports/ood", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Print a table of benchmark ratios against the peers (MONAI, TorchIO, per-cell loops...)."""
    _install(session, "[test]")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(python=PYTHON)
def zoo(session: nox.Session) -> None:
    """Retrain the default zoo (seeded) and rewrite its weights and model cards."""
    _install(session)
    session.run("python", "-m", "robusteval.models.train", *session.posargs)
