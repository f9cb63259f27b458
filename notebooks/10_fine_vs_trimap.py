# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 10 · Fine labels against trimap-only training (the paper's main claim)
#
# **Claim.** A matting network trained with a trimap as its only label, through the known loss plus $\lambda\,$DDC,
# comes close to the same network trained with fine alpha labels, and clearly beats the same network trained with the
# known loss alone (nothing supervises the unknown band), with the undirected DC loss, or by regressing the trimap's
# 0 / ½ / 1 values directly.
#
# **Set-up.** One model and one schedule (the profile's, `mattinglib.study.profiles`); only the supervision changes:
# `fine` (L1 + Laplacian L1 to the true alpha), `known+ddc` (the paper), `known+dc`, `known`, `trimap-l1`, and our
# variant `known+scaled-ddc` (DDC's colour distance divided by a local estimate of $|F - B|$ from nearby known pixels,
# `mattinglib.losses.scaled_ddc`; notebook 60 tests it where networks see real hair). Several seeds each. Every
# network sees the image only. Scored on held-out synthetic composites, on composites of held-out real foregrounds
# (alphamatting.com scenes no network trained on) over held-out photos, and on those held-out real photos themselves,
# under both metric protocols (whole image and unknown region).
#
# **The regime, and how its settings are chosen.** While planning, a 1 M-parameter CNN trained on *whole* composites
# shrunk to 96 px with $\lambda = 10$ gave the opposite of the claim, and our first session found that at the `cpu`
# scale (64 px crops of 96 px composites, 600 steps, the width-16 U-Net) a network under known + 10 DDC collapses to a
# flat matte (notebook 02 prices why: on small crops a flat matte costs less DDC than a slightly blurred one). Earlier
# versions of this notebook fixed $\lambda = 1$ from those runs, which were scored on the test set, and ran the fine-label
# arm with the recipe's loss unchanged. Now **every arm gets the same search on a validation split**: the learning
# rate in three values for every arm, and each arm's own knob (DDC, scaled DDC and DC: $\lambda \in \{0.3, 1, 3, 10\}$; fine labels:
# L1 alone, L1 + 0.1 Laplacian, the recipe's L1 + Laplacian), one seed per setting, scored on validation composites
# whose photographs no training or test composite uses. Each arm's validation-best setting is the one the main
# table reports; the untuned recipe stays as an extra row. Nothing of the test sets is read before the settings are
# fixed.

# %%
from pathlib import Path

import pandas as pd

from mattinglib.study.claims import write_claims
from mattinglib.evaluate import prediction_statistics
from mattinglib.study.evalsets import describe_validation_set, evaluation_sets, runs_root
from mattinglib.study.figures import prediction_rows, save_sad_bars
from mattinglib.study.grid import run_grid, runs_of_seed, score_baselines
from mattinglib.study.plotting import save_figure, show_images, use_style
from mattinglib.study.profiles import base_config, profile_jobs, profile_seeds
from mattinglib.study.prose import show_reading
from mattinglib.study.tables import mean_spread, write_score_tables, write_table
from mattinglib.study.tuning import CORE_ARMS, describe_choice, describe_search, tune
from mattinglib.study.verdicts import beats, claims_frame, comes_within, gated_claims
from mattinglib.train import load_model

use_style()

# %% tags=["parameters"]
PROFILE = "cpu"
OUTPUT_DIR = "results/10_fine_vs_trimap"
RUNS_DIR = None        # default: $MATTINGLIB_RUNS or runs/, then the profile's name
DATA_ROOT = None       # folder holding alphamatting-lowres/ (default: $MATTINGLIB_DATA)
DOWNLOAD = False       # fetch the alphamatting.com scenes when they are absent
SEEDS = [0, 1, 2]
JOBS = 2               # runs trained at once (one thread each on 2 cores)
PAPER_WEIGHT = 10.0    # the paper's lambda, scored on test with the chosen lr (one seed)
MAX_SCENES = None      # held-out real photos scored (None: all of them)
CONFIG_CHANGES = {}    # TrainConfig keys changed for every run, e.g. {"backbone_checkpoint": "dino_vits16.pth"}

# %%
base = base_config(PROFILE, **({"data_root": DATA_ROOT} if DATA_ROOT else {}), **CONFIG_CHANGES)
seeds = profile_seeds(PROFILE, SEEDS)
jobs = profile_jobs(PROFILE, JOBS)  # smoke: one run at a time, in this process
runs = runs_root(PROFILE, RUNS_DIR)
out = Path(OUTPUT_DIR)
out.mkdir(parents=True, exist_ok=True)
# CORE_ARMS are shared with notebooks 20-40, which rerun this search from the same runs: the search is
# mattinglib.study.tuning's (LR_FACTORS, KNOBS), not a parameter here, so that they cannot choose from another one.
# Scaled DDC is this notebook's alone.
ARMS = CORE_ARMS | {"known+scaled-ddc": {"supervision": "known+scaled-ddc"}}
eval_sets = evaluation_sets(base, DATA_ROOT, DOWNLOAD, max_scenes=2 if PROFILE == "smoke" else MAX_SCENES)
print(f"{base.steps} steps of batch {base.batch_size}, {base.crop_size} px crops, "
      f"model {base.model} (width {base.model_width}), profile lr {base.lr:g}; seeds {seeds}")
