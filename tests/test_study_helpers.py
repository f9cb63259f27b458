"""Study helpers: claims files, label statistics, DDC figures, the prior study table."""
import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from mattinglib.study.claims import write_claims
from mattinglib.data import SyntheticMattingDataset
from mattinglib.study.figures import plot_selected_neighbors, plot_setting_bars
from mattinglib.labels import describe_label, make_trimap
from mattinglib.study.prior_study import run_prior_study, setting_label


def test_claims_are_validated_and_written(tmp_path):
    from mattinglib.study.claims import make_claim, no_gate

    claims = [make_claim("c", "not testable", "SAD 1.0 vs 2.0", metric="sad", candidate="a", reference="b",
                         eval_set="s", profile="cpu", gate=no_gate("none"))]
    assert json.loads(write_claims(tmp_path, claims).read_text()) == claims
    with pytest.raises(ValueError, match="status"):
        write_claims(tmp_path, [claims[0] | {"status": "proved"}])
    with pytest.raises(ValueError, match="keys"):
        write_claims(tmp_path, [{"claim": "c"}])


def test_describe_label():
    alpha = np.zeros((20, 20))
    alpha[5:15, 5:15] = 1
    alpha[4, 5:15] = 0.5
    stats = describe_label(make_trimap(alpha, 2), alpha)
    assert stats["soft_covered"] == 1 and stats["known_error"] == 0
    assert stats["known_fraction"] + stats["unknown_fraction"] == pytest.approx(1)
    wrong = np.where(alpha > 0, 1.0, 0.0)  # a mask labels the soft row as foreground
    assert describe_label(wrong, alpha)["known_error"] == pytest.approx(10 * 0.5 / 400)


def test_prior_study_table_and_figures():
    dataset = SyntheticMattingDataset(size=48, length=2, seed=0, split="test")
    settings = [{"method": "trimap"}, {"method": "ddc", "weight": 10.0, "kernel_size": 5, "topk": 5, "steps": 20}]
    table = run_prior_study(dataset, settings, factor=1, progress=False)
    assert len(table) == 4 and set(table["setting"]) == {"trimap", "known + 10 DDC (K 5, k 5)"}
    assert setting_label({"method": "none"}) == "known only"
    fig = plot_setting_bars(table, "sad")
    assert len(fig.axes[0].patches) == 2
    image = dataset[0]["image"].numpy().transpose(1, 2, 0)
    fig = plot_selected_neighbors(image, [(10, 10), (30, 40)], kernel_size=5, topk=5)
    assert len(fig.axes) == 2


def test_loss_landscape_prices_every_candidate_matte():
    from mattinglib.study.prior_study import loss_landscape

    dataset = SyntheticMattingDataset(size=48, length=2, seed=0, split="test")
    table = loss_landscape(dataset, kernel_size=5, topk=5)
    assert len(table) == 2 * 6
    truth = table[table["matte"] == "truth"]
    zeros = table[table["matte"] == "zeros"]
    assert (truth["known"] == 0).all() and (zeros["known"] > 0).all()
    # For a constant matte both losses reduce to the mean selected colour distance.
    assert np.allclose(zeros["ddc"], zeros["dc"])
    assert np.allclose(table["total"], table["known"] + 10 * table["ddc"])
