"""Settings chosen on the validation split, with the same search for every compared arm.

A referee's first two questions of a comparison of supervisions are "was anything chosen on
the test set?" and "did both arms get the same tuning?". Here every arm (a supervision with
its label, e.g. ``{"supervision": "fine"}``) is trained once per setting of the search
(one seed, :data:`TUNING_SEED`) and scored on :func:`mattinglib.build.build_validation_set`
(whole-image SAD); the setting with the lowest mean is the arm's. Test sets are scored only
after :func:`tune` returned, with the chosen settings.

The search of an arm is the product of the learning rates (:data:`LR_FACTORS` times the
profile's ``lr``) and the values of its own knob (:data:`KNOBS`): every arm has the same
learning-rate search, and every knob has the recipe's value among those tried, so the
untuned recipe is one row of the tuning table. Runs are shared with the rest of the study
through :func:`mattinglib.study.grid.run_dir` (a chosen setting's seed-0 run is the main
table's seed 0).
"""
from __future__ import annotations

import itertools
from typing import NamedTuple

import pandas as pd

from mattinglib.build import build_validation_set
from mattinglib.config import TrainConfig
from mattinglib.study.grid import run_grid

#: Learning rates tried for every arm, as factors of the profile's ``lr``.
LR_FACTORS = (0.5, 1.0, 2.0)
#: Each supervision's own knob: config key -> values tried. Fine labels: L1 alone, L1 + a light
#: Laplacian term, and the recipe's L1 + Laplacian; DDC and DC: lambda around the paper's 10.
KNOBS: dict[str, dict[str, tuple]] = {
    "fine": {"laplacian_weight": (0.0, 0.1, 1.0)},
    "known+ddc": {"ddc_weight": (0.3, 1.0, 3.0, 10.0)},
    "known+dc": {"ddc_weight": (0.3, 1.0, 3.0, 10.0)},
    "known+scaled-ddc": {"ddc_weight": (0.3, 1.0, 3.0, 10.0)},
    "known": {},
    "trimap-l1": {},
}
#: The one training seed of every tuning run.
TUNING_SEED = 0
#: Name of the validation set in tables.
VALIDATION_SET = "validation"


class Tuning(NamedTuple):
    """What :func:`tune` returns."""

    table: pd.DataFrame       # one row per (arm, setting): the setting, its validation scores, chosen / recipe marks
    chosen: dict[str, dict]   # arm -> its config changes at the validation-best setting
    recipe: dict[str, dict]   # arm -> its config changes at the untuned recipe (the profile's values)


def search(base: TrainConfig, changes: dict, lr_factors=LR_FACTORS, knobs=None) -> dict[str, dict]:
    """The settings tried for one arm: a short name -> the arm's ``changes`` plus the setting.

    ``knobs`` overrides :data:`KNOBS` (config key -> values) for this arm; default: the knobs
    of the arm's supervision.
    """
    return {name: changes | setting for name, setting in _settings(base, changes, lr_factors, knobs).items()}


def describe_search(base: TrainConfig, arms: dict[str, dict], lr_factors=LR_FACTORS,
                    knobs: dict[str, dict] | None = None) -> str:
    """One line: the learning rates every arm of ``arms`` tries and each arm's own knob values.

    Same arguments as :func:`tune` (``knobs``: arm name -> knob values replacing :data:`KNOBS`).
    """
    knobs = knobs or {}
    own = []
    for arm, changes in arms.items():
        arm_knobs = knobs.get(arm, KNOBS[base.replace(**changes).supervision])
        own.append(f"{arm} " + (", ".join(f"{key} {list(values)}" for key, values in arm_knobs.items()) or "none"))
    return (f"learning rate x {list(lr_factors)} for every arm (the profile's lr is {base.lr:g}); own knob: "
            + "; ".join(own))


def _settings(base: TrainConfig, changes: dict, lr_factors, knobs) -> dict[str, dict]:
    """Name -> the searched keys' values (``lr`` and the knobs) of each setting of an arm."""
    arm = base.replace(**changes)
    knobs = KNOBS[arm.supervision] if knobs is None else knobs
    keys = ["lr", *knobs]
    values = [[arm.lr * factor for factor in lr_factors], *knobs.values()]
    settings = {}
    for combination in itertools.product(*values):
        setting = dict(zip(keys, (float(v) for v in combination)))
        settings[" ".join(f"{k}={v:g}" for k, v in setting.items())] = setting
    return settings


