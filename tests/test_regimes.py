"""The regime table's prose: formatted from the table alone, saying when the gate is in reach."""
from __future__ import annotations

import pandas as pd

from mattinglib.study.regimes import describe_regimes


def _table(sads, reference=5.0, factor=1.5):
    table = pd.DataFrame({"regime": ["profile"] + [f"r{k}" for k in range(1, len(sads))],
                          "cost": [1.0] + [2.0] * (len(sads) - 1), "sad": sads})
    table["x closed-form"] = table["sad"] / reference
    table["within the gate"] = table["x closed-form"] <= factor
    return table


def test_describe_regimes_names_every_regime_and_the_verdict():
    text = describe_regimes(_table([16.0, 15.0, 20.0]), "closed-form", 1.5)
    assert text.startswith("the profile's 16.0, 3.20 x closed-form's 5.0; r1 15.0 (3.00 x, cost 2.0 x); r2 20.0")
    assert "None comes within the gate's 1.5 x" in text
    text = describe_regimes(_table([16.0, 7.0, 20.0]), "closed-form", 1.5)
    assert "r1 come(s) within 1.5 x" in text and "None" not in text
