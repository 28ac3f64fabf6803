"""The suite holds exactly the reference table's rows, named as the table names them."""

import re

import pytest

from benchmarks.common import BACKEND_NAMES, DTYPES, PRECISIONS, Case, op_families
from tests_support import reference_table_rows


def reference_rows():
    return list(reference_table_rows())


def reference_families():
    names = {row.split(" / ")[0] for row in reference_rows()}
    return [family for family in op_families() if family.__name__ in names]


def test_every_reference_row_is_a_case_of_the_suite_and_its_families_have_no_other():
    assert len(reference_rows()) == 61
    rows = [family().row_name(label) for family in reference_families() for label in family.cases]
    assert sorted(rows) == sorted(reference_rows())


def test_families_beyond_the_reference_table_are_table_rows_with_cases_of_their_own():
    beyond = [family for family in op_families() if family not in reference_families() and family.in_tables]
    for family in beyond:
        assert family.cases and all(Case.parse(label).label == label for label in family.cases)
    assert [f.__name__ for f in op_families() if not f.in_tables] == ["Floor"]


def test_seventeen_reference_families_each_over_its_cases_every_backend_and_its_dtypes_last():
    families = reference_families()
    assert len(families) == 17
    matrix_families = {"MatMul", "Linear", "Conv1d", "Conv2d"}
    assert {family.__name__ for family in families if family.uses_matrix_units} == matrix_families
    assert {family.__name__: family.dtypes for family in op_families() if family.dtypes != DTYPES} == {
        "BCE": ("float32", "bfloat16"), "CumSum": ("float32",), "Floor": ("float32",)}
    for family in families:
        modes = [("precision", list(PRECISIONS))] if family.__name__ in matrix_families else []
        modes += [("dtype", list(family.dtypes))] if family.dtypes != ("float32",) else []
        assert family.param_names == ["case", "backend", *(name for name, _ in modes)]
        assert family.params == [list(family.cases), list(BACKEND_NAMES), *(values for _, values in modes)]


@pytest.mark.parametrize("label", ["dim=64x1024x128 axi=0", "dim=1000000x64 dim=1000000x32 axi=1", "dim=1000000"])
def test_a_label_round_trips_through_its_case(label):
    assert Case.parse(label).label == label


def test_axis_is_parsed_and_negative_axes_kept():
    assert Case.parse("dim=64x1000000 axi=-1") == Case(((64, 1000000),), -1)


@pytest.mark.parametrize("label", ["dim=64xx2", "shape=3x4", "dim=3 axi=1x2", "dim=3 axis=1"])
def test_a_malformed_label_is_a_clear_error(label):
    with pytest.raises(ValueError, match=re.escape(repr(label))):
        Case.parse(label)


def test_scaling_down_keeps_rank_axis_and_matching_sizes():
    case = Case.parse("dim=1000x64x1024 dim=1000x1024x32")
    small = case.scaled_down(2**20)
    assert small.elements <= 2**20
    assert [len(s) for s in small.shapes] == [3, 3]
    assert small.shapes[0][2] == small.shapes[1][1] and small.shapes[0][0] == small.shapes[1][0]
    assert Case.parse("dim=64x1000000 axi=-1").scaled_down(2**16).axis == -1
