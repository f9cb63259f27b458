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
# # 20 · The neighbourhood of DDC: window size and number of neighbours
#
# **Question.** DDC compares every pixel with the $k$ pixels of its $K \times K$ window whose colours are closest
# (docs/method.md; the paper's default is $K = 11$, $k = 11$). How much does the trimap-only network depend on these two
# choices? A small window propagates alpha only a few pixels into the unknown band, so a wide band stays
# unsupervised; a large window compares pixels that may belong to different objects. Few neighbours constrain little;
# many neighbours include dissimilar pixels whose large colour distance allows almost any alpha change.
#
# **Set-up.** The model and schedule of notebook 10, and its `known+ddc` arm at the setting (learning rate,
# $\lambda$) chosen on the validation split there (the same search, rerun from the shared runs), changing only
# the selection: window $K \in \{3, 5, 7, 11, 15, 21\}$ with $k = K$, then $k \in \{3, 6, 11, 22, 44\}$ at $K = 11$.
# Several seeds; the run with $K = k = 11$ is notebook 10's `known+ddc` run, reused. Scored like notebook 10.
# Notebook 02 asked the same question of DDC as a prior without a network (window 5 against 11 on the real scenes).

# %%
from pathlib import Path

import pandas as pd

from mattinglib.study.claims import write_claims
from mattinglib.study.evalsets import evaluation_sets, runs_root
from mattinglib.study.figures import plot_metric_grid
from mattinglib.study.findings import claim_within, gate_for, mean_by, select
from mattinglib.study.grid import run_grid, score_baselines
from mattinglib.study.plotting import save_figure, use_style
from mattinglib.study.profiles import base_config, profile_jobs, profile_seeds
from mattinglib.study.prose import show_reading
from mattinglib.study.tables import mean_spread, write_table
from mattinglib.study.tuning import CORE_ARMS, describe_choice, tune

use_style()

# %% tags=["parameters"]
PROFILE = "cpu"
OUTPUT_DIR = "results/20_neighbourhood"
RUNS_DIR = None        # default: $MATTINGLIB_RUNS or runs/, then the profile's name
DATA_ROOT = None       # folder holding alphamatting-lowres/ (default: $MATTINGLIB_DATA)
DOWNLOAD = False
SEEDS = [0, 1]
JOBS = 2
# windows K (with k = K), then neighbour counts k at K = DEFAULT_WINDOW
WINDOWS = [3, 5, 7, 11, 15, 21]
TOPKS = [3, 6, 11, 22, 44]
DEFAULT_WINDOW = 11
DEFAULT_TOPK = 11
NEAR_BEST_TOLERANCE = 0.10  # "as good as the best": within 10 % (paired interval's upper end)
MAX_SCENES = None      # held-out real photos scored (None: all of them)
SCORE_REAL_PHOTOS = False  # notebook 10 shows that networks trained on composites are lost on real photos
CONFIG_CHANGES = {}    # TrainConfig keys changed for every run, e.g. {"backbone_checkpoint": "dino_vits16.pth"}

# %%
profile_base = base_config(PROFILE, **({"data_root": DATA_ROOT} if DATA_ROOT else {}), **CONFIG_CHANGES)
seeds = profile_seeds(PROFILE, SEEDS)
jobs = profile_jobs(PROFILE, JOBS)  # smoke: one run at a time, in this process
runs = runs_root(PROFILE, RUNS_DIR)
# Notebook 10's tuning on the validation split (its runs are shared: nothing retrains).
tuning = tune(profile_base, CORE_ARMS, runs, jobs=jobs)
base = profile_base.replace(**tuning.chosen["known+ddc"])
out = Path(OUTPUT_DIR)
out.mkdir(parents=True, exist_ok=True)
window_variants = {f"K={w}, k={w}": {"kernel_size": w, "topk": w} for w in WINDOWS}
topk_variants = {f"K={DEFAULT_WINDOW}, k={k}": {"kernel_size": DEFAULT_WINDOW, "topk": k} for k in TOPKS}
eval_sets = evaluation_sets(base, DATA_ROOT, DOWNLOAD, max_scenes=2 if PROFILE == "smoke" else MAX_SCENES)
print(f"known + DDC at lr {base.lr:g}, lambda {base.ddc_weight:g} (chosen on validation), {base.steps} steps, "
      f"{base.crop_size} px crops; seeds {seeds}")
describe_choice(tuning)
if not SCORE_REAL_PHOTOS:
    eval_sets.pop("real photos", None)
own_set = next(iter(eval_sets))  # the profile's own held-out set: synthetic composites, or AM-2K validation
print({name: len(dataset) for name, dataset in eval_sets.items()})

# %% [markdown]
# ## Train and score

# %%
grid = run_grid(base, window_variants | topk_variants, seeds, runs, eval_sets=eval_sets, jobs=jobs, per_image=True)
scores = grid.runs
# The competence gates' control and baselines: known-only (notebook 10's runs), trimap as alpha, closed-form.
control = run_grid(profile_base, {"known": tuning.chosen["known"]}, seeds, runs, eval_sets=eval_sets, jobs=jobs,
                   per_image=True)
baselines = score_baselines(eval_sets, runs_root=runs)
per_image = pd.concat([grid.images, control.images, baselines.images], ignore_index=True)
configs = {**{name: (w, w) for name, w in zip(window_variants, WINDOWS)},
           **{name: (DEFAULT_WINDOW, k) for name, k in zip(topk_variants, TOPKS)}}
