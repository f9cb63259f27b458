"""Statuses come from paired intervals behind a competence gate, by fixed rules."""
import numpy as np
import pandas as pd
import pytest

from mattinglib.study.claims import check_claims, make_claim, no_gate
from mattinglib.study.findings import claim_better, claim_within, competence_gate, mean_by
from mattinglib.study.statistics import paired_difference, status_better, status_within


def _per_image(effects: dict[str, float], n_images=40, seeds=(0, 1, 2), noise=0.05, base=1.0, rng_seed=0):
    """Per-image scores: arm -> true relative difference to 'ref'; image difficulty shared by all arms."""
    rng = np.random.default_rng(rng_seed)
    difficulty = rng.uniform(0.5, 2.0, n_images)
    rows = []
    for arm, effect in ({"ref": 0.0} | effects).items():
        for seed in seeds:
            values = base * difficulty * (1 + effect) * (1 + noise * rng.standard_normal(n_images))
            rows += [{"variant": arm, "seed": seed, "image": i, "name": f"img{i}", "sad": v} for i, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_paired_difference_finds_the_effect_and_covers_it():
    scores = _per_image({"better": -0.2, "same": 0.0})
    better = paired_difference(scores, "better", "ref")
    assert better.ci_low < -0.2 < better.ci_high and better.ci_high < 0
    assert (better.n_seeds, better.n_images, better.resampled) == (3, 40, "images")
    same = paired_difference(scores, "same", "ref", resample="images and seeds")
    assert same.ci_low < 0 < same.ci_high
    # Pairing removes the images' shared difficulty: the interval is far narrower than the spread of the images.
    assert better.ci_high - better.ci_low < 0.1


def test_paired_difference_is_reproducible_and_pairs_only_shared_cells():
    scores = _per_image({"a": -0.1})
    assert paired_difference(scores, "a", "ref") == paired_difference(scores, "a", "ref")
    fewer = scores[~((scores["variant"] == "a") & (scores["seed"] == 2))]
    assert paired_difference(fewer, "a", "ref").n_seeds == 2
    with pytest.raises(ValueError, match="no scores of 'b'"):
        paired_difference(scores, "b", "ref")
    with pytest.raises(ValueError, match="several rows"):
        paired_difference(pd.concat([scores, scores]), "a", "ref")


def test_statuses_read_the_interval_not_the_means():
    scores = _per_image({"clearly better": -0.3, "tie": 0.0, "worse": 0.3, "a bit worse": 0.1, "much worse": 0.4})
    assert status_better(paired_difference(scores, "clearly better", "ref")) == "reproduced"
    assert status_better(paired_difference(scores, "tie", "ref")) == "inconclusive"
    assert status_better(paired_difference(scores, "worse", "ref")) == "not reproduced"
    assert status_better(paired_difference(scores, "clearly better", "ref"), margin=0.5) == "not reproduced"
    assert status_within(paired_difference(scores, "a bit worse", "ref")) == "reproduced"
    assert status_within(paired_difference(scores, "much worse", "ref")) == "not reproduced"
    noisy = _per_image({"near the bar": 0.15}, noise=0.3)
    assert status_within(paired_difference(noisy, "near the bar", "ref")) == "inconclusive"


def test_the_gate_needs_the_reference_to_beat_trimap_and_known_and_near_closed_form():
    means = {"fine": 1.0, "trimap as alpha": 2.0, "known": 1.2}
    assert competence_gate(means, "fine")["passed"]
    assert not competence_gate(means | {"known": 0.9}, "fine")["passed"]
    real = competence_gate(means, "fine", unknown_sad={"fine": 14.0, "closed-form": 10.0})
    assert real["passed"] and real["numbers"]["closed-form (unknown-region SAD)"] == 10.0
    assert not competence_gate(means, "fine", unknown_sad={"fine": 16.0, "closed-form": 9.0})["passed"]
    # A known-only reference is gated by trimap-as-alpha alone.
    assert competence_gate(means, "known")["passed"]


def test_a_claim_behind_a_failed_gate_is_not_testable_whatever_the_interval():
    scores = _per_image({"ddc": -0.3, "known": -0.5, "trimap as alpha": 1.0})
    means = mean_by(scores, "variant")
    gate = competence_gate(means, "ref")
    assert not gate["passed"]  # known beats the reference
    claim = claim_better(scores, "ddc", "ref", "DDC beats fine", eval_set="synthetic", profile="cpu", gate=gate)
    assert claim["status"] == "not testable" and "gate FAILED" in claim["finding"]
    assert claim["ci_high"] < 0 and claim["n_seeds"] == 3 and claim["n_images"] == 40
    passing = competence_gate(means.drop("known"), "ref", controls=("trimap as alpha",))
    within = claim_within(scores, "ddc", "ref", "DDC within 15 % of fine", eval_set="s", profile="cpu", gate=passing)
    assert within["status"] == "reproduced" and "at most 15% higher" in within["finding"]


def test_the_schema_is_checked_once_for_every_writer():
    good = make_claim("c", "reproduced", "f", metric="sad", candidate="a", reference="b", eval_set="s",
                      profile="cpu", gate=no_gate("no network"), effect=-0.2, ci_low=-0.3, ci_high=-0.1,
                      n_seeds=2, n_images=5)
    assert check_claims([good], "x") == [good]
    for broken, message in [
        (good | {"status": "partially reproduced"}, "status"),
        ({k: v for k, v in good.items() if k != "gate"}, "exactly the keys"),
        (good | {"ci_low": None}, "needs its interval"),
        (good | {"gate": {"passed": False, "rule": "r", "numbers": {}}}, "must be 'not testable'"),
        (good | {"effect": float("nan")}, "finite"),
        (good | {"n_images": -1}, "non-negative"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_claims([broken], "x")
