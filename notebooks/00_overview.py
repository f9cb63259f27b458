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
# # 00 · Overview: training matting models without alpha labels
#
# **The paper's claims.** Liu et al. (AAAI 2025) train deep matting networks from coarse labels instead of alpha mattes.
# With a trimap as the only label, a *known loss* fixes alpha where the trimap is certain and a *directional distance
# consistency* (DDC) loss propagates it into the unknown band: between each pixel and its most similar neighbours (in
# colour, in an 11 x 11 window) alpha may change at most as much as the colour does. The network sees only the image.
# They report that such trimap-only training comes close to training with fine alpha labels (and sometimes looks better
# than the human-made ground truth), that the directional form beats the undirected DC loss, and that it works from
# other coarse labels too.
#
# **What this study does.** Each notebook tests one claim at a scale that runs on two CPU cores (the `cpu` profile,
# whose results are committed under `results/`) and can be rerun at the paper's scale on a GPU (`paper` profile):
# `01` shows the data and labels; `02` the DDC loss as a prior without any network; `10` the main claim (one network,
# five supervisions, several seeds, scored on composites and real photos); `20` the window and neighbour count of DDC;
# `30` which coarse labels are enough; `40` trimap-only training against fine labels made with imperfect alpha;
# `50` the paper's own set-up, laid out and dry-run. Every number names its metric protocol (whole image or unknown
# region).
#
# **How to rerun anything.**
#
# ```bash
# make study                                                # every notebook, cpu profile
# .venv/bin/python -m mattinglib.study --profile smoke      # seconds per notebook
# .venv/bin/python -m mattinglib.study --profile cpu --only 02_ddc_loss -p TRIMAP '"Trimap2"'
# ```
#
# A run is cached by its parameters and the code version; only what changed is redone.
#
# The table below is read back from the other notebooks' `claims.json` files under `results/`, not typed in.

# %%
from pathlib import Path

import pandas as pd

from mattinglib.study import collect_claims
from mattinglib.study.tables import read_table, write_table

# %% tags=["parameters"]
PROFILE = "cpu"
SEED = 0
OUTPUT_DIR = "results/00_overview"

# %%
out = Path(OUTPUT_DIR)
out.mkdir(parents=True, exist_ok=True)
results_dir = out.parent  # the other notebooks' results sit beside this one's
claims = pd.DataFrame(collect_claims(results_dir))
if claims.empty:
    claims = pd.DataFrame(columns=["notebook", "claim", "status", "effect", "ci_low", "ci_high", "n_seeds", "n_images",
                                   "gate", "finding"])
else:
    claims["gate"] = claims["gate"].map(lambda gate: {True: "passed", False: "failed", None: "none"}[gate["passed"]])
    claims = claims[["notebook", "claim", "status", "effect", "ci_low", "ci_high", "n_seeds", "n_images", "gate",
                     "finding"]]
write_table(claims, out / "headline", caption=f"Every claim tested, from the {PROFILE} profile's results.")
claims

# %% [markdown]
# ## The main table
#
# Notebook 10's summary, whole-image protocol, read back from `results/10_fine_vs_trimap/summary.csv` (mean ± std
# over seeds; SAD in thousands).

# %%
main_table = results_dir / "10_fine_vs_trimap" / "summary.csv"
if main_table.is_file():
    summary = read_table(main_table)
    display_columns = ["eval_set", "variant", "sad", "mse", "grad", "conn", "sad_soft"]
    summary = summary[summary["protocol"] == "whole"][display_columns]
    write_table(summary, out / "main_table", caption="Notebook 10, whole-image protocol (mean ± std over seeds).")
else:
    summary = None
    print(f"{main_table} is not there yet: run notebook 10 first.")
summary