print("searched:", describe_search(base, ARMS))
own_set = next(iter(eval_sets))  # the profile's own held-out set: synthetic composites, or AM-2K validation
print({name: len(dataset) for name, dataset in eval_sets.items()})

# %% [markdown]
# ## Tuning on the validation split
#
# Every arm, every setting of its search (`LR_FACTORS` and `KNOBS` of `mattinglib.study.tuning`, printed above: the
# search notebooks 20-40 rerun from the same runs), one seed; whole-image SAD on the validation composites (their
# photographs are used by no training and no test composite). `chosen` marks each arm's validation-best setting, `recipe` the
# profile's untuned values.

# %%
validation_note = describe_validation_set(base)
print(validation_note)
tuning = tune(base, ARMS, runs, jobs=jobs)
write_table(tuning.table.drop(columns="run_dir"), out / "tuning",
            caption=f"Every setting tried, one seed, scored on the validation split ({validation_note}); "
                    "whole-image SAD in thousands. chosen: the arm's validation-best; recipe: the profile's values.")
choice = describe_choice(tuning)
write_table(choice, out / "tuning_choice",
            caption=f"Each arm's validation-best setting and the untuned recipe's, on the validation split ({validation_note}).")
choice

# %% [markdown]
# ## Train the grid and score every run
#
# Each arm at its validation-best setting, plus the untuned recipe of the two arms the paper's claim compares (fine
# labels and known + DDC) where it differs from the chosen one.
#
# Each (supervision, seed) trains into its own folder under the profile's runs folder, named after its config: a
# finished run is reused (notebooks 30 and 40 reuse this notebook's fine-label and known + DDC runs), an interrupted
# one resumes from its last checkpoint.

# %%
VARIANTS = dict(tuning.chosen)
for arm in ("fine", "known+ddc"):
    if tuning.recipe[arm] != tuning.chosen[arm]:
        VARIANTS[f"{arm} (recipe)"] = tuning.recipe[arm]
grid = run_grid(base, VARIANTS, seeds, runs, eval_sets=eval_sets, jobs=jobs, per_image=True)
scores = grid.runs
summary = write_score_tables(
    scores, out, metrics=["sad", "mse", "grad", "conn", "sad_fg", "sad_bg", "sad_soft"],
    caption=f"Mean ± std over {len(seeds)} seed(s) ({PROFILE} profile, each arm at its validation-best setting). "
            "SAD / Conn in thousands, whole-image Grad in tens, unknown-region Grad in thousands; whole = AM-2K "
            "protocol, unknown = alphamatting.com protocol; "
            "sad_fg / sad_bg / sad_soft: whole-image SAD on the trimap's FG, BG and the truly soft pixels.")
summary[summary["protocol"] == "whole"]

# %% [markdown]
# ## The floor and the classical matte
#
# Trimap-as-alpha (½ wherever unsure) is the floor every network must beat; closed-form matting given the same test
# trimap is the classical matte a working network should come near. They enter every claim's competence gate.

# %%
baselines = score_baselines(eval_sets, runs_root=runs)
write_table(baselines.runs, out / "baselines",
            caption="Trimap as alpha and closed-form matting given the test trimap, mean over each set's images.")
per_image = pd.concat([grid.images, baselines.images], ignore_index=True)
baselines.runs[["eval_set", "protocol", "variant", "sad", "mse", "grad"]]

# %%
save_sad_bars(scores, eval_sets, out, title=f"whole-image SAD, {{eval_set}} ({len(seeds)} seeds)");

# %% [markdown]
# ## The paper's weight
#
# Known + DDC with the paper's $\lambda = 10$ at the learning rate chosen for known + DDC (its tuning run, one seed),
# scored on the profile's own test set after the choice, next to the chosen arms. `alpha_soft` is the mean predicted
# alpha on the truly soft pixels ($0 < \alpha < 1$; `alpha_soft_true` is their true mean): a collapse toward a
# constant matte shows there first.

# %%
paper_name = f"known+ddc lambda={PAPER_WEIGHT:g}"
sweep_variants = {paper_name: tuning.chosen["known+ddc"] | {"ddc_weight": float(PAPER_WEIGHT)},
                  "known+ddc": tuning.chosen["known+ddc"], "fine": tuning.chosen["fine"]}
