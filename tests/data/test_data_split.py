"""dataset.split: in-distribution / out-of-distribution / not evaluated, by any metadata column."""

from __future__ import annotations

from typing import Any

import pytest

from robusteval.data.case import Case, CaseRecord
from robusteval.data.split import check_split_columns, split_of, split_records
from robusteval.errors import RobustEvalError
from robusteval.protocol.schema import SplitSpec


def never_loaded() -> Case:
    raise AssertionError("splitting must not load a case")


def record(case_id: str, site: str, scanner: str = "s", **metadata: Any) -> CaseRecord:
    return CaseRecord(case_id, f"subj-{case_id}", site, scanner, "test", never_loaded, metadata)


RECORDS = [
    record("a1", "A", field_strength_t=3.0, vendor="GE"),
    record("a2", "A", field_strength_t=1.5, vendor="GE"),
    record("b1", "B", field_strength_t=3.0, vendor="Philips"),
    record("c1", "C", field_strength_t=1.5, vendor="Siemens"),
    record("d1", "D", field_strength_t=None, vendor="GE"),
]


def sides(split: SplitSpec) -> dict[str, str | None]:
    return {r.case_id: split_of(r, split) for r in RECORDS}


def test_default_split_site_a_in_distribution_every_other_case_out() -> None:
    assert sides(SplitSpec()) == {"a1": "id", "a2": "id", "b1": "ood", "c1": "ood", "d1": "ood"}


def test_explicit_out_of_distribution_leaves_the_rest_unevaluated() -> None:
    split = SplitSpec(in_distribution={"site": ["A"]}, out_of_distribution={"site": ["B", "C"]})
    assert sides(split) == {"a1": "id", "a2": "id", "b1": "ood", "c1": "ood", "d1": None}


def test_columns_combine_with_and_values_with_or_and_numbers_match_text() -> None:
    split = SplitSpec(
        in_distribution={"site": ["A", "B"], "field_strength_t": ["3"]},
        out_of_distribution={"field_strength_t": ["1.5"]},
    )
    assert sides(split) == {"a1": "id", "a2": "ood", "b1": "id", "c1": "ood", "d1": None}
    by_vendor = SplitSpec(in_distribution={"vendor": ["GE"]})
    assert sides(by_vendor) == {"a1": "id", "a2": "id", "b1": "ood", "c1": "ood", "d1": "id"}
    by_scanner_text = SplitSpec(in_distribution={"field_strength_t": ["3.0"]})  # "3.0" == 3.0
    assert [r.case_id for r in RECORDS if split_of(r, by_scanner_text) == "id"] == ["a1", "b1"]


def test_overlapping_sides_are_an_error() -> None:
    split = SplitSpec(in_distribution={"vendor": ["GE"]}, out_of_distribution={"site": ["A", "B"]})
    with pytest.raises(RobustEvalError, match="a1 matches both"):
        split_of(RECORDS[0], split)


def test_split_records_checks_columns_and_an_empty_in_distribution() -> None:
    groups = split_records(RECORDS, SplitSpec(in_distribution={"site": ["B"]}))
    assert [r.case_id for r in groups["id"]] == ["b1"]
    assert [r.case_id for r in groups["ood"]] == ["a1", "a2", "c1", "d1"]
    with pytest.raises(RobustEvalError, match="no case has a value for column 'vendr'"):
        check_split_columns(RECORDS, SplitSpec(in_distribution={"vendr": ["GE"]}))
    with pytest.raises(RobustEvalError, match=r"matches no case; values: \{'site': \['A', 'B', 'C', 'D'\]\}"):
        split_records(RECORDS, SplitSpec(in_distribution={"site": ["Z"]}))
