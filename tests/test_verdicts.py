"""The notebooks' repeated blocks as helpers: gated claims and the gate table (mattinglib.study.verdicts), a grid's
score tables (tables.write_score_tables), its SAD bars (figures.save_sad_bars) and the tuning search's description.

The helpers must give exactly what the notebooks' inline code gave, so each is compared with that code (the
findings functions called directly) on small synthetic score tables."""
import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from mattinglib.study.figures import plot_setting_bars, save_sad_bars  # noqa: E402
from mattinglib.study.findings import claim_better, claim_within, gate_for, select  # noqa: E402
from mattinglib.study.profiles import base_config  # noqa: E402
from mattinglib.study.tables import mean_spread, read_table, write_score_tables  # noqa: E402
from mattinglib.study.tuning import CORE_ARMS, KNOBS, LR_FACTORS, describe_search  # noqa: E402
from mattinglib.study.statistics import paired_interaction  # noqa: E402
from mattinglib.study.verdicts import (SHOWN_COLUMNS, Comparison, beats, claims_frame, comes_within,  # noqa: E402
                                       gap_shrinks, gate_table, gated_claims)

SEEDS, IMAGES = (0, 1), 8


def per_image_scores(means: dict[str, float], eval_set: str = "synthetic", protocols=("whole", "unknown"),
                     rng_seed: int = 0) -> pd.DataFrame:
    """Per-image SAD of every arm (networks: two seeds; "trimap as alpha" and "closed-form": one), around ``means``.

    Unknown-region SAD is half the whole-image one, so a gate's two conditions follow the same order.
    """
    rng = np.random.default_rng(rng_seed)
    rows = []
    for variant, mean in means.items():
        seeds = (0,) if variant in ("trimap as alpha", "closed-form") else SEEDS
        for seed in seeds:
            noise = rng.uniform(0.9, 1.1, IMAGES)
            for protocol in protocols:
                scale = 1.0 if protocol == "whole" else 0.5
                rows += [{"variant": variant, "seed": seed, "image": image, "eval_set": eval_set,
                          "protocol": protocol, "sad": mean * scale * noise[image]} for image in range(IMAGES)]
    return pd.DataFrame(rows)


WORKING = {"fine": 1.0, "known+ddc": 1.05, "known": 1.6, "trimap as alpha": 2.0, "closed-form": 0.9}
FINE_FAILS = {"fine": 1.7, "known+ddc": 1.05, "known": 1.6, "trimap as alpha": 2.0, "closed-form": 0.9}


def comparisons(eval_set: str) -> list[Comparison]:
    return [comes_within("known+ddc", "fine", f"known + DDC within 15 % of fine ({eval_set})"),
            beats("known+ddc", "known", f"known + DDC beats known ({eval_set})")]


def test_a_working_reference_gives_the_findings_claims_with_a_passed_gate():
    per_image = per_image_scores(WORKING)
    claims = gated_claims(per_image, "synthetic", comparisons("synthetic"), real=False, profile="smoke")
    # What the notebooks computed inline before the helper.
    in_set = select(per_image, eval_set="synthetic", protocol="whole")
    expected = [
        claim_within(in_set, "known+ddc", "fine", gate=gate_for(per_image, "fine", "synthetic", real=False),
                     eval_set="synthetic", profile="smoke", claim="known + DDC within 15 % of fine (synthetic)"),
        claim_better(in_set, "known+ddc", "known", gate=gate_for(per_image, "known", "synthetic", real=False),
                     eval_set="synthetic", profile="smoke", claim="known + DDC beats known (synthetic)")]
    assert claims == expected
    assert [c["gate"]["passed"] for c in claims] == [True, True]
    assert claims[0]["status"] == "reproduced" and claims[1]["status"] == "reproduced"
    assert claims[0]["metric"] == "whole sad" and claims[0]["n_seeds"] == 2 and claims[0]["n_images"] == IMAGES


def test_a_failing_gate_makes_only_its_claims_not_testable():
    per_image = per_image_scores(FINE_FAILS)
    claims = gated_claims(per_image, "synthetic", comparisons("synthetic"), real=False, profile="smoke")
    within_fine, beats_known = claims
    # fine (1.7) does not beat known-only (1.6): no verdict against it, but its numbers are still reported
    assert within_fine["gate"]["passed"] is False and within_fine["status"] == "not testable"
    assert within_fine["effect"] == pytest.approx(1.05 / 1.7 - 1, abs=0.05)
    assert within_fine["gate"]["numbers"]["fine"] > within_fine["gate"]["numbers"]["known"]
    assert beats_known["gate"]["passed"] is True and beats_known["status"] == "reproduced"


