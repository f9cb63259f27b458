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
# `fine` (L1 + Laplacian L1 to the true alpha), `known+ddc` (the paper), `known+dc`, `known`, `trimap-l1`. Several
# seeds each. Every network sees the image only. Scored on held-out synthetic composites, on composites of held-out
# real foregrounds (alphamatting.com scenes no network trained on) over held-out photos, and on those held-out real
# photos themselves, under both metric protocols (whole image and unknown region).
#
# **The regime, and how it was found.** While planning, a 1 M-parameter CNN trained on *whole* composites shrunk to
# 96 px with $\lambda = 10$ gave the opposite of the claim (SAD 2.30 against 0.53 with fine labels). Our first
# session's exploration (one seed each, 96 px crops of 128 px composites, 1,000 steps, the width-16 U-Net; commands
# in the closing note of issue 3) measured, whole-image SAD on 50 held-out composites: fine 1.66, known only 2.04,
# known + 10 DDC 3.21 (the network collapses to alpha ≈ 0, foreground included), the same with a warm-up ramp 3.39,
# known + 3 DDC 2.25, **known + 1 DDC 1.43**, and a class-balanced known loss with $\lambda = 10$ collapsed to the other
# constant (SAD 5.6 at step 500). Notebook 02 explains why: on small synthetic crops a constant matte costs *less*
# DDC than any slightly blurred matte, so a network that cannot draw exact strands is pushed to draw none; the known
# loss must outweigh that pull, which at our scale takes $\lambda \approx 1$. The `cpu` profile therefore uses
# **$\lambda = 1$** (64 px crops of 96 px composites, 600 steps; this notebook reruns $\lambda$ = 3 and 10 below so
# the choice is visible); the `paper` profile keeps the paper's $\lambda = 10$. The weight was chosen on the
# synthetic held-out set; the real-foreground composites and the real photos were not looked at when choosing, so
# they are the clean test.

# %%
from pathlib import Path

import pandas as pd

from mattinglib.study.claims import write_claims
from mattinglib.evaluate import prediction_statistics
from mattinglib.study.evalsets import evaluation_sets, runs_root
from mattinglib.study.figures import plot_setting_bars, prediction_rows
from mattinglib.study.findings import claim_better, claim_within, gate_for, select
from mattinglib.study.grid import run_grid, score_baselines
from mattinglib.study.plotting import save_figure, show_images, use_style
from mattinglib.study.profiles import base_config, profile_seeds
from mattinglib.study.prose import show_reading
from mattinglib.study.tables import mean_spread, write_table
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
DDC_WEIGHT = None      # lambda of known + lambda DDC (and DC); None: the profile's
SWEEP_WEIGHTS = [3.0, 10.0]
SWEEP_SEEDS = [0]
MAX_SCENES = None      # held-out real photos scored (None: all of them)
CONFIG_CHANGES = {}    # TrainConfig keys changed for every run, e.g. {"backbone_checkpoint": "dino_vits16.pth"}

# %%
base = base_config(PROFILE, **({"data_root": DATA_ROOT} if DATA_ROOT else {}), **CONFIG_CHANGES)
if DDC_WEIGHT is not None:
    base = base.replace(ddc_weight=DDC_WEIGHT)
seeds = profile_seeds(PROFILE, SEEDS)
runs = runs_root(PROFILE, RUNS_DIR)
out = Path(OUTPUT_DIR)
out.mkdir(parents=True, exist_ok=True)
VARIANTS = {
    "fine": {"supervision": "fine"},
    "known+ddc": {"supervision": "known+ddc"},
    "known+dc": {"supervision": "known+dc"},
    "known": {"supervision": "known"},
    "trimap-l1": {"supervision": "trimap-l1"},
}
eval_sets = evaluation_sets(base, DATA_ROOT, DOWNLOAD, max_scenes=2 if PROFILE == "smoke" else MAX_SCENES)
print(f"lambda = {base.ddc_weight}, {base.steps} steps of batch {base.batch_size}, {base.crop_size} px crops, "
      f"model {base.model} (width {base.model_width}); seeds {seeds}")
own_set = next(iter(eval_sets))  # the profile's own held-out set: synthetic composites, or AM-2K validation
print({name: len(dataset) for name, dataset in eval_sets.items()})

