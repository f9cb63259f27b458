"""A reading's quoted numbers are checked against the tables it names."""
import pandas as pd
import pytest

from mattinglib.study.prose import quoted_numbers, show_reading, unmatched_numbers

TABLE = pd.DataFrame({"variant": ["fine", "known+ddc"], "sad": [1.4012, 1.0931], "summary": ["1.40 ± 0.10 (3)", "1.093 ± 0.02 (3)"]})
CLAIMS = pd.DataFrame({"effect": [-0.2199], "ci_low": [-0.25], "ci_high": [-0.19]})
READING = ("Trimap-only training reaches SAD 1.09 ± 0.02 against 1.40 with fine labels (-22 %, interval -25 % to "
           "-19 %), over 3 seeds and 600 steps at K = 11.")


def test_numbers_that_are_quoted():
    found = [(written, decimals, percent) for written, _, decimals, percent in quoted_numbers(READING)]
    assert ("1.09", 2, False) in found and ("-22 %", 0, True) in found
    assert not any(written in ("3", "600", "11") for written, *_ in found)  # counts and settings are not checked


def test_a_reading_written_from_the_tables_passes():
    assert unmatched_numbers(READING, TABLE, CLAIMS) == []


@pytest.mark.parametrize("edit", [("1.09", "1.19"), ("1.40", "1.45"), ("-22 %", "-32 %"), ("0.02", "0.03")])
def test_editing_one_number_of_the_reading_fails_the_check(edit):
    edited = READING.replace(*edit, 1)
    assert unmatched_numbers(edited, TABLE, CLAIMS) == [edit[1]]
    with pytest.raises(ValueError, match="not in its tables"):
        show_reading(edited, TABLE, CLAIMS)


def test_rounding_is_the_precision_quoted():
    assert unmatched_numbers("SAD 1.1", TABLE) == []          # 1.0931 -> 1.1
    assert unmatched_numbers("SAD 1.094", TABLE) == ["1.094"]  # 1.0931 -> 1.093, not 1.094
