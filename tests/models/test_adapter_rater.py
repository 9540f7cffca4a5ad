"""``rater`` adapter: the human baseline. A second rater's annotation scored as a prediction on the clean and
label-noise conditions, unavailable under every other shift, a failed row for a case without it."""

from __future__ import annotations

import numpy as np
import pytest
from model_helpers import make_adapter, make_case

from robusteval.data.case import Case, CaseRecord
from robusteval.engine.plan import WorkItem
from robusteval.engine.work import ModelRuntime, evaluate_case
from robusteval.errors import CaseError, PredictionUnavailable
from robusteval.metrics import MetricConfig
from robusteval.models.efficiency import profile_model
from robusteval.protocol.schema import ModelSpec
from robusteval.shifts.compose import Condition, apply_condition, sample_condition


def rated(case_id: str = "c1", condition: str | None = "clean") -> Case:
    """The helper case (label: the 4³ block [8:12]³, 64 voxels) with a rater-2 annotation that keeps 48 of
    them (drops the slab x = 11) and adds 16 of its own (x = 12): DSC = 2·48 / (64 + 64) = 0.75."""
    case = make_case(case_id, condition=condition)
    rater2 = case.label.copy()
    rater2[11, 8:12, 8:12] = False
    rater2[12, 8:12, 8:12] = True
    return case.with_(annotations={"rater2": rater2})


def runtime() -> ModelRuntime:
    return ModelRuntime("rater2", "human", make_adapter("rater", {}, name="rater2"))


def test_the_prediction_is_the_annotation() -> None:
    case = rated()
    pred = make_adapter("rater", {"annotation": "rater2"}).predict(case)
    np.testing.assert_array_equal(pred.mask, case.annotations["rater2"])
    assert pred.prob.dtype == np.float32
    np.testing.assert_array_equal(pred.prob, case.annotations["rater2"].astype(np.float32))


def test_dsc_of_a_hand_made_pair_is_the_hand_computed_value() -> None:
    case = rated()
    record = CaseRecord("c1", "s-c1", "A", "x", "test", lambda: case)
    rows = evaluate_case([WorkItem(record, "id", "clean", 0, 0)], {}, [runtime()], ["dsc"], MetricConfig())
    assert rows[0]["status"] == "ok"
    assert rows[0]["dsc"] == pytest.approx(0.75)


def test_only_clean_and_label_noise_conditions_are_available() -> None:
    """Blur (an image shift) is unavailable; label_erode scores the untouched annotation against the eroded
    reference, also when its clean twin is not in the same batch (a resumed run)."""
    case = rated(condition=None)
    record = CaseRecord("c1", "s-c1", "A", "x", "test", lambda: case)
    conditions = {
        "blur": Condition.build("blur", [("blur", {}, None)]),
        "label_erode": Condition.build("label_erode", [("label_erode", {}, None)]),
    }
    items = [WorkItem(record, "id", c, s, 7) for c, s in (("clean", 0), ("blur", 3), ("label_erode", 5))]
    rows = {r["shift"]: r for r in evaluate_case(items, conditions, [runtime()], ["dsc"], MetricConfig())}
    assert rows["clean"]["status"] == "ok"
    assert rows["blur"]["status"] == "unavailable"
    assert "drawn on the clean images" in rows["blur"]["error"]
    eroded = apply_condition(case, conditions["label_erode"], sample_condition(conditions["label_erode"], 5, 7))
    rater2 = case.annotations["rater2"]
    expected = 2 * int((rater2 & eroded.label).sum()) / (int(rater2.sum()) + int(eroded.label.sum()))
    assert rows["label_erode"]["status"] == "ok"
    assert rows["label_erode"]["dsc"] == pytest.approx(expected)  # the same annotation, the perturbed reference
    alone = evaluate_case(items[2:], conditions, [runtime()], ["dsc"], MetricConfig())[0]
    assert alone["status"] == "ok"
    assert alone["dsc"] == pytest.approx(expected)
    with pytest.raises(PredictionUnavailable):
        make_adapter("rater", {}).predict(rated(condition="blur-s3"))


def test_a_case_without_the_annotation_is_a_failed_row_with_the_reason() -> None:
    bare = make_case("c9", condition="clean")
    with pytest.raises(CaseError, match="case c9 has no annotation 'rater2'"):
        make_adapter("rater", {}).predict(bare)
    record = CaseRecord("c9", "s-c9", "A", "x", "test", lambda: make_case("c9"))
    row = evaluate_case([WorkItem(record, "id", "clean", 0, 0)], {}, [runtime()], ["dsc"], MetricConfig())[0]
    assert row["status"] == "failed"
    assert "case c9 has no annotation 'rater2'" in row["error"]
    with pytest.raises(CaseError, match="has no annotation 'rater3'; it has \\['rater2'\\]"):
        make_adapter("rater", {"annotation": "rater3"}).predict(rated())


def test_params_and_family_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown params"):
        make_adapter("rater", {"mask": "x"})
    with pytest.raises(ValueError, match=r"params\.annotation"):
        make_adapter("rater", {"annotation": ""})
    with pytest.raises(ValueError, match="needs family: human"):
        ModelSpec.model_validate({"name": "r2", "family": "cnn", "adapter": "rater"})
    assert ModelSpec.model_validate({"name": "r2", "family": "human", "adapter": "rater"}).family == "human"


def test_no_efficiency_profile() -> None:
    profile = profile_model(make_adapter("rater", {}), rated(), repeats=1, warmup=0)
    for key in ("parameters", "flops", "flops_per_case", "latency_s", "peak_memory_mib", "energy_j", "co2_g"):
        assert profile[key] is None
    assert profile["latency_method"].startswith("not applicable: a human rater's annotation")