# %% [markdown]
# ## Train the grid and score every run
#
# Each (supervision, seed) trains into its own folder under the profile's runs folder, named after its config: a
# finished run is reused (notebooks 30 and 40 reuse this notebook's fine-label and known + DDC runs), an interrupted
# one resumes from its last checkpoint.

# %%
grid = run_grid(base, VARIANTS, seeds, runs, eval_sets=eval_sets, jobs=JOBS, per_image=True)
scores = grid.runs
write_table(scores.drop(columns="run_dir"), out / "scores_per_run")
summary = mean_spread(scores, by=["eval_set", "protocol", "variant"],
                      metrics=["sad", "mse", "grad", "conn", "sad_fg", "sad_bg", "sad_soft"])
write_table(summary, out / "summary",
            caption=f"Mean ± std over {len(seeds)} seed(s) ({PROFILE} profile, lambda = {base.ddc_weight}). "
                    "SAD / Conn in thousands, whole-image Grad in tens, unknown-region Grad in thousands; whole = AM-2K protocol, unknown = alphamatting.com protocol; "
                    "sad_fg / sad_bg / sad_soft: whole-image SAD on the trimap's FG, BG and the truly soft pixels.")
summary[summary["protocol"] == "whole"]

# %% [markdown]
# ## The floor and the classical matte
#
# Trimap-as-alpha (½ wherever unsure) is the floor every network must beat; closed-form matting given the same test
# trimap is the classical matte a working network should come near. They enter every claim's competence gate.

# %%
baselines = score_baselines(eval_sets)
write_table(baselines.runs, out / "baselines",
            caption="Trimap as alpha and closed-form matting given the test trimap, mean over each set's images.")
per_image = pd.concat([grid.images, baselines.images], ignore_index=True)
baselines.runs[["eval_set", "protocol", "variant", "sad", "mse", "grad"]]

# %%
whole = scores[scores["protocol"] == "whole"]
for set_name in eval_sets:
    fig = plot_setting_bars(whole[whole["eval_set"] == set_name], "sad", by="variant",
                            title=f"whole-image SAD, {set_name} ({len(seeds)} seeds)")
    save_figure(fig, out / f"sad_{set_name.replace(' ', '_')}")

# %% [markdown]
# ## The DDC weight, rerun
#
# The paper's $\lambda = 10$ and an intermediate $\lambda = 3$, same model and schedule, on the profile's own held-out set,
# next to the main grid's $\lambda$. `alpha_soft` is the mean predicted alpha on the truly soft pixels
# ($0 < \alpha < 1$; `alpha_soft_true` is their true mean): a collapse toward a constant matte shows there first.

# %%
sweep_variants = {f"known+ddc lambda={w:g}": {"supervision": "known+ddc", "ddc_weight": float(w)} for w in SWEEP_WEIGHTS}
sweep_variants[f"known+ddc lambda={base.ddc_weight:g}"] = {"supervision": "known+ddc"}
sweep_variants["fine"] = {"supervision": "fine"}
sweep_seeds = profile_seeds(PROFILE, SWEEP_SEEDS)
sweep_grid = run_grid(base, sweep_variants, sweep_seeds, runs, eval_sets={own_set: eval_sets[own_set]},
                      protocols=("whole",), jobs=JOBS, per_image=True)
sweep = sweep_grid.runs
sweep_table = mean_spread(sweep, by="variant",
                          metrics=["sad", "mse", "sad_fg", "sad_bg", "sad_soft", "alpha_soft", "alpha_soft_true"])
write_table(sweep_table, out / "ddc_weight",
            caption=f"Known + lambda DDC for several lambda, {own_set} held-out set, whole image, seeds {sweep_seeds}.")
sweep_table

# %% [markdown]
# ## Predictions side by side
#
# One held-out image of each evaluation set, the prediction of every supervision (first seed) next to the truth.

