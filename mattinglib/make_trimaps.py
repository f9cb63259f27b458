"""Trimaps for a folder: from one's own object masks, or from true alpha mattes.

``python -m mattinglib trimap`` is the way to get the trimaps that ``matte``, ``predict`` and
``train --own-images`` take when what one has is a mask of each object (a segmentation
model's output, a quick selection) or, for a data set, the true alphas.

- **From masks** (:func:`trimap_from_mask`): the mask is binarised at 0.5, then its
  foreground and its background are each eroded by a disk of the band's width, so an unknown
  band (128) of that many pixels on each side lies along the object's boundary. The width is
  given in pixels (``band``, default :data:`DEFAULT_BAND`) or as a share of the object's size
  (``band_fraction``: ``F * sqrt(foreground area)``, rounded, at least 1 px).
- **From alphas**: the study's own label generator,
  :class:`mattinglib.data.labelling.MakeLabel` (the labels a run trains from; ``label``
  ``"trimap"`` erodes the exact foreground ``alpha == 1`` and background ``alpha == 0`` by a
  width drawn per image in the config's ``trimap_width``, or by a fixed ``band``). The draws
  of an image depend only on ``seed`` and its file name.

:func:`trimap_folder` does a whole folder the way ``matte`` and ``predict`` do theirs
(:mod:`mattinglib.predict`): the folder is checked first, an unusable file is named and
skipped (``on_skip``) while the others are written, each file atomically.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .labels.codec import BACKGROUND, FOREGROUND
from .labels.trimaps import mask_to_trimap

#: Unknown band of a trimap made from a mask, px per side, when no width is given.
DEFAULT_BAND = 10
#: A soft mask (or an alpha matte given as a mask) is foreground where it is >= this.
MASK_THRESHOLD = 0.5


def band_from_fraction(mask: np.ndarray, band_fraction: float) -> int:
    """The band that is ``band_fraction`` of an object's size: ``F * sqrt(foreground area)``.

    Parameters
    ----------
    mask : ndarray, shape (H, W), bool
        The object (True).
    band_fraction : float > 0
        F, the band per side as a share of the side of a square of the object's area.

    Returns
    -------
    int
        Pixels per side, rounded to the nearest integer, at least 1.
    """
    if not (band_fraction > 0 and math.isfinite(band_fraction)):
        raise ValueError(f"band_fraction must be a finite number > 0; got {band_fraction}")
    return max(1, int(math.floor(band_fraction * math.sqrt(np.count_nonzero(mask)) + 0.5)))


def trimap_from_mask(mask: np.ndarray, band: int | None = DEFAULT_BAND,
                     band_fraction: float | None = None) -> np.ndarray:
    """Trimap with an unknown band of a given width around the boundary of an object's mask.

    The mask is binarised at :data:`MASK_THRESHOLD` (0.5); its foreground and its background
    are each eroded by a disk of radius ``band`` (:func:`mattinglib.labels.mask_to_trimap`), so
    along any straight stretch of the boundary the unknown band is ``band`` pixels on the
    object's side plus ``band`` on the background's (``2 * band`` in all). Pixels outside the
    image never erode anything.

    Parameters
    ----------
    mask : ndarray, shape (H, W), values in [0, 1]
        Binary (bool, {0, 1}) or soft (a matte, a model's probabilities).
    band : int >= 1, optional
        Unknown band per side, in pixels. Ignored when ``band_fraction`` is given.
    band_fraction : float > 0, optional
        The band per side as a share of the object's size: ``band_fraction *
        sqrt(foreground area in px)``, rounded, at least 1 px (:func:`band_from_fraction`).

    Returns
    -------
    ndarray, shape (H, W), float64, values in {0, 0.5, 1}
        Background, unknown, foreground (a file stores 0 / 128 / 255: :func:`write_trimap_png`).

    Raises
    ------
    ValueError
        A mask of the wrong shape or range; no foreground or no background pixel (no boundary to
        put a band around); :class:`BandTooWide`, a band so wide that no known foreground or
        background is left.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"a mask must have shape (H, W); got {m.shape}")
    if m.dtype != bool and (not np.all(np.isfinite(m)) or m.min(initial=0) < 0 or m.max(initial=0) > 1):
        raise ValueError("mask values must lie in [0, 1]")
    binary = m >= MASK_THRESHOLD
    if not binary.any():
        raise ValueError(f"mask has no foreground pixel (every value below {MASK_THRESHOLD:g}): no object to put a "
                         "band around")
    if binary.all():
        raise ValueError(f"mask is foreground everywhere (no value below {MASK_THRESHOLD:g}): the object has no "
                         "boundary to put a band around")
    if band_fraction is not None:
        band = band_from_fraction(binary, band_fraction)
    elif band is None or isinstance(band, bool) or not float(band).is_integer() or band < 1:
        raise ValueError(f"band must be a whole number of pixels >= 1; got {band!r}")
    band = int(band)
    trimap = mask_to_trimap(binary, band)
    for level, side in ((FOREGROUND, "foreground"), (BACKGROUND, "background")):
        if not np.any(trimap == level):
            raise BandTooWide(f"a band of {band} px per side leaves no known {side}: the {side} is nowhere wider "
                              "than twice the band")
    return trimap


