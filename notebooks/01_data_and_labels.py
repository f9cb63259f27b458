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
# # 01 · Data and labels
#
# What the networks of this study see. Three kinds of images, each with its exact alpha so that every prediction can be
# scored:
#
# 1. **Synthetic composites**, generated on the fly from a seed: procedural foregrounds (hard-edged bodies, thin
#    anti-aliased hair strands, semi-transparent veils) textured with crops of natural photos, over other photos:
#    $I = \alpha F + (1-\alpha) B$ exactly. The photos are those scikit-image and matplotlib ship, so this runs anywhere;
#    train and test use disjoint photos and disjoint seeds.
# 2. **Real-foreground composites**: the foregrounds of the alphamatting.com scenes (colour estimated from the image and
#    the true alpha with pymatting's `estimate_foreground_ml`) over held-out photos; split by scene.
# 3. **The 27 real alphamatting.com training scenes** with their true alpha and two trimaps each.
#
# And the **coarse labels** a user would draw instead of alpha: trimaps of several band widths, the public release's
# random trimaps, coarse binary masks (thresholded and morphologically damaged alpha, with an unknown band around the
# boundary) and scribbles (a few strokes inside foreground and background, everything else unlabelled).

# %%
from pathlib import Path

import numpy as np
import pandas as pd

from mattinglib.data import RealForegroundCompositeDataset, SyntheticMattingDataset, load_photo_pool, split_photo_pool
from mattinglib.data.alphamatting import open_alphamatting
from mattinglib.evaluate import sample_arrays
from mattinglib.build import TEST_FRACTION, TEST_SEED
from mattinglib.environment import cache_dir
from mattinglib.labels import (describe_label, make_coarse_mask, make_release_trimap, make_scribbles, make_trimap,
                               mask_to_trimap)
from mattinglib.study.plotting import save_figure, show_images, use_style
from mattinglib.study.tables import write_table

use_style()

# %% tags=["parameters"]
PROFILE = "cpu"
SEED = 0
OUTPUT_DIR = "results/01_data_and_labels"
DATA_ROOT = None
DOWNLOAD = False
N_EXAMPLES = 4

# %%
SIZE = {"smoke": 96, "cpu": 256, "paper": 512}[PROFILE]
N_STATS = {"smoke": 4, "cpu": 100, "paper": 500}[PROFILE]
out = Path(OUTPUT_DIR)
out.mkdir(parents=True, exist_ok=True)
photos = load_photo_pool()
print(f"{len(photos)} bundled photos; composites of {SIZE} x {SIZE} px")

# %% [markdown]
# ## Synthetic composites
#
# Each row: the composite, its alpha, the test trimap drawn from that alpha, the foreground colour.

# %%
synthetic = SyntheticMattingDataset(size=SIZE, length=N_EXAMPLES, seed=SEED, split="test", photos=photos)
rows = []
for i in range(N_EXAMPLES):
    s = synthetic[i]
    rows.append([("image", s["image"], "image"), ("alpha", s["alpha"], "alpha"), ("trimap", s["trimap"], "trimap"),
                 ("foreground", s["fg"], "image")])
save_figure(show_images(rows), out / "synthetic_composites")

# %% [markdown]
# ## Real scenes and real-foreground composites
#
# The real scenes are read from `DATA_ROOT` (or `$MATTINGLIB_DATA`); where they are absent this section says so and the
# rest of the study runs on the synthetic composites.

# %%
scenes = open_alphamatting(DATA_ROOT, download=DOWNLOAD)
if scenes is not None:
    stats = []
    for i in range(len(scenes)):
        image, alpha, trimap1 = sample_arrays(scenes[i])
        stats.append({"scene": scenes.scene_names[i], "height": image.shape[0], "width": image.shape[1],
                      "unknown_trimap1": float((trimap1 == 0.5).mean()),
                      "soft_alpha": float(((alpha > 0) & (alpha < 1)).mean())})
    write_table(pd.DataFrame(stats), out / "alphamatting_scenes",
                caption="The 27 alphamatting.com training scenes: size (px), unknown fraction of Trimap1, "
                        "fraction of soft pixels (0 < alpha < 1).")
    picks = [0, 3, 12, 24][: max(1, N_EXAMPLES)]
    rows = [[(scenes.scene_names[i], scenes[i]["image"], "image"), ("alpha", scenes[i]["alpha"], "alpha"),
             ("Trimap1", scenes[i]["trimap"], "trimap")] for i in picks if i < len(scenes)]
    save_figure(show_images(rows), out / "alphamatting_scenes")
    train_photos, test_photos = split_photo_pool(photos, TEST_FRACTION, TEST_SEED)
    realfg = RealForegroundCompositeDataset(scenes, [p.pixels for p in test_photos], length=N_EXAMPLES, seed=SEED,
                                            size=SIZE, split="test", test=TEST_FRACTION, split_seed=TEST_SEED,
                                            cache_dir=cache_dir())
    rows = [[(realfg[i]["name"], realfg[i]["image"], "image"), ("alpha", realfg[i]["alpha"], "alpha"),
             ("trimap", realfg[i]["trimap"], "trimap")] for i in range(N_EXAMPLES)]
    save_figure(show_images(rows), out / "real_foreground_composites")

# %% [markdown]
# ## Coarse labels
#
# One composite, every label type. A trimap drawn from alpha is never *wrong* on its known pixels, only less or more
# informative; a coarse mask is wrong near the boundary (that is why it gets an unknown band); scribbles leave most pixels
# unlabelled.

# %%
rng = np.random.default_rng(SEED)
sample = SyntheticMattingDataset(size=SIZE, length=1, seed=SEED + 1, split="test", photos=photos)[0]
image, alpha, _ = sample_arrays(sample)
LABELS = {
    "trimap narrow (1-3 px)": lambda a, r: make_trimap(a, (1, 3), rng=r),
    "trimap medium (3-12 px)": lambda a, r: make_trimap(a, (3, 12), rng=r),
    "trimap wide (10-25 px)": lambda a, r: make_trimap(a, (10, 25), rng=r),
    "release trimap": lambda a, r: make_release_trimap(a, r),
    "coarse mask + 8 px band": lambda a, r: mask_to_trimap(make_coarse_mask(a, r), 8),
    "scribbles": lambda a, r: make_scribbles(a, r),
}
panels = [(name, make(alpha, rng), "trimap") for name, make in LABELS.items()]
save_figure(show_images([[("image", image, "image"), ("alpha", alpha, "alpha")], panels[:3], panels[3:]]),
            out / "label_types")

# %% [markdown]
# ### How informative and how wrong each label is
#
# Over held-out composites: the share of pixels a label fixes, the share of truly soft pixels it leaves unknown, and the
# mean error on the pixels it does fix.

# %%
stats_set = SyntheticMattingDataset(size=SIZE, length=N_STATS, seed=SEED, split="test", photos=photos)
rows = []
for i in range(N_STATS):
    alpha_i = stats_set[i]["alpha"][0].numpy().astype(np.float64)
    for name, make in LABELS.items():
        rows.append({"label": name} | describe_label(make(alpha_i, np.random.default_rng((SEED, i))), alpha_i))
label_stats = pd.DataFrame(rows).groupby("label", sort=False).mean().reset_index()
write_table(label_stats, out / "label_statistics",
            caption=f"Mean over {N_STATS} held-out composites of {SIZE} px.")
label_stats
