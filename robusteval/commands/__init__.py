"""CLI commands contributed by each stage: each module exposes ``register(subparsers)``."""