sweep_seeds = seeds[:1]
sweep_grid = run_grid(base, sweep_variants, sweep_seeds, runs, eval_sets={own_set: eval_sets[own_set]},
                      protocols=("whole",), jobs=jobs, per_image=True)
sweep = sweep_grid.runs
sweep_table = mean_spread(sweep, by="variant",
                          metrics=["sad", "mse", "sad_fg", "sad_bg", "sad_soft", "alpha_soft", "alpha_soft_true"])
write_table(sweep_table, out / "ddc_weight",
            caption=f"Known + lambda DDC at the paper's lambda next to the chosen arms, {own_set} test set, whole image, "
                    f"seed {sweep_seeds}.")
sweep_table

# %% [markdown]
# ## Predictions side by side
#
# One held-out image of each evaluation set, the prediction of every supervision (first seed) next to the truth.

# %%
first_seed = runs_of_seed(scores, seeds[0])
models = {variant: load_model(first_seed[variant] / "checkpoint.pt") for variant in VARIANTS}
save_figure(show_images(prediction_rows(eval_sets, models)), out / "predictions")

# %% [markdown]
# ## What the networks predict
#
# Mean predicted alpha and the share of grey pixels ($0.2 < \alpha < 0.8$) on the first ten images of each set (first
# seed), next to the truth's: it tells a network that misses the foreground from one that hedges, which SAD alone does
# not.

# %%
predicted = pd.concat([prediction_statistics(models, dataset, count=10).assign(eval_set=set_name)
                       for set_name, dataset in eval_sets.items()], ignore_index=True)
write_table(predicted, out / "what_networks_predict",
            caption="Mean predicted alpha and share of grey pixels (0.2 < alpha < 0.8), first ten images of each set, first seed.")
predicted

# %% [markdown]
# ## Findings
#
# Each claim compares two arms paired by seed and test image (whole-image SAD): the relative difference of their mean
# errors with a 95 % bootstrap interval over the test images. The paper's bar, "comparable to fine labels", is a
# non-inferiority test: the interval's upper end below +15 %. A claim is tested only where its reference arm is a
# working matting network (the gate: it beats trimap-as-alpha and known-only on that set, and on real images its
# unknown-region SAD is within 1.5 x closed-form matting's); elsewhere it is "not testable", with the gate's numbers.

# %%
claims = []
for set_name in eval_sets:
    claims += gated_claims(per_image, set_name, [
        comes_within("known+ddc", "fine", f"Trimap-only training (known + DDC) comes within 15 % of fine labels "
                                          f"({set_name}, whole-image SAD)"),
        beats("known+ddc", "known", f"Trimap-only training (known + DDC) beats the known loss alone "
                                    f"({set_name}, whole-image SAD)")],
        real=set_name != own_set, profile=PROFILE)
claims += gated_claims(per_image, own_set, [
    beats("known+ddc", "known+dc", f"The directional loss (DDC) beats the undirected one (DC) ({own_set}, whole-image SAD)"),
    beats("known+scaled-ddc", "known+ddc", f"Scaled DDC (our extension) beats DDC ({own_set}, whole-image SAD)")],
    real=False, profile=PROFILE)
if tuning.chosen["known+ddc"].get("ddc_weight") != PAPER_WEIGHT:
    # Paired on the paper's-weight grid (own set, seed 0), gated on the main grid's fine-label arm.
    claims += gated_claims(per_image, own_set, [
        comes_within(paper_name, "fine", f"With the paper's weight lambda = {PAPER_WEIGHT:g}, trimap-only training "
                                         f"comes within 15 % of fine labels ({own_set}, whole-image SAD)")],
        real=False, profile=PROFILE, paired_on=sweep_grid.images)
write_claims(out, claims)
claims_frame(claims)

# %% [markdown]
# ## Reading the numbers
#
# *(The numbers below are formatted from this run's tables and claims, so they cannot drift from them; the cell also
# checks every number it quotes against the tables. The sentences were written after the committed `cpu` run.)*

# %%
means = scores.groupby(["eval_set", "protocol", "variant"], sort=False)[["sad", "sad_bg"]].mean()
base_means = baselines.runs.set_index(["eval_set", "protocol", "variant"])["sad"]
own_w, own_u = means.loc[(own_set, "whole")], means.loc[(own_set, "unknown")]
by_claim = {(c["candidate"], c["reference"], c["eval_set"]): c for c in claims}
main = by_claim["known+ddc", "fine", own_set]
versus_known = by_claim["known+ddc", "known", own_set]
versus_dc = by_claim["known+ddc", "known+dc", own_set]
versus_scaled = by_claim["known+scaled-ddc", "known+ddc", own_set]
gates = {name: by_claim["known+ddc", "fine", name]["gate"]["passed"] for name in eval_sets}
untestable = [name for name, passed in gates.items() if passed is False]
chosen = choice.set_index("arm")
collapse = sweep[sweep["variant"] == paper_name][["sad", "alpha_soft", "alpha_soft_true"]].mean()
recipe_rows = [f"{arm}: {own_w.loc[f'{arm} (recipe)', 'sad']:.3f} untuned against {own_w.loc[arm, 'sad']:.3f} tuned"
               for arm in ("fine", "known+ddc") if f"{arm} (recipe)" in own_w.index]