def test_on_real_images_the_gate_also_holds_the_reference_to_closed_form():
    per_image = per_image_scores(WORKING, eval_set="real photos")
    claims = gated_claims(per_image, "real photos", comparisons("real photos"), real=True, protocol="unknown",
                          profile="smoke")
    assert claims[0]["gate"]["passed"] is True  # fine 1.0 <= 1.5 x closed-form 0.9
    assert claims[0]["metric"] == "unknown sad"
    assert "closed-form (unknown-region SAD)" in claims[0]["gate"]["numbers"]
    far = per_image_scores(WORKING | {"closed-form": 0.5}, eval_set="real photos")  # 1.0 > 1.5 x 0.5
    claims = gated_claims(far, "real photos", comparisons("real photos"), real=True, protocol="unknown",
                          profile="smoke")
    assert claims[0]["gate"]["passed"] is False and claims[0]["status"] == "not testable"
    assert claims[0] == claim_within(select(far, eval_set="real photos", protocol="unknown"), "known+ddc", "fine",
                                     gate=gate_for(far, "fine", "real photos", real=True, protocol="unknown"),
                                     eval_set="real photos", profile="smoke", protocol="unknown",
                                     claim="known + DDC within 15 % of fine (real photos)")
    # The same scores read as a synthetic set: no closed-form condition, so the gate passes.
    assert gated_claims(far, "real photos", comparisons("real photos"), real=False, protocol="unknown",
                        profile="smoke")[0]["gate"]["passed"] is True


def test_an_interaction_is_the_change_of_a_relative_difference_between_two_conditions():
    # With pretraining known + DDC is 5 % above fine; without, 60 % above: the gap shrinks by ~55 points.
    scores = per_image_scores(WORKING | {"scratch fine": 2.0, "scratch known+ddc": 3.2})
    whole = select(scores, eval_set="synthetic", protocol="whole")
    interaction = paired_interaction(whole, ("known+ddc", "fine"), ("scratch known+ddc", "scratch fine"))
    assert interaction.with_pair.effect == pytest.approx(0.05, abs=0.05)
    assert interaction.without_pair.effect == pytest.approx(0.6, abs=0.1)
    assert interaction.effect == pytest.approx(interaction.with_pair.effect - interaction.without_pair.effect)
    assert interaction.ci_low <= interaction.effect <= interaction.ci_high < 0
    # The claim: reproduced behind the first pair's reference's gate; reversed, not reproduced.
    shrinks = gap_shrinks(("known+ddc", "fine"), ("scratch known+ddc", "scratch fine"), "the gap shrinks")
    grows = gap_shrinks(("scratch known+ddc", "scratch fine"), ("known+ddc", "fine"), "the gap grows")
    claim, reversed_claim = gated_claims(scores, "synthetic", [shrinks, grows], real=False, profile="smoke")
    assert claim["status"] == "reproduced" and claim["effect"] == pytest.approx(interaction.effect)
    assert claim["candidate"] == "known+ddc / fine vs scratch known+ddc / scratch fine"
    assert claim["reference"] == "fine"  # the gated arm, as in every claim (one row of the gate table)
    assert claim["gate"] == gate_for(scores, "fine", "synthetic", real=False)
    assert reversed_claim["gate"]["passed"] is False  # scratch fine (2.0) loses to known-only (1.6)
    assert reversed_claim["status"] == "not testable"
    # Same differences under both conditions: the interval straddles 0.
    same = per_image_scores(WORKING | {"scratch fine": 2.0, "scratch known+ddc": 2.1}, rng_seed=3)
    flat = paired_interaction(select(same, eval_set="synthetic", protocol="whole"), ("known+ddc", "fine"),
                              ("scratch known+ddc", "scratch fine"))
    assert flat.ci_low < 0 < flat.ci_high
    with pytest.raises(ValueError, match="no scores of 'nowhere'"):
        paired_interaction(whole, ("known+ddc", "nowhere"), ("scratch known+ddc", "scratch fine"))


def test_claims_can_pair_on_another_grid_while_the_gate_reads_the_main_one():
    per_image = per_image_scores(WORKING)
    extra = per_image_scores({"paper weight": 1.5, "fine": 1.0}, protocols=("whole",), rng_seed=1)
    claims = gated_claims(per_image, "synthetic", [comes_within("paper weight", "fine", "paper weight within")],
                          real=False, profile="smoke", paired_on=extra)
    assert claims == [claim_within(extra, "paper weight", "fine", gate=gate_for(per_image, "fine", "synthetic",
                                                                                 real=False),
                                   eval_set="synthetic", profile="smoke", claim="paper weight within")]
    assert claims[0]["status"] == "not reproduced"  # +50 %: outside the 15 % bar