scores["window"] = scores["variant"].map(lambda name: configs[name][0])
scores["k"] = scores["variant"].map(lambda name: configs[name][1])
write_table(scores.drop(columns="run_dir"), out / "scores_per_run")
summary = mean_spread(scores, by=["eval_set", "protocol", "variant"], metrics=["sad", "mse", "grad", "conn", "sad_soft"])
write_table(summary, out / "summary",
            caption=f"known + DDC, mean ± std over {len(seeds)} seed(s), {PROFILE} profile; SAD / Conn in thousands, whole-image Grad in tens, unknown-region Grad in thousands.")
summary[(summary["protocol"] == "whole")]

# %%
whole = scores[scores["protocol"] == "whole"]
by_window = whole[whole["variant"].isin(list(window_variants))]
by_topk = whole[whole["variant"].isin(list(topk_variants))]
fig = plot_metric_grid(whole, {"window K (k = K)": (by_window, "window"),
                               f"neighbours k (K = {DEFAULT_WINDOW})": (by_topk, "k")},
                       log_columns=[f"neighbours k (K = {DEFAULT_WINDOW})"])
save_figure(fig, out / "sad_vs_neighbourhood")

# %% [markdown]
# ## Findings
#
# On the profile's own held-out set only: notebook 10 shows that networks trained on composites cannot be told
# apart on the real foregrounds at the `cpu` scale, so claims there would be noise (their numbers are in the tables).
# Is the paper's default within 10 % of the best setting of each sweep (a non-inferiority test on the paired
# interval, whole-image SAD)? When the default is the best, it is compared with the runner-up. Each claim is gated on
# the best setting's network: it must beat trimap-as-alpha and known-only.

# %%
claims = []
for set_name in [own_set]:  # the other sets cannot tell settings apart at the cpu scale (notebook 10)
    in_set = select(per_image, eval_set=set_name, protocol="whole")
    for sweep, default in ((window_variants, f"K={DEFAULT_WINDOW}, k={DEFAULT_WINDOW}"),
                           (topk_variants, f"K={DEFAULT_WINDOW}, k={DEFAULT_TOPK}")):
        # The best setting is picked on this same set: the comparison flatters it (the winner's curse).
        best = mean_by(in_set[in_set["variant"].isin(list(sweep))], "variant").idxmin()
        what = "window K (k = K)" if sweep is window_variants else f"neighbour count k (K = {DEFAULT_WINDOW})"
        if best == default:
            best = mean_by(in_set[in_set["variant"].isin([v for v in sweep if v != default])], "variant").idxmin()
            what += ", against the runner-up"
        claims.append(claim_within(
            in_set, default, best, tolerance=NEAR_BEST_TOLERANCE, gate=gate_for(per_image, best, set_name, real=False),
            eval_set=set_name, profile=PROFILE,
            claim=f"The default {default} is within {NEAR_BEST_TOLERANCE:.0%} of the best {what} ({set_name}, "
                  "whole-image SAD)"))
write_claims(out, claims)
pd.DataFrame(claims)[["claim", "status", "effect", "ci_low", "ci_high", "n_seeds", "n_images"]]

# %% [markdown]
# ## Reading the numbers
#
# *(The numbers below are formatted from this run's tables and claims, so they cannot drift from them; the cell also
# checks every number it quotes against the tables. The sentences were written after the committed `cpu` run.)*

# %%
own_whole = whole[whole["eval_set"] == own_set].groupby("variant", sort=False)[["sad", "grad"]].agg(["mean", "std"])
sad, grad = own_whole["sad"]["mean"], own_whole["grad"]["mean"]
windows = ", ".join(f"{sad[name]:.2f} ($K = {w}$)" for name, w in zip(window_variants, WINDOWS))
counts = ", ".join(f"{sad[name]:.2f} ($k = {k}$)" for name, k in zip(topk_variants, TOPKS))
spread = own_whole["sad"]["std"]
known_mean = select(per_image, eval_set=own_set, protocol="whole", variant="known")["sad"].mean()
statuses = "; ".join(f"{c['status']} ({c['effect']:+.1%}, {c['ci_low']:+.1%} to {c['ci_high']:+.1%})" for c in claims)
READING = f"""
**{own_set.capitalize()} composites ({len(seeds)} seeds, known + DDC at lr {base.lr:g}, $\\lambda = {base.ddc_weight:g}$,
the setting validation chose in notebook 10).** Whole-image SAD by window: {windows}; by neighbour count at
$K = {DEFAULT_WINDOW}$: {counts}. Known-only training, the control: {known_mean:.2f}. Seed spreads run from
{spread.min():.2f} to {spread.max():.2f}, as large as most gaps, so the findings test "within 10 % of the best" on the
paired interval (and picking the best on the test set itself flatters it): {statuses}. The gradient error goes from
{grad[f"K={WINDOWS[0]}, k={WINDOWS[0]}"]:.2f} at $K = {WINDOWS[0]}$ to {grad[f"K={WINDOWS[-1]}, k={WINDOWS[-1]}"]:.2f} at
$K = {WINDOWS[-1]}$.

**Real-foreground composites:** as notebook 10 shows, networks trained on synthetic composites do not find real
foregrounds, so nothing about the neighbourhood can be read there at this scale; the findings leave this set out and
its numbers stay in the tables.
"""
show_reading(READING, own_whole, summary, known_mean, pd.DataFrame(claims), where="notebook 20's reading",
             profile=PROFILE, written_for="cpu")