def tune(base: TrainConfig, arms: dict[str, dict], root, jobs: int = 1, lr_factors=LR_FACTORS,
         knobs: dict[str, dict] | None = None, validation=None, metric: str = "sad",
         protocol: str = "whole", progress: bool = True) -> Tuning:
    """Train every arm at every setting of its search, score on validation, choose.

    Parameters
    ----------
    base : TrainConfig
        The profile's config; every arm's changes apply on top of it.
    arms : dict of str to dict
        Arm name -> config changes (``{"supervision": "fine"}``, a label, ...).
    root : path
        The study's runs folder (runs are shared, :func:`mattinglib.study.grid.run_dir`).
    jobs : int
        Runs trained at once.
    lr_factors : tuple of float
        Learning rates tried, as factors of ``base.lr`` (or of an arm's own ``lr``).
    knobs : dict of str to dict, optional
        Arm name -> knob values replacing :data:`KNOBS` for that arm.
    validation : dataset, optional
        Default :func:`mattinglib.build.build_validation_set` ``(base)``.
    metric : str
        Metric minimised (mean over the validation images).
    protocol : {"whole", "unknown"}
        Where it is measured: the whole image, or the trimap's unknown region (real scenes
        scored like the alphamatting.com benchmark).

    Returns
    -------
    Tuning
        ``table`` has columns ``arm``, ``setting``, ``lr``, the knobs, the validation metrics,
        ``chosen`` and ``recipe`` (the setting equal to the profile's values), ``eval_set``
        (always :data:`VALIDATION_SET`), ``seed``.
    """
    validation = build_validation_set(base) if validation is None else validation
    if validation is None:
        raise ValueError("this dataset has no validation split (a user's folder): nothing to tune on")
    knobs = knobs or {}
    trials, searched = {}, {}
    for arm, changes in arms.items():
        for name, setting in _settings(base, changes, lr_factors, knobs.get(arm)).items():
            trials[f"{arm} | {name}"] = changes | setting
            searched[f"{arm} | {name}"] = setting
    scores = run_grid(base, trials, [TUNING_SEED], root, eval_sets={VALIDATION_SET: validation},
                      protocols=(protocol,), jobs=jobs, progress=progress)
    scores[["arm", "setting"]] = scores["variant"].str.split(" | ", n=1, regex=False).tolist()
    rows, chosen, recipe = [], {}, {}
    for arm, changes in arms.items():
        arm_base = base.replace(**changes)
        of_arm = scores[scores["arm"] == arm].copy()
        for _, row in of_arm.iterrows():
            trial, row_values = trials[row["variant"]], searched[row["variant"]]
            is_recipe = all(abs(float(getattr(arm_base, key)) - value) < 1e-12 for key, value in row_values.items())
            rows.append({"arm": arm, "setting": row["setting"], **row_values, metric: row[metric],
                         **{m: row[m] for m in ("mse", "sad_fg", "sad_bg", "sad_soft", "alpha_soft", "alpha_soft_true")
                            if m in row and m != metric},
                         "recipe": is_recipe, "seed": TUNING_SEED, "eval_set": VALIDATION_SET, "protocol": protocol,
                         "run_dir": row["run_dir"]})
            if is_recipe:
                recipe[arm] = trial
        best = of_arm.loc[of_arm[metric].idxmin(), "variant"]
        chosen[arm] = trials[best]
    table = pd.DataFrame(rows)
    table["chosen"] = [chosen[arm] == trials[f"{arm} | {setting}"] for arm, setting in zip(table["arm"], table["setting"])]
    return Tuning(table, chosen, recipe)


def describe_choice(tuning: Tuning) -> pd.DataFrame:
    """One row per arm: its chosen setting and validation score next to the recipe's."""
    rows = []
    for arm, of_arm in tuning.table.groupby("arm", sort=False):
        best = of_arm[of_arm["chosen"]].iloc[0]
        recipe = of_arm[of_arm["recipe"]]
        rows.append({"arm": arm, "chosen": best["setting"], "validation sad": best["sad"],
                     "recipe": recipe["setting"].iloc[0] if len(recipe) else None,
                     "recipe validation sad": recipe["sad"].iloc[0] if len(recipe) else None,
                     "settings tried": len(of_arm)})
    return pd.DataFrame(rows)


#: The arms of the paper's comparison (notebook 10): tuned with the default search and shared
#: by the notebooks that build on them (20 trains its windows at the chosen known + DDC
#: setting, 30 and 40 compare against the chosen fine, known and known + DDC arms).
CORE_ARMS: dict[str, dict] = {name: {"supervision": name}
                              for name in ("fine", "known+ddc", "known+dc", "known", "trimap-l1")}