def test_gated_claims_refuse_an_unknown_kind_a_missing_set_and_a_missing_arm():
    per_image = per_image_scores(WORKING)
    with pytest.raises(ValueError, match="kinds"):
        gated_claims(per_image, "synthetic", [Comparison("worse", "known", "fine", "c")], real=False, profile="smoke")
    with pytest.raises(ValueError, match="no scores"):
        gated_claims(per_image, "elsewhere", comparisons("elsewhere"), real=False, profile="smoke")
    with pytest.raises((KeyError, ValueError)):
        gated_claims(per_image, "synthetic", [beats("known+dc", "known", "c")], real=False, profile="smoke")


def test_the_gate_table_has_one_row_per_group_and_reference_in_order():
    # fine fails (it does not beat known-only); known-only passes (1.6 < 2.0, and 0.8 <= 1.5 x 0.6)
    per_image = per_image_scores(FINE_FAILS | {"closed-form": 1.2}, eval_set="test composites")
    claims_of = {protocol: gated_claims(per_image, "test composites", comparisons(protocol)
                                        + [beats("known", "fine", f"known beats fine ({protocol})")],
                                        real=True, protocol=protocol, profile="smoke")
                 for protocol in ("whole", "unknown")}
    table = gate_table(claims_of, "protocol")
    assert list(table[["protocol", "reference"]].itertuples(index=False, name=None)) == [
        ("whole", "fine"), ("whole", "known"), ("unknown", "fine"), ("unknown", "known")]
    assert list(table.columns[:3]) == ["protocol", "reference", "passed"]
    assert list(table["passed"]) == [False, True, False, True]
    first = claims_of["whole"][0]["gate"]["numbers"]
    assert table.iloc[0][list(first)].tolist() == list(first.values())
    assert np.isnan(table.iloc[0]["known (unknown-region SAD)"])  # a number of the known-only arm's gate only
    # What notebook 70 computed inline before the helper.
    inline = pd.DataFrame([{"protocol": protocol, "reference": c["reference"], "passed": c["gate"]["passed"],
                            **c["gate"]["numbers"]} for protocol, protocol_claims in claims_of.items()
                           for c in protocol_claims]).drop_duplicates(["protocol", "reference"])
    pd.testing.assert_frame_equal(table, inline)


def test_claims_frame_shows_the_columns_a_notebook_shows():
    claims = gated_claims(per_image_scores(WORKING), "synthetic", comparisons("synthetic"), real=False,
                          profile="smoke")
    frame = claims_frame(claims)
    assert tuple(frame.columns) == SHOWN_COLUMNS and list(frame["claim"]) == [c["claim"] for c in claims]


def run_scores() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A grid's per-run scores over two sets and both protocols, and classical rows (one seed)."""
    rows, classical = [], []
    for eval_set in ("synthetic", "held-out scenes, Trimap1"):
        for protocol in ("whole", "unknown"):
            for variant, mean in (("fine", 1.0), ("known+ddc", 1.2), ("known", 1.9)):
                rows += [{"variant": variant, "seed": seed, "eval_set": eval_set, "protocol": protocol,
                          "sad": mean + 0.1 * seed, "mse": mean / 100, "run_dir": f"/runs/{variant}-{seed}"}
                         for seed in SEEDS]
            classical.append({"variant": "closed-form", "seed": 0, "eval_set": eval_set, "protocol": protocol,
                              "sad": 0.8, "mse": 0.004})
    return pd.DataFrame(rows), pd.DataFrame(classical)


def test_write_score_tables_writes_the_runs_and_their_summary(tmp_path):
    scores, classical = run_scores()
    summary = write_score_tables(scores, tmp_path, metrics=["sad", "mse"], caption="the caption")
    pd.testing.assert_frame_equal(summary, mean_spread(scores, by=["eval_set", "protocol", "variant"],
                                                       metrics=["sad", "mse"]))
    pd.testing.assert_frame_equal(read_table(tmp_path / "scores_per_run"), scores.drop(columns="run_dir"))
    assert (tmp_path / "summary.md").read_text().startswith("the caption\n")
    pd.testing.assert_frame_equal(read_table(tmp_path / "summary.csv"), summary)
    with_classical = write_score_tables(scores, tmp_path, metrics=["sad", "mse"], caption="c", classical=classical)
    assert len(with_classical) == len(summary) + len(classical)
    assert list(with_classical["variant"][-len(classical):]) == ["closed-form"] * len(classical)
    assert "run_dir" not in read_table(tmp_path / "scores_per_run").columns  # the networks' rows only
    assert len(read_table(tmp_path / "scores_per_run")) == len(scores)