class BandTooWide(ValueError):
    """The unknown band covers all of the foreground or all of the background."""


def _alpha_trimap(alpha: np.ndarray, labeller, label: str, band: int | None, rng: np.random.Generator) -> np.ndarray:
    """The study's ``label`` drawn from a true alpha (H, W) in [0, 1] (``band``: for the message only)."""
    if not alpha.any():
        raise ValueError("alpha matte is 0 everywhere: no object to make a trimap of")
    trimap = labeller.draw(alpha.astype(np.float64), rng)
    for level, side in ((FOREGROUND, "foreground"), (BACKGROUND, "background")):
        if not np.any(trimap == level):
            error = BandTooWide if band is not None else ValueError
            raise error(f"its {label} label has no known {side}: alpha is exactly {level:g} nowhere, or only in "
                        f"parts narrower than the band")
    return trimap


def trimap_levels(trimap: np.ndarray) -> np.ndarray:
    """A trimap in {0, 0.5, 1} as the 8-bit levels a file stores: uint8 (H, W) in {0, 128, 255}."""
    trimap = np.asarray(trimap)
    levels = np.full(trimap.shape, 128, dtype=np.uint8)
    levels[trimap == BACKGROUND] = 0
    levels[trimap == FOREGROUND] = 255
    return levels


def write_trimap_png(path: str | Path, trimap: np.ndarray) -> None:
    """Write a trimap in {0, 0.5, 1} as an 8-bit grey PNG of exactly 0 / 128 / 255, atomically.

    Written beside ``path`` and moved into place (:func:`mattinglib.atomic.atomic_path`), so an
    interrupted write leaves any previous file intact; the file gets the umask's permissions.
    """
    from PIL import Image

    from .atomic import atomic_path

    with atomic_path(path) as temporary:
        Image.fromarray(trimap_levels(trimap)).save(temporary, format="PNG")


def read_mask(path: str | Path) -> np.ndarray:
    """Read an object mask: a grey file (or RGB with R = G = B), values in [0, 1], float32 (H, W).

    The rules of :func:`mattinglib.io.read_alpha` (8- and 16-bit, palette, a fully opaque alpha
    channel dropped), with errors that call the file a mask: a colour picture is refused.
    """
    from .io import _drop_opaque_alpha, _open_levels, _single_channel

    path = Path(path)
    levels, full_scale, _ = _open_levels(path)
    levels = _drop_opaque_alpha(path, levels, full_scale)
    return (_single_channel(path, levels, "mask") / full_scale).astype(np.float32)


@dataclass
class TrimapResult:
    """What :func:`trimap_folder` wrote.

    Attributes
    ----------
    written : list of Path
        The trimap files written (each atomically), in sorted input order.
    sources : list of Path
        The mask or alpha file of each (same order).
    bands : list of int or None
        The unknown band of each, px per side; None where the label generator drew it.
    """

    written: list[Path] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)
    bands: list[int | None] = field(default_factory=list)
    #: How the bands were chosen where they were drawn (the label kind and seed); "" otherwise.
    drawn: str = ""

    def summary(self, output_dir: str | Path) -> str:
        """One line: ``wrote N trimaps to DIR (unknown band: 10 px per side)`` (or the range, or how drawn)."""
        bands = sorted({band for band in self.bands if band is not None})
        how = self.drawn or (" to ".join(map(str, dict.fromkeys([bands[0], bands[-1]]))) + " px per side" if bands
                             else "")
        return f"wrote {len(self.written)} trimaps to {output_dir}" + (f" (unknown band: {how})" if how else "")


def image_rng(seed: int, name: str) -> np.random.Generator:
    """The generator of one file's draws: a function of ``seed`` and the file's stem only."""
    return np.random.default_rng([int(seed), zlib.crc32(Path(name).stem.encode("utf-8"))])


def _alpha_labeller(label: str, band: int | None):
    """The study's label generator for ``label``, with a fixed ``band`` where one is given."""
    from .config import TrainConfig
    from .data.labelling import MakeLabel

    defaults = TrainConfig()
    if band is None:
        return MakeLabel(label, defaults.trimap_width, defaults.mask_band)
    if label == "trimap":
        return MakeLabel(label, (band, band), defaults.mask_band)
    if label == "mask":
        return MakeLabel(label, defaults.trimap_width, band)
    raise ValueError(f"a band goes with the labels trimap and mask; {label} draws its own widths (leave the band out)")