# %%
first_seed = scores[(scores["seed"] == seeds[0])].drop_duplicates("variant").set_index("variant")["run_dir"]
models = {variant: load_model(Path(first_seed[variant]) / "checkpoint.pt") for variant in VARIANTS}
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
    real = set_name != own_set
    in_set = select(per_image, eval_set=set_name, protocol="whole")
    common = dict(eval_set=set_name, profile=PROFILE)
    claims.append(claim_within(
        in_set, "known+ddc", "fine", gate=gate_for(per_image, "fine", set_name, real=real), **common,
        claim=f"Trimap-only training (known + DDC) comes within 15 % of fine labels ({set_name}, whole-image SAD)"))
    claims.append(claim_better(
        in_set, "known+ddc", "known", gate=gate_for(per_image, "known", set_name, real=real), **common,
        claim=f"Trimap-only training (known + DDC) beats the known loss alone ({set_name}, whole-image SAD)"))
own = select(per_image, eval_set=own_set, protocol="whole")
claims.append(claim_better(
    own, "known+ddc", "known+dc", gate=gate_for(per_image, "known+dc", own_set, real=False),
    eval_set=own_set, profile=PROFILE,
    claim=f"The directional loss (DDC) beats the undirected one (DC) ({own_set}, whole-image SAD)"))
paper_weight = "known+ddc lambda=10"
if paper_weight in set(sweep["variant"]):
    sweep_images = sweep_grid.images
    claims.append(claim_within(
        sweep_images, paper_weight, "fine", gate=gate_for(per_image, "fine", own_set, real=False),
        eval_set=own_set, profile=PROFILE,
        claim=f"With the paper's weight lambda = 10, trimap-only training comes within 15 % of fine labels "
              f"({own_set}, whole-image SAD)"))
write_claims(out, claims)
pd.DataFrame(claims)[["claim", "status", "effect", "ci_low", "ci_high", "n_seeds", "n_images"]]

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
gates = {name: by_claim["known+ddc", "fine", name]["gate"]["passed"] for name in eval_sets}
untestable = [name for name, passed in gates.items() if passed is False]
collapse = sweep[sweep["variant"] == "known+ddc lambda=10"][["sad", "alpha_soft", "alpha_soft_true"]].mean()
READING = f"""
**In distribution ({own_set} composites, {len(seeds)} seeds, whole-image SAD).** Fine labels
{own_w.loc['fine', 'sad']:.3f}, known + {base.ddc_weight:g} DDC {own_w.loc['known+ddc', 'sad']:.3f}, known + DC
{own_w.loc['known+dc', 'sad']:.3f}, the known loss alone {own_w.loc['known', 'sad']:.3f}, regressing the trimap
{own_w.loc['trimap-l1', 'sad']:.3f}; trimap as alpha {base_means[own_set, 'whole', 'trimap as alpha']:.3f}, closed-form
matting {base_means[own_set, 'whole', 'closed-form']:.3f}. The fine-label network is a weak reference: its mean is level
with known-only training, and its extra whole-image error is background (SAD-BG {own_w.loc['fine', 'sad_bg']:.2f} against
{own_w.loc['known+ddc', 'sad_bg']:.2f} for known + DDC). Against it, trimap-only training is "{main['status']}" for the
paper's bar (effect {main['effect']:+.1%}, interval {main['ci_low']:+.1%} to {main['ci_high']:+.1%}). On the transition
band alone (unknown-region protocol) fine labels lead: {own_u.loc['fine', 'sad']:.3f} against
{own_u.loc['known+ddc', 'sad']:.3f}. DDC and DC stay level (see their claim): the directional form's advantage does not
show at the weight our networks tolerate.

**The paper's weight collapses.** With $\\lambda = 10$ the mean predicted alpha on the soft pixels is
{collapse['alpha_soft']:.2f} (truth {collapse['alpha_soft_true']:.2f}) and whole-image SAD {collapse['sad']:.2f};
notebook 02 prices why: a flat matte costs less DDC than a slightly blurred one.

**Real foregrounds and photos.** {("On " + ", ".join(untestable) + " the fine-label network fails its gate, so the "
"claims there are not testable. ") if untestable else "The fine-label network passes its gate on every set. "}Trained on
synthetic composites, the networks predict far too little alpha on real foregrounds (see "What the networks
predict"); the real-image track (the next issue) trains on real foregrounds instead.
"""
show_reading(READING, means, base_means, collapse, sweep_table, summary, pd.DataFrame(claims), where="notebook 10's reading",
             profile=PROFILE, written_for="cpu")
