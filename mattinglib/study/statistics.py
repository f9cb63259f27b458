"""Paired comparisons of two arms, with bootstrap intervals, and the statuses they give.

Two arms (supervision modes, label types, settings) are compared on the same test images
and, where both have them, the same seeds. The effect is the relative difference of their
mean errors over the paired cells,

    effect = mean(candidate) / mean(reference) - 1,

negative when the candidate's error is lower. Its 95 % interval is a percentile bootstrap:
the test images are resampled with replacement (every seed of a drawn image is kept, so the
seeds are paired *within* each resample), and with ``resample="images and seeds"`` the seeds
are resampled too (*across* seeds). With two or three seeds the interval mostly reflects the
images; the finding says which was done.

Statuses (:func:`status_better`, :func:`status_within`) read the interval, never the bare
means: ``reproduced`` when it lies wholly on the claimed side of the margin, ``not
reproduced`` when it lies wholly on the other side, ``inconclusive`` when it straddles it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Resamples of every bootstrap interval.
BOOTSTRAP_RESAMPLES = 2000
#: Coverage of every interval.
CONFIDENCE = 0.95
RESAMPLING = ("images", "images and seeds")


@dataclass(frozen=True)
class PairedDifference:
    """The paired comparison of a candidate arm with a reference arm.

    Attributes
    ----------
    candidate, reference : str
    metric : str
    candidate_mean, reference_mean : float
        Means over the paired cells (seed x image).
    effect : float
        ``candidate_mean / reference_mean - 1`` (negative: the candidate's error is lower).
    ci_low, ci_high : float
        The :data:`CONFIDENCE` bootstrap interval of ``effect``.
    n_seeds, n_images : int
        Seeds and images in both arms (the paired cells are their product).
    resampled : {"images", "images and seeds"}
    """

    candidate: str
    reference: str
    metric: str
    candidate_mean: float
    reference_mean: float
    effect: float
    ci_low: float
    ci_high: float
    n_seeds: int
    n_images: int
    resampled: str

    def describe(self) -> str:
        """One sentence with the numbers, e.g. for a claim's finding."""
        return (f"{self.metric.upper()} {self.candidate} {self.candidate_mean:.4g} vs {self.reference} "
                f"{self.reference_mean:.4g}: {self.effect:+.1%} [{CONFIDENCE:.0%} CI {self.ci_low:+.1%}, "
                f"{self.ci_high:+.1%}]; {self.n_seeds} seed(s) x {self.n_images} image(s), bootstrap over "
                f"{self.resampled}")


def _cells(scores: pd.DataFrame, arm: str, by: str, metric: str, image: str, seed: str) -> pd.DataFrame:
    rows = scores[scores[by] == arm]
    if rows.empty:
        raise ValueError(f"no scores of {arm!r} in column {by!r} (there are: {sorted(scores[by].unique())})")
    if rows.duplicated([seed, image]).any():
        raise ValueError(f"{arm!r} has several rows per ({seed}, {image}): filter one evaluation set and protocol")
    return rows.pivot(index=seed, columns=image, values=metric)


def _paired_cells(scores: pd.DataFrame, arms: list[str], by: str, metric: str, image: str,
                  seed: str) -> list[np.ndarray]:
    """Each arm's (seed x image) values on the cells every one of ``arms`` was scored on, in one order."""
    cells = [_cells(scores, arm, by, metric, image, seed) for arm in arms]
    seeds, images = cells[0].index, cells[0].columns
    for table in cells[1:]:
        seeds, images = seeds.intersection(table.index), images.intersection(table.columns)
    named = " and ".join(repr(arm) for arm in arms)
    if seeds.empty or images.empty:
        raise ValueError(f"{named} share no (seed, image) cell to pair")
    values = [table.loc[seeds, images].to_numpy(dtype=np.float64) for table in cells]
    if any(np.isnan(v).any() for v in values):
        raise ValueError(f"missing {metric} values among the paired cells of {named}")
    return values


def paired_difference(scores: pd.DataFrame, candidate: str, reference: str, metric: str = "sad", by: str = "variant",
                      image: str = "image", seed: str = "seed", resample: str = "images",
                      resamples: int = BOOTSTRAP_RESAMPLES, rng_seed: int = 0) -> PairedDifference:
    """Compare ``candidate`` with ``reference`` on the cells (seed, image) both were scored on.

    Parameters
    ----------
    scores : DataFrame
        One row per (arm, seed, image) of one evaluation set and protocol, with columns ``by``,
        ``seed``, ``image`` and ``metric`` (an error: lower is better). An arm without seeds
        (a classical method) has one seed value; it is then paired with every seed of the other
        arm only when the seed values match, so give such arms the other arm's seeds or compare
        means instead.
    resample : {"images", "images and seeds"}
        What the bootstrap draws (see the module docstring).
    resamples, rng_seed : int
        Bootstrap size and its seed (fixed: the same scores give the same interval).

    Raises
    ------
    ValueError
        An arm is missing, or the two arms share no (seed, image) cell.
    """
    if resample not in RESAMPLING:
        raise ValueError(f"resample must be one of {RESAMPLING}, got {resample!r}")
    a, b = _paired_cells(scores, [candidate, reference], by, metric, image, seed)
    effect = a.mean() / b.mean() - 1
    rng = np.random.default_rng(rng_seed)
    n_seeds, n_images = a.shape
    pick_images = rng.integers(0, n_images, size=(resamples, n_images))
    if resample == "images":
        # Seeds stay paired inside each drawn image: average them first.
        per_image_a, per_image_b = a.mean(0), b.mean(0)
        draws = per_image_a[pick_images].mean(1) / per_image_b[pick_images].mean(1) - 1
    else:
        pick_seeds = rng.integers(0, n_seeds, size=(resamples, n_seeds))
        rows, cols = pick_seeds[:, :, None], pick_images[:, None, :]
        draws = a[rows, cols].mean((1, 2)) / b[rows, cols].mean((1, 2)) - 1
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return PairedDifference(candidate, reference, metric, float(a.mean()), float(b.mean()), float(effect),
                            float(low), float(high), n_seeds, n_images, resample)


def status_better(difference: PairedDifference, margin: float = 0.0) -> str:
    """Status of "the candidate's error is lower than the reference's by more than ``margin``".

    ``margin`` is relative (0.4: at least 40 % lower). Reproduced when the whole interval lies
    below ``-margin``, not reproduced when it lies wholly above it, else inconclusive.
    """
    if difference.ci_high < -margin:
        return "reproduced"
    if difference.ci_low > -margin:
        return "not reproduced"
    return "inconclusive"


def status_within(difference: PairedDifference, tolerance: float = 0.15) -> str:
    """Status of the non-inferiority claim "the candidate's error is within ``tolerance`` of the
    reference's": reproduced when the interval's upper end of ``candidate / reference - 1`` is
    below ``tolerance``, not reproduced when its lower end is above it, else inconclusive."""
    if difference.ci_high < tolerance:
        return "reproduced"
    if difference.ci_low > tolerance:
        return "not reproduced"
    return "inconclusive"


@dataclass(frozen=True)
class PairedInteraction:
    """How the relative difference of two arms changes between two conditions (with / without).

    ``effect = (candidate / reference - 1) with - (candidate / reference - 1) without``, each
    ratio of means over the same paired cells (seed x image) of all four arms: negative when the
    candidate's relative error is lower under the first condition (a gap that shrinks, a gain
    that grows).

    Attributes
    ----------
    with_pair, without_pair : PairedDifference
        The two comparisons on their own (their intervals from the same resamples).
    effect, ci_low, ci_high : float
        The change of the relative difference and its :data:`CONFIDENCE` bootstrap interval.
    n_seeds, n_images : int
    resampled : str
    """

    with_pair: PairedDifference
    without_pair: PairedDifference
    effect: float
    ci_low: float
    ci_high: float
    n_seeds: int
    n_images: int
    resampled: str

    def describe(self) -> str:
        """One sentence with the numbers."""
        w, wo = self.with_pair, self.without_pair
        return (f"{w.metric.upper()} {w.candidate} / {w.reference} - 1: {w.effect:+.1%} "
                f"[{w.ci_low:+.1%}, {w.ci_high:+.1%}] against {wo.candidate} / {wo.reference} - 1: "
                f"{wo.effect:+.1%} [{wo.ci_low:+.1%}, {wo.ci_high:+.1%}]; change {self.effect:+.1%} "
                f"[{CONFIDENCE:.0%} CI {self.ci_low:+.1%}, {self.ci_high:+.1%}]; {self.n_seeds} seed(s) x "
                f"{self.n_images} image(s), bootstrap over images (seeds paired within each)")


def paired_interaction(scores: pd.DataFrame, with_pair: tuple[str, str], without_pair: tuple[str, str],
                       metric: str = "sad", by: str = "variant", image: str = "image", seed: str = "seed",
                       resamples: int = BOOTSTRAP_RESAMPLES, rng_seed: int = 0) -> PairedInteraction:
    """Does ``candidate / reference - 1`` differ between two conditions? Paired by seed and image.

    Parameters
    ----------
    scores : DataFrame
        As for :func:`paired_difference`, holding all four arms.
    with_pair, without_pair : (str, str)
        ``(candidate, reference)`` under each condition, e.g. ``("known+ddc", "fine")`` with a
        pretrained encoder and ``("scratch known+ddc", "scratch fine")`` without.

    Returns
    -------
    PairedInteraction
        The test images are resampled (each draw the same images for all four arms, their seeds
        averaged within each image first), so the interval reflects which images were scored.

    Raises
    ------
    ValueError
        An arm is missing, or the four arms share no (seed, image) cell.
    """
    arms = [*with_pair, *without_pair]
    values = _paired_cells(scores, arms, by, metric, image, seed)
    rng = np.random.default_rng(rng_seed)
    n_seeds, n_images = values[0].shape
    pick = rng.integers(0, n_images, size=(resamples, n_images))
    per_image = [v.mean(0) for v in values]
    draws = [p[pick].mean(1) for p in per_image]
    tail = (1 - CONFIDENCE) / 2

    def difference(k: int) -> PairedDifference:
        a, b = values[2 * k], values[2 * k + 1]
        low, high = np.quantile(draws[2 * k] / draws[2 * k + 1] - 1, [tail, 1 - tail])
        return PairedDifference(arms[2 * k], arms[2 * k + 1], metric, float(a.mean()), float(b.mean()),
                                float(a.mean() / b.mean() - 1), float(low), float(high), n_seeds, n_images, "images")

    with_difference, without_difference = difference(0), difference(1)
    change = draws[0] / draws[1] - draws[2] / draws[3]
    low, high = np.quantile(change, [tail, 1 - tail])
    return PairedInteraction(with_difference, without_difference,
                             with_difference.effect - without_difference.effect, float(low), float(high),
                             n_seeds, n_images, "images")