fine_leads_band = own_u.loc["fine", "sad"] < own_u.loc["known+ddc", "sad"]
READING = f"""
**What validation chose.** Fine labels: {chosen.loc['fine', 'chosen']}; known + DDC: {chosen.loc['known+ddc', 'chosen']};
known + scaled DDC: {chosen.loc['known+scaled-ddc', 'chosen']}; known + DC: {chosen.loc['known+dc', 'chosen']};
known only: {chosen.loc['known', 'chosen']}; trimap-L1:
{chosen.loc['trimap-l1', 'chosen']} (validation SAD {chosen.loc['fine', 'validation sad']:.3f},
{chosen.loc['known+ddc', 'validation sad']:.3f}, {chosen.loc['known+scaled-ddc', 'validation sad']:.3f},
{chosen.loc['known+dc', 'validation sad']:.3f},
{chosen.loc['known', 'validation sad']:.3f}, {chosen.loc['trimap-l1', 'validation sad']:.3f}; every setting is in the
tuning table). {("On the test set the untuned recipe gives " + "; ".join(recipe_rows) + ".") if recipe_rows else
"Both central arms chose their recipe."}

**In distribution ({own_set} test composites, {len(seeds)} seeds, whole-image SAD).** Fine labels
{own_w.loc['fine', 'sad']:.3f}, known + DDC {own_w.loc['known+ddc', 'sad']:.3f}, known + scaled DDC
{own_w.loc['known+scaled-ddc', 'sad']:.3f}, known + DC
{own_w.loc['known+dc', 'sad']:.3f}, the known loss alone {own_w.loc['known', 'sad']:.3f}, regressing the trimap
{own_w.loc['trimap-l1', 'sad']:.3f}; trimap as alpha {base_means[own_set, 'whole', 'trimap as alpha']:.3f}, closed-form
matting {base_means[own_set, 'whole', 'closed-form']:.3f}. Against the tuned fine-label network, trimap-only training is
"{main['status']}" for the paper's bar (effect {main['effect']:+.1%}, interval {main['ci_low']:+.1%} to
{main['ci_high']:+.1%}; gate {"passed" if main['gate']['passed'] else "failed"}); against the known loss alone
"{versus_known['status']}" ({versus_known['effect']:+.1%}, {versus_known['ci_low']:+.1%} to {versus_known['ci_high']:+.1%});
against DC "{versus_dc['status']}" ({versus_dc['effect']:+.1%}, {versus_dc['ci_low']:+.1%} to {versus_dc['ci_high']:+.1%}).
Scaled DDC against DDC: "{versus_scaled['status']}" ({versus_scaled['effect']:+.1%}, {versus_scaled['ci_low']:+.1%} to
{versus_scaled['ci_high']:+.1%}).
On the transition band alone (unknown-region protocol) {"fine labels lead" if fine_leads_band else "known + DDC leads"}:
{own_u.loc['fine', 'sad']:.3f} against {own_u.loc['known+ddc', 'sad']:.3f}. The fine network's whole-image error on the
known background is SAD-BG {own_w.loc['fine', 'sad_bg']:.2f} (known + DDC {own_w.loc['known+ddc', 'sad_bg']:.2f}).

**The paper's weight.** With $\\lambda = {PAPER_WEIGHT:g}$ at the chosen learning rate the mean predicted alpha on the
soft pixels is {collapse['alpha_soft']:.2f} (truth {collapse['alpha_soft_true']:.2f}) and whole-image SAD
{collapse['sad']:.2f}; notebook 02 prices why a flat matte is cheap under DDC.

**Real foregrounds and photos.** {("On " + ", ".join(untestable) + " the fine-label network fails its gate, so the "
"claims there are not testable. ") if untestable else "The fine-label network passes its gate on every set. "}Trained on
synthetic composites, the networks predict far too little alpha on real foregrounds (see "What the networks
predict"); the real-image track trains on real foregrounds instead.
"""
show_reading(READING, means, base_means, collapse, sweep_table, summary, choice, pd.DataFrame(claims),
             where="notebook 10's reading", profile=PROFILE, written_for="cpu")