def trimap_folder(output_dir: str | Path, masks_dir: str | Path | None = None, alphas_dir: str | Path | None = None,
                  band: int | None = None, band_fraction: float | None = None, label: str = "trimap", seed: int = 0,
                  on_skip: Callable | None = None, progress: bool = True) -> TrimapResult:
    """Write ``output_dir/<stem>.png`` (0 / 128 / 255) for every mask of ``masks_dir`` or alpha of ``alphas_dir``.

    Parameters
    ----------
    output_dir : path
        Created if missing; not the input folder.
    masks_dir, alphas_dir : path
        Exactly one: a folder of object masks (binary or soft, :func:`trimap_from_mask`) or of
        true alpha mattes (the study's label generator).
    band : int >= 1, optional
        Unknown band, px per side. Masks: default :data:`DEFAULT_BAND`. Alphas (labels
        ``trimap`` and ``mask``): a fixed width instead of the drawn one.
    band_fraction : float > 0, optional
        Masks only: the band as a share of each object's size (:func:`trimap_from_mask`).
    label : one of :data:`mattinglib.config.LABELS`
        Alphas only: the label kind of :class:`~mattinglib.data.labelling.MakeLabel`
        (default ``"trimap"``: widths drawn in the config's ``trimap_width``).
    seed : int
        Alphas only: the seed of the draws (:func:`image_rng`).
    on_skip : callable, optional
        Called with each :class:`~mattinglib.predict.InputProblem` (a ``ValueError`` whose
        one-line message names the file and what to do); that file is skipped and the others
        written. Without it, the problems of the folder's check are raised together before
        anything is written, and a later bad file raises.
    progress : bool
        A progress bar over the files (stderr).

    Returns
    -------
    TrimapResult

    Raises
    ------
    FileNotFoundError
        The input folder does not exist.
    ValueError
        Not exactly one input folder, options of the other kind, no image in the folder, the
        output folder is the input folder; without ``on_skip``, an unusable file.
    """
    from tqdm.auto import tqdm

    from .predict import InputProblem, _raise_or_report, check_input_folder, list_folder_images

    if (masks_dir is None) == (alphas_dir is None):
        raise ValueError("give exactly one of a folder of masks (--masks) or of true alphas (--alphas)")
    if band is not None and (isinstance(band, bool) or not float(band).is_integer() or band < 1):
        raise ValueError(f"--band must be a whole number of pixels >= 1; got {band!r}")
    if band_fraction is not None and not (band_fraction > 0 and math.isfinite(band_fraction)):
        raise ValueError(f"--band-fraction must be a number > 0; got {band_fraction!r}")
    from_masks = masks_dir is not None
    source_dir = Path(masks_dir if from_masks else alphas_dir)
    if from_masks:
        if band is not None and band_fraction is not None:
            raise ValueError("give the band in pixels (--band) or as a share of the object (--band-fraction), not both")
        band = DEFAULT_BAND if band is None and band_fraction is None else band
        if label != "trimap":
            raise ValueError(f"a label kind ({label}) goes with true alphas (--alphas); a mask gives a trimap label")
        labeller = None
    else:
        if band_fraction is not None:
            raise ValueError("--band-fraction goes with --masks; with --alphas give --band PX or leave it out "
                             "(the study's drawn widths)")
        labeller = _alpha_labeller(label, band)

    what = "mask" if from_masks else "alpha"
    files = list_folder_images(source_dir, what)
    output_dir = Path(output_dir)
    if output_dir.resolve() == source_dir.resolve():
        raise ValueError(f"{output_dir}: the output folder is the {what} folder, and the trimaps would overwrite "
                         f"the {what}s; give another --output folder")
    skipped = _raise_or_report(check_input_folder(files, output_dir, None), on_skip)
    output_dir.mkdir(parents=True, exist_ok=True)
    drawn = "" if from_masks or band is not None else f"{label} labels, widths drawn with seed {seed}"
    result = TrimapResult(drawn=drawn)
    for path in tqdm([p for p in files if p not in skipped], desc="trimap", disable=not progress, unit="image"):
        try:
            if from_masks:
                values = read_mask(path)
            else:
                from .io import read_alpha

                values = read_alpha(path)
        except (ValueError, OSError) as error:  # the readers name the file in their message
            if on_skip is None:
                raise
            on_skip(InputProblem(str(error), [path]))
            continue
        try:
            if from_masks:
                trimap = trimap_from_mask(values, band, band_fraction)
                used = band if band_fraction is None else band_from_fraction(values >= MASK_THRESHOLD, band_fraction)
            else:
                trimap, used = _alpha_trimap(values, labeller, label, band, image_rng(seed, path.name)), band
        except ValueError as error:
            advice = ("give a smaller --band" + (" or --band-fraction" if from_masks else "")
                      if isinstance(error, BandTooWide)
                      else f"give the object's {what} (white = object), or move the file out of the folder")
            problem = InputProblem(f"{path}: {error}; {advice}", [path])
            if on_skip is None:
                raise problem from error
            on_skip(problem)
            continue
        target = output_dir / f"{path.stem}.png"
        write_trimap_png(target, trimap)
        result.written.append(target)
        result.sources.append(path)
        result.bands.append(used)
    return result
