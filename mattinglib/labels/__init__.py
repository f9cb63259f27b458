"""Coarse labels: the trimap codec, label generators and imperfect alpha labels.

A trimap label ``T`` takes the values 0 (background), 1/2 (unknown / transition) and 1
(foreground). Files store 0 / 128 / 255.

Submodules, one job each:

- :mod:`~mattinglib.labels.codec`: the levels ``BACKGROUND``, ``UNKNOWN``, ``FOREGROUND`` and
  :func:`decode_trimap` (numpy only; all that metrics, losses and file readers need);
- :mod:`~mattinglib.labels.morphology`: :func:`erode_disk` and :func:`dilate_disk`, exact
  binary morphology by a disk;
- :mod:`~mattinglib.labels.trimaps`: :func:`make_trimap`, :func:`make_release_trimap`,
  :func:`mask_to_trimap` and the release recipe's ``RELEASE_KERNEL_SIZES`` /
  ``RELEASE_REFERENCE_SIZE``;
- :mod:`~mattinglib.labels.masks`: :func:`make_coarse_mask`, coarse binary masks;
- :mod:`~mattinglib.labels.scribbles`: :func:`make_scribbles`, sparse strokes;
- :mod:`~mattinglib.labels.describe`: :func:`describe_label`, how much a label says and how
  often it is wrong;
- :mod:`~mattinglib.labels.degrade`: :func:`degrade_alpha`, imperfect alpha labels, with
  ``ALPHA_LABELS``, ``SMOOTH_SIGMA``, ``QUANTISE_LEVELS`` and ``SHIFT_RADIUS``.

Every public name of the submodules is importable from here. The codec is imported eagerly;
the other names are imported on first access (PEP 562 ``__getattr__``), so that
``from mattinglib.labels.codec import UNKNOWN`` (the metrics, the losses, :mod:`mattinglib.io`)
does not load the generators.
"""
from __future__ import annotations

import importlib

from .codec import BACKGROUND, FOREGROUND, UNKNOWN, decode_trimap

# Public name -> submodule that defines it, for the names imported on first access.
_LAZY_NAMES = {
    "erode_disk": "morphology",
    "dilate_disk": "morphology",
    "RELEASE_KERNEL_SIZES": "trimaps",
    "RELEASE_REFERENCE_SIZE": "trimaps",
    "make_trimap": "trimaps",
    "make_release_trimap": "trimaps",
    "mask_to_trimap": "trimaps",
    "make_coarse_mask": "masks",
    "make_scribbles": "scribbles",
    "describe_label": "describe",
    "ALPHA_LABELS": "degrade",
    "SMOOTH_SIGMA": "degrade",
    "QUANTISE_LEVELS": "degrade",
    "SHIFT_RADIUS": "degrade",
    "degrade_alpha": "degrade",
}

__all__ = ["BACKGROUND", "FOREGROUND", "UNKNOWN", "decode_trimap", *_LAZY_NAMES]


def __getattr__(name: str):
    """Import a generator's name from its submodule on first access (PEP 562)."""
    module_name = _LAZY_NAMES.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    # Cache it, so that later accesses are plain attribute look-ups.
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
