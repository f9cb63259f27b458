"""Classical matting baselines given the test trimap (pymatting) and "trimap as alpha".

These use the *test trimap as input*, which the trimap-only networks never see at test time:
they are reference points, not competitors on equal terms. pymatting is used rather than code
of ours because it is the maintained, tested implementation of these solvers.
"""
from __future__ import annotations

import contextlib
import contextvars
import warnings
from typing import Callable, Iterator

import numpy as np
import pymatting

BASELINES = ("closed-form", "knn", "large-kernel", "trimap")


class TrimapAsAlphaWarning(UserWarning):
    """A classical method could not run on an image and returned its trimap as the alpha."""


def _missing_side(trimap: np.ndarray) -> str | None:
    """What a trimap lacks for pymatting's solvers: "foreground", "background", both, or None."""
    missing = [side for side, level in (("foreground", 1), ("background", 0)) if not (trimap == level).any()]
    return " and no known ".join(missing) or None


#: The image being processed, set by :func:`for_image`: its name and the list of its notes.
_CURRENT_IMAGE: contextvars.ContextVar[tuple[str, list[str]] | None] = contextvars.ContextVar(
    "mattinglib_baseline_image", default=None)


@contextlib.contextmanager
def for_image(name: str) -> Iterator[list[str]]:
    """Name ``name`` (an image) in the :class:`TrimapAsAlphaWarning` raised inside.

    A predictor sees arrays, not files; the loop over a folder or a dataset knows the name and
    wraps each prediction in this context. Yields a list that receives the message of each
    such warning, so that the caller can count the images concerned. A context variable rather
    than catching warnings, so that other warnings keep their usual once-per-place display.
    """
    notes: list[str] = []
    token = _CURRENT_IMAGE.set((name, notes))
    try:
        yield notes
    finally:
        _CURRENT_IMAGE.reset(token)


def trimap_as_alpha(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """The trimap itself as the prediction (unknown pixels get 0.5)."""
    return np.asarray(trimap, dtype=np.float64)


def baseline_predictor(method: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``predictor(image, trimap) -> alpha`` for one of :data:`BASELINES`.

    Parameters
    ----------
    method : {"closed-form", "knn", "large-kernel", "trimap"}
        Closed-form matting (Levin et al. 2008), KNN matting (Chen et al. 2013), large-kernel
        matting (He et al. 2010), or the trimap as alpha.

    Returns
    -------
    callable
        Takes image (H, W, 3) float64 in [0, 1] and trimap (H, W) in {0, 0.5, 1}, returns
        alpha (H, W) float64 in [0, 1]. The classical solvers need at least one known
        foreground and one known background pixel; for a trimap without them the predictor
        returns the trimap itself and warns (:class:`TrimapAsAlphaWarning`, naming what is
        missing; :func:`for_image` adds the image's name).
    """
    solvers = {
        "closed-form": pymatting.estimate_alpha_cf,
        "knn": pymatting.estimate_alpha_knn,
        "large-kernel": pymatting.estimate_alpha_lkm,
        "trimap": trimap_as_alpha,
    }
    if method not in solvers:
        raise ValueError(f"unknown baseline {method!r}; choose one of {BASELINES}")
    solve = solvers[method]

    def predict(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        image = np.ascontiguousarray(image, dtype=np.float64)
        trimap = np.ascontiguousarray(trimap, dtype=np.float64)
        # pymatting's solvers need at least one known pixel of each kind; without them the
        # best (and the trimap's own) answer is the trimap. The study's numbers rely on that
        # answer, so it stays; the warning says it was not the method's.
        missing = _missing_side(trimap) if method != "trimap" else None
        if missing:
            message = (f"{method} returned the trimap as alpha: it has no known {missing} pixel "
                       f"(the trimap needs 255 and 0 pixels for {method} to run)")
            current = _CURRENT_IMAGE.get()
            if current is not None:
                message = f"{current[0]}: {message}"
                current[1].append(message)
            warnings.warn(message, TrimapAsAlphaWarning, stacklevel=2)
            return trimap_as_alpha(image, trimap)
        return np.clip(solve(image, trimap), 0.0, 1.0)

    return predict
