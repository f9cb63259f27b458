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


def test_the_search_combines_the_free_levers_that_each_helped_and_adopts_within_budget(monkeypatch, tmp_path):
    import json

    from torch import nn

    import mattinglib.study.regimes as regimes
    from mattinglib.study.profiles import base_config

    # Validation SAD of a run from its config alone: each lever's own effect, added up.
    def fake_sad(config):
        return (10.0 - 2.0 * (config.colour_jitter > 0.05) - 1.0 * (config.trimap_width[1] > 30)
                + 3.0 * (config.lr > 0.01) - 4.0 * (config.steps > 100))

    trained = []

    def fake_grid(base, variants, seeds, root, eval_sets=None, protocols=(), jobs=1):
        trained.extend(variants)
        return pd.DataFrame([{"variant": name, "sad": fake_sad(base.replace(**changes))}
                             for name, changes in variants.items()])

    monkeypatch.setattr(regimes, "run_grid", fake_grid)
    monkeypatch.setattr(regimes, "score_baselines",
                        lambda *args, **kwargs: type("G", (), {"runs": pd.DataFrame({"sad": [5.0]})})())
    monkeypatch.setattr(regimes, "build_model_for", lambda config: nn.Linear(3, 1))
    base = base_config("smoke", dataset="realfg", steps=50)
    levers = {"jitter": {"colour_jitter": 0.1}, "wide bands": {"trimap_width": (8, 60)},
              "high lr": {"lr": 0.05}, "more steps": {"steps": 200}}
    table, reference = regimes.regime_search(base, {"supervision": "fine"}, levers, tmp_path, {}, 1.5, combine=True)
    # The free levers that helped are combined; "more steps" helped too but costs 4 x the work.
    together = f"{regimes.COMBINED_REGIME} jitter + wide bands"
    assert list(table["regime"]) == ["profile", *levers, together]
    assert trained[-1] == together and reference == 5.0
    row = table.set_index("regime").loc[together]
    assert json.loads(row["changes"]) == {"colour_jitter": 0.1, "trimap_width": [8, 60]}
    assert row["sad"] == 7.0 and row["cost"] == 1.0
    assert table.set_index("regime").loc["more steps", "cost"] == 4.0
    # Adopted: the best within the budget (7.0), or the costlier "more steps" (6.0) when it is affordable.
    assert regimes.adopt_regime(table) == (together, {"colour_jitter": 0.1, "trimap_width": [8, 60]})
    assert regimes.adopt_regime(table, max_cost=4.0) == ("more steps", {"steps": 200})
    assert regimes.adopt_regime(table.iloc[[0, 3]]) == ("profile", {})
    # A lever whose keys a later lever sets is left out of the union (and of its name).
    trained.clear()
    table, _ = regimes.regime_search(base, {"supervision": "fine"}, {"jitter": {"colour_jitter": 0.1},
                                     "more jitter": {"colour_jitter": 0.2}, "wide bands": {"trimap_width": (8, 60)}},
                                     tmp_path, {}, 1.5, combine=True)
    assert trained[-1] == f"{regimes.COMBINED_REGIME} more jitter + wide bands"
    assert json.loads(table["changes"].iloc[-1]) == {"colour_jitter": 0.2, "trimap_width": [8, 60]}
    # Without combine nothing more is trained.
    trained.clear()
    table, _ = regimes.regime_search(base, {"supervision": "fine"}, levers, tmp_path, {}, 1.5)
    assert list(table["regime"]) == ["profile", *levers] and trained == ["profile", *levers]
