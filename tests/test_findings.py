"""Statuses are computed from numbers by fixed rules."""
import pandas as pd
import pytest

from mattinglib.study.findings import beats, close_and_better, mean_by, near_best


def _means(**values):
    return pd.Series(values, dtype=float)


def test_close_and_better_grades_both_conditions():
    kw = dict(candidate="ddc", reference="fine", rivals=["known", "dc"], claim="c", context="3 seeds")
    assert close_and_better(_means(fine=1.0, ddc=1.15, known=2.0, dc=1.5), **kw)["status"] == "reproduced"
    assert close_and_better(_means(fine=1.0, ddc=1.16, known=2.0, dc=1.5), **kw)["status"] == "partially reproduced"
    assert close_and_better(_means(fine=1.0, ddc=1.1, known=1.05, dc=1.5), **kw)["status"] == "partially reproduced"
    found = close_and_better(_means(fine=1.0, ddc=2.0, known=1.5, dc=1.5), **kw)
    assert found["status"] == "not reproduced" and "ddc / fine = 2.00" in found["finding"]
    assert "3 seeds" in found["finding"]
    alone = dict(candidate="ddc", reference="fine", rivals=[], claim="c", context="x")
    assert close_and_better(_means(fine=1.0, ddc=1.1), **alone)["status"] == "reproduced"
    assert close_and_better(_means(fine=1.0, ddc=1.9), **alone)["status"] == "not reproduced"


def test_beats_and_mean_by():
    scores = pd.DataFrame({"variant": ["a", "a", "b", "c"], "protocol": ["whole", "unknown", "whole", "whole"],
                           "sad": [1.0, 9.0, 2.0, 0.5]})
    means = mean_by(scores, "variant", protocol="whole")
    assert means.to_dict() == {"a": 1.0, "b": 2.0, "c": 0.5}
    assert beats(means, "a", ["b"], "c", "x")["status"] == "reproduced"
    assert beats(means, "a", ["b", "c"], "c", "x")["status"] == "partially reproduced"
    assert beats(means, "b", ["a", "c"], "c", "x")["status"] == "not reproduced"
    with pytest.raises(ValueError, match="no scores"):
        mean_by(scores, "variant", protocol="nope")


def test_near_best_allows_one_std_of_the_best():
    scores = pd.DataFrame({"window": [3, 3, 11, 11, 21, 21], "sad": [2.0, 2.2, 1.1, 1.3, 1.0, 1.2]})
    assert near_best(scores, "window", 11, "c", "x")["status"] == "reproduced"  # 1.2 <= 1.1 + 0.14
    assert near_best(scores, "window", 3, "c", "x")["status"] == "not reproduced"
