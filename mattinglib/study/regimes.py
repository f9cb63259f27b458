"""The reference arm at other training regimes: how far the competence gate is.

A claim is tested only where the reference arm (fine labels) is a working matting network
(:mod:`mattinglib.study.claims`). When it is not, the next question is whether any regime the
machine affords gets it there: more steps, larger crops, a wider network. :func:`regime_search`
trains the reference arm at its validation-chosen setting, one seed, at the profile's regime
and at each regime given, scores every run on the validation split, and tabulates each next to
the gate's bar with its cost. The regimes are reported, not adopted: the compared arms stay at
the profile's regime, one regime for all of them.
"""
from __future__ import annotations

from typing import NamedTuple

import json

import pandas as pd

from mattinglib.build import build_model_for
from mattinglib.config import TrainConfig
from mattinglib.study.grid import run_grid, score_baselines
from mattinglib.study.tuning import TUNING_SEED

#: Name of the profile's own regime in the table (its first row).
PROFILE_REGIME = "profile"
#: Prefix of the regime that combines the levers that each beat the profile's (``combine=True``).
COMBINED_REGIME = "together:"


class Regimes(NamedTuple):
    """What :func:`regime_search` returns."""

    table: pd.DataFrame    # one row per regime, the profile's first
    reference_sad: float   # the gate's reference method on the same sets (mean SAD)


def regime_search(base: TrainConfig, setting: dict, regimes: dict[str, dict], root, eval_sets: dict,
                  gate_factor: float, reference: str = "closed-form", protocol: str = "unknown",
                  jobs: int = 1, combine: bool = False) -> Regimes:
    """Train ``base`` with ``setting`` at the profile's regime and at each of ``regimes``; tabulate.

    Parameters
    ----------
    base : TrainConfig
        The profile's configuration (its regime is the table's first row, :data:`PROFILE_REGIME`).
    setting : dict
        The reference arm's config changes at its chosen setting (supervision, lr, knob).
    regimes : dict of str to dict
        Regime name -> config changes on top of ``setting`` (``{"steps": 1500}``, ...).
    root : str or PathLike
        Runs folder (:func:`mattinglib.study.grid.run_grid`).
    eval_sets : dict of str to dataset
        The validation set(s) the runs and the reference are scored on; the table reports mean SAD.
    gate_factor : float
        The gate's bar as a multiple of the reference's SAD.
    reference : str
        The gate's reference, a method of :func:`mattinglib.matte.matte_predictor` given each
        image's trimap (``"closed-form"``); also names the column ``x <reference>``.
    protocol : {"unknown", "whole"}
    jobs : int
        Runs trained at once.
    combine : bool
        Also train the union of the regimes whose SAD is below the profile's at no more work
        (data and optimiser levers: the steps, crop and network kept), when two or more are; in
        the order given, a later regime's value winning for a key two of them set (a regime whose
        every key a later one sets is left out). Its row is :data:`COMBINED_REGIME` followed by
        their names.

    Returns
    -------
    Regimes
        ``table``: one row per regime, ``regime, steps, lr, crop_size, image_size, model_width,
        cost, parameters, sad, x <reference>, within the gate, changes``, where ``cost`` is steps
        x crop area x parameters relative to the profile's regime and ``changes`` the regime's
        config changes as JSON; ``reference_sad``: the reference's mean SAD on ``eval_sets``.
    """
    baseline = score_baselines(eval_sets, methods={reference: reference}, protocols=(protocol,), runs_root=root).runs
    reference_sad = float(baseline["sad"].mean())
    changes_of = {PROFILE_REGIME: {}} | {name: dict(change) for name, change in regimes.items()}

    def score(names):
        variants = {name: dict(setting) | changes_of[name] for name in names}
        grid = run_grid(base, variants, [TUNING_SEED], root, eval_sets=eval_sets, protocols=(protocol,), jobs=jobs)
        return grid.groupby("variant", sort=False)["sad"].mean()

    parameters = {}

    def work(name):  # steps x crop area x parameters of a regime's run
        config = base.replace(**(dict(setting) | changes_of[name]))
        if (config.model, config.model_width) not in parameters:
            parameters[config.model, config.model_width] = sum(p.numel() for p in build_model_for(config).parameters())
        return config, config.steps * config.crop_size ** 2 * parameters[config.model, config.model_width]

    profile_work = work(PROFILE_REGIME)[1]
    scores = score(list(changes_of))
    if combine:
        # The levers that each beat the profile's regime at no extra work (data, optimiser) ...
        free = [name for name in regimes if scores[name] < scores[PROFILE_REGIME] and work(name)[1] <= profile_work]
        # ... less any whose every key a later one sets (synthetic 50 % before 75 %): it adds nothing.
        free = [name for k, name in enumerate(free)
                if not set(regimes[name]) <= {key for later in free[k + 1:] for key in regimes[later]}]
        if len(free) >= 2:
            together = f"{COMBINED_REGIME} {' + '.join(free)}"
            changes_of[together] = {key: value for name in free for key, value in regimes[name].items()}
            scores = pd.concat([scores, score([together])])
    rows = []
    for name, change in changes_of.items():
        config, amount = work(name)
        rows.append({"regime": name, "steps": config.steps, "lr": config.lr, "crop_size": config.crop_size,
                     "image_size": config.image_size, "model_width": config.model_width,
                     "cost": amount / profile_work, "parameters": parameters[config.model, config.model_width],
                     "sad": float(scores[name]), f"x {reference}": float(scores[name]) / reference_sad,
                     "within the gate": float(scores[name]) / reference_sad <= gate_factor,
                     "changes": json.dumps(change)})
    table = pd.DataFrame(rows)
    return Regimes(table, reference_sad)


def adopt_regime(table: pd.DataFrame, max_cost: float = 1.0) -> tuple[str, dict]:
    """The validation-best regime of :func:`regime_search`'s table among those costing at most ``max_cost``.

    Returns
    -------
    (str, dict)
        The regime's name and its config changes (empty for the profile's own regime, which
        costs 1 and so is always a candidate).
    """
    affordable = table[table["cost"] <= max_cost + 1e-9]
    best = affordable.loc[affordable["sad"].idxmin()]
    return str(best["regime"]), json.loads(best["changes"])


def describe_regimes(table: pd.DataFrame, reference: str, gate_factor: float, adopted: str | None = None) -> str:
    """One paragraph of prose from :func:`regime_search`'s table (numbers from the table only);
    ``adopted``: the regime every arm trained at (:func:`adopt_regime`), None when none was."""
    first, tried, ratio = table.iloc[0], table.iloc[1:], f"x {reference}"
    in_reach = table[table["within the gate"]]
    text = (f"the profile's {first['sad']:.1f}, {first[ratio]:.2f} x {reference}'s "
            f"{first['sad'] / first[ratio]:.1f}; "
            + "; ".join(f"{r['regime']} {r['sad']:.1f} ({r[ratio]:.2f} x, cost {r['cost']:.1f} x)"
                        for _, r in tried.iterrows()) + ". ")
    if in_reach.empty:
        text += (f"None comes within the gate's {gate_factor} x on validation, in any regime tried (the gate "
                 "itself is judged on the held-out set).")
    elif adopted is None:
        text += (f"{', '.join(in_reach['regime'])} come(s) within {gate_factor} x on validation: training every "
                 "arm at that regime is the next step (the claims are at the profile's regime).")
    else:
        text += f"{', '.join(in_reach['regime'])} come(s) within {gate_factor} x on validation."
    if adopted is not None:
        text += f" Every arm trains at {adopted}."
    return text
