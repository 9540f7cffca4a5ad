"""The report's sections, one module each: ``build(run) -> dict``, the section's template context, from the
run folder's records alone. A section whose inputs are absent carries a one-line ``missing`` reason instead of
vanishing."""
