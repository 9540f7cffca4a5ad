"""One condition key: its label (statistics, report), its file-safe slug (exports, prediction patterns), and a
parser that reads either back."""

from __future__ import annotations

import pytest

from robusteval.conditions import CLEAN, ConditionKey, param_text


@pytest.mark.parametrize(
    ("key", "label", "slug"),
    [
        (ConditionKey("clean"), "clean", "clean"),
        (ConditionKey("clean", 3), "clean", "clean"),  # clean has no severity
        (ConditionKey("motion", 2), "motion@2", "motion-s2"),
        (ConditionKey("motion", 2.0), "motion@2", "motion-s2"),  # integral severities written as integers
        (ConditionKey("blur", 2.5), "blur@2.5", "blur-s2.5"),
        (ConditionKey("scanner-C+motion", 3), "scanner-C+motion@3", "scanner-C+motion-s3"),
        (ConditionKey("label-s", 1), "label-s@1", "label-s-s1"),
    ],
)
def test_label_slug_and_parse_round_trip(key: ConditionKey, label: str, slug: str) -> None:
    assert (key.label, key.slug, str(key)) == (label, slug, label)
    assert ConditionKey.parse(label) == key
    assert ConditionKey.parse(slug) == key
    assert key.is_clean is (key.shift == CLEAN)


def test_not_a_condition() -> None:
    for text in ("motion", "motion@", "@2", "motion-sx", "motion@nan"):
        with pytest.raises(ValueError, match="is not a condition"):
            ConditionKey.parse(text)


def test_sort_order_clean_then_shift_then_numeric_severity() -> None:
    labels = ["motion@10", "blur@2", "clean", "motion@2", "not a condition", "blur-s1"]
    assert sorted(labels, key=ConditionKey.sort_key_of) == [
        "clean", "blur-s1", "blur@2", "motion@2", "motion@10", "not a condition"
    ]  # fmt: skip


def test_statistics_label_their_conditions_with_the_key() -> None:
    from robusteval.stats.frame import prepare
    from robusteval.stats.synthetic import make_cases

    cases = make_cases(models={"m": "cnn"}, n_id=3, ood_sites={}, shifts={"motion": "artifact"}, severities=(2,))
    prep = prepare(cases, ["dsc"])
    assert set(prep.rows["condition"]) == {"clean", "motion@2"}


def test_param_text() -> None:
    assert param_text({"shift": "motion", "parameter": "degrees", "value": 3.14159}) == "motion degrees=3.14"
    assert param_text("other") == "other"
