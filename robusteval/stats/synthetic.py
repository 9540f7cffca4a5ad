"""Synthetic ``cases`` tables with a known structure, for tests, benchmarks and examples.

Model m on case i under shift s at severity v: ``dsc = clip(q_m + u_subject + e - d_m * w_s * v, 0, 1)`` with
model quality q_m, a subject effect u, noise e and a per-model degradation rate d_m; OOD sites subtract a
site offset. ``hd95`` falls as DSC rises; extra metric columns are noisy copies of DSC.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MODELS", "make_cases"]

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

DEFAULT_MODELS: Mapping[str, str] = {
    "unet": "cnn",
    "resunet": "cnn",
    "unetr": "vit",
    "swinunetr": "hybrid",
    "transunet": "hybrid",
    "lst": "classical",
}


def make_cases(
    *,
    models: Mapping[str, str] = DEFAULT_MODELS,
    n_id: int = 15,
    cases_per_subject: int = 1,
    ood_sites: Mapping[str, int] | None = None,
    shifts: Mapping[str, str] | None = None,
    severities: Sequence[int] = (1, 2, 3, 4, 5),
    label_noise: Sequence[str] = (),
    extra_metrics: Sequence[str] = (),
    fail_rate: float = 0.0,
    hd95_nan_rate: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """A cases table following the engine's contract (one row per model, case and condition).

    ``ood_sites`` maps site name -> number of clean OOD cases (default ``{"B": 10, "C": 10}``); ``shifts``
    maps shift name -> shift family (default motion/artifact, bias/scanner); ``label_noise`` names shifts of
    family ``label_noise`` (applied at every severity). The ID site is ``A``.
    """
    rng = np.random.default_rng(seed)
    ood_sites = {"B": 10, "C": 10} if ood_sites is None else dict(ood_sites)
    shifts = {"motion": "artifact", "bias": "scanner"} if shifts is None else dict(shifts)
    names = list(models)
    quality = {m: 0.72 + 0.04 * np.sin(i + 1) for i, m in enumerate(names)}
    decay = {m: 0.01 + 0.006 * ((i * 7) % 5) for i, m in enumerate(names)}
    site_offset = {s: 0.05 + 0.03 * j for j, s in enumerate(ood_sites)}
    shift_weight = {s: 0.6 + 0.4 * j for j, s in enumerate(shifts)}

    cases: list[tuple[str, str, str, str]] = []  # case_id, subject_id, site, split
    for i in range(n_id):
        cases.append((f"A{i:03d}", f"A-s{i // cases_per_subject:03d}", "A", "id"))
    for site, n in ood_sites.items():
        for i in range(n):
            cases.append((f"{site}{i:03d}", f"{site}-s{i // cases_per_subject:03d}", site, "ood"))
    subjects = sorted({c[1] for c in cases})
    subject_effect = dict(zip(subjects, rng.normal(0, 0.06, len(subjects)), strict=True))

    rows: list[dict[str, object]] = []

    def add(model: str, case: tuple[str, str, str, str], shift: str, family: str, sev: int, loss: float) -> None:
        case_id, subject, site, split = case
        dsc = quality[model] + subject_effect[subject] + rng.normal(0, 0.03) - loss
        dsc = float(np.clip(dsc, 0.0, 1.0))
        failed = rng.random() < fail_rate
        hd = float(max(0.5, 30.0 * (1.0 - dsc) + rng.normal(0, 1.5)))
        if rng.random() < hd95_nan_rate:
            hd = float("nan")
        row: dict[str, object] = {
            "model": model,
            "family": models[model],
            "case_id": case_id,
            "subject_id": subject,
            "site": site,
            "scanner": f"scanner-{site}",
            "split": split if shift == "clean" else "ood",
            "shift": shift,
            "shift_family": family,
            "severity": sev,
            "seed": seed,
            "status": "failed" if failed else "ok",
            "error": "synthetic failure" if failed else "",
            "dsc": float("nan") if failed else dsc,
            "hd95": float("nan") if failed else hd,
        }
        for k, name in enumerate(extra_metrics):
            row[name] = float("nan") if failed else float(np.clip(dsc + rng.normal(0, 0.02 * (k + 1)), 0, 1))
        rows.append(row)

    id_cases = [c for c in cases if c[3] == "id"]
    for model in names:
        for case in cases:
            loss = site_offset[case[2]] if case[3] == "ood" else 0.0
            add(model, case, "clean", "clean" if case[3] == "id" else "site", 0, loss)
        for shift, family in shifts.items():
            for sev in severities:
                for case in id_cases:
                    add(model, case, shift, family, sev, decay[model] * shift_weight[shift] * sev)
        for noise in label_noise:
            for sev in severities:
                for case in id_cases:
                    add(model, case, noise, "label_noise", sev, 0.015 * sev + 0.004 * sev * names.index(model))
    return pd.DataFrame(rows)