def test_save_sad_bars_names_one_figure_per_set_and_protocol(tmp_path):
    scores, classical = run_scores()
    plt.close("all")
    written = save_sad_bars(scores, ["synthetic", "held-out scenes, Trimap1"], tmp_path, title="SAD, {eval_set}")
    assert [p.name for p in written] == ["sad_synthetic.png", "sad_synthetic.pdf",
                                         "sad_held-out_scenes_Trimap1.png", "sad_held-out_scenes_Trimap1.pdf"]
    assert all(p.is_file() for p in written)
    assert [plt.figure(n).axes[0].get_title() for n in plt.get_fignums()] == [
        "SAD, synthetic", "SAD, held-out scenes, Trimap1"]
    plt.close("all")
    written = save_sad_bars(scores, ["held-out scenes, Trimap1"], tmp_path, title="{protocol} SAD, {eval_set}",
                            protocols=("whole", "unknown"), classical=classical, name="sad_seen_{protocol}")
    assert [p.name for p in written] == ["sad_seen_whole.png", "sad_seen_whole.pdf", "sad_seen_unknown.png",
                                         "sad_seen_unknown.pdf"]
    labels = [tick.get_text() for tick in plt.figure(plt.get_fignums()[0]).axes[0].get_yticklabels()]
    assert labels == ["closed-form (n=1)", "fine (n=2)", "known+ddc (n=2)", "known (n=2)"]  # ordered by mean SAD
    plt.close("all")


def test_save_sad_bars_draws_what_the_notebooks_drew(tmp_path):
    """The PNG equals the one of the notebooks' inline loop (networks then classical rows, one set, one protocol)."""
    scores, classical = run_scores()
    set_name, protocol = "held-out scenes, Trimap1", "unknown"
    save_sad_bars(scores, [set_name], tmp_path / "helper", title="unknown-region SAD, {eval_set}",
                  protocols=(protocol,), classical=classical)
    unknown = scores[scores["protocol"] == protocol]
    rows = pd.concat([unknown[unknown["eval_set"] == set_name],
                      classical[(classical["eval_set"] == set_name) & (classical["protocol"] == protocol)]],
                     ignore_index=True)
    from mattinglib.study.plotting import save_figure

    save_figure(plot_setting_bars(rows, "sad", by="variant", title=f"unknown-region SAD, {set_name}"),
                tmp_path / "inline" / "sad_held-out_scenes_Trimap1")
    for suffix in (".png", ".pdf"):
        name = "sad_held-out_scenes_Trimap1" + suffix
        assert (tmp_path / "helper" / name).read_bytes() == (tmp_path / "inline" / name).read_bytes()
    plt.close("all")


def test_describe_search_names_the_learning_rates_and_every_arms_knob():
    base = base_config("cpu")
    text = describe_search(base, CORE_ARMS)
    assert f"x {list(LR_FACTORS)}" in text and f"{base.lr:g}" in text
    for arm in CORE_ARMS:
        knobs = KNOBS[arm]
        assert (f"{arm} " + (", ".join(f"{key} {list(values)}" for key, values in knobs.items()) or "none")) in text
    assert "known+ddc ddc_weight [1.0]" in describe_search(base, CORE_ARMS, knobs={"known+ddc": {"ddc_weight": [1.0]}})


def test_the_scene_table_gives_each_scene_its_mean_over_seeds_and_its_ratio_to_the_reference():
    from mattinglib.study.tables import scene_table

    scores = per_image_scores(WORKING, eval_set="real photos")
    names = {"real photos": [f"GT{k:02d}" for k in range(IMAGES)]}
    table = scene_table(scores, names, protocol="unknown", reference="closed-form")
    assert list(table["scene"]) == names["real photos"] and set(table["eval_set"]) == {"real photos"}
    assert list(table.columns[2:2 + len(WORKING)]) == list(WORKING)
    unknown = select(scores, protocol="unknown")
    fine_gt03 = unknown[(unknown["variant"] == "fine") & (unknown["image"] == 3)]["sad"].mean()
    row = table.set_index("scene").loc["GT03"]
    assert row["fine"] == pytest.approx(fine_gt03)
    assert row["fine / closed-form"] == pytest.approx(fine_gt03 / row["closed-form"])
    assert "closed-form / closed-form" not in table.columns
