"""Reading images, alpha mattes and trimaps from files, and writing alpha mattes.

Every reader returns float32 arrays in [0, 1] and raises an error that names the file and
what is wrong with it. The policy for unusual files, in one place:

- **Missing file**: ``FileNotFoundError``.
- **Unreadable / corrupt / truncated file**: ``ValueError`` ("cannot decode ...").
- **Grey images** (Pillow modes ``L``, ``I;16``, ``LA``...) given to :func:`read_image` are
  repeated into three equal RGB channels.
- **RGBA / LA files** (and palette files with transparency): the alpha channel is dropped
  only when it is fully opaque (every value at its maximum), i.e. when it carries no
  information. A file with any transparent pixel is refused: the colour under transparent
  pixels is undefined (often black or stale), and a cut-out foreground is not a photograph;
  read its colour and its alpha separately instead.
- **16-bit files**: 16-bit grey PNGs (``I;16``) are scaled by 1/65535, not 1/255, at full
  precision. Pillow decodes 16-bit *RGB* PNGs to 8 bits (their high byte), and so does
  imageio, the only other reader installed (it reads PNG through Pillow); those are read at
  that precision (error below 1/255, under the 8-bit quantisation of the rest of the
  pipeline).
- **Alpha stored as RGB** with R = G = B (the alphamatting.com ``gt`` files) uses one
  channel; an RGB alpha whose channels differ is refused.
- **Palette (``P``) files** are read through their palette, so an index maps to the level
  the palette stores for it (the alphamatting.com trimaps are palette PNGs whose palette is
  the identity grey ramp, giving 0 / 128 / 255).
- **Trimaps** must be three-level. Exact 0 / 128 / 255 files decode directly.

  - A trimap stored as **JPEG** (the format of the content, whatever the extension) cannot
    hold exact levels: compression moves values near the band edges (37, 200...), the more
    so the lower the quality. Every pixel is snapped to the *nearest* of 0 / 128 / 255 and a
    ``UserWarning`` gives the share of pixels moved. An RGB JPEG is averaged over its channels
    (compression makes them differ slightly), unless they differ like a colour picture's
    (median spread over :data:`JPEG_TRIMAP_CHANNEL_SPREAD`), which is refused.
  - Any **other** inexact file whose values lie *near* the three levels is snapped with the
    thresholds of :func:`~mattinglib.labels.codec.decode_trimap` (``< 85 -> 0``,
    ``>= 170 -> 1``, else 1/2) and a ``UserWarning`` saying how many pixels were snapped,
    provided (a) at least :data:`TRIMAP_NEAR_LEVEL_FRACTION` of
    its pixels lie within :data:`TRIMAP_LEVEL_TOLERANCE` of a level and (b) at least
    :data:`TRIMAP_PLATEAU_FRACTION` of the pixels that decode as unknown lie within
    :data:`TRIMAP_PLATEAU_TOLERANCE` of 128 (an unknown band is a plateau at 128; the soft
    values of an alpha matte spread evenly over 85..169). Anything else (a grey ramp, an
    alpha matte given as a trimap) is refused.
- **Size mismatch** between an image, its alpha and its trimap: ``ValueError`` naming the
  files and their sizes (:func:`check_same_size`).
- **Missing or empty folder**: ``FileNotFoundError`` / ``ValueError``
  (:func:`list_image_files`).
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from mattinglib.atomic import atomic_path
from mattinglib.labels.codec import decode_trimap

#: File name extensions (lower case) that :func:`list_image_files` treats as images.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

#: A trimap pixel is "near a level" when it is within this many 8-bit steps of 0, 128 or 255.
TRIMAP_LEVEL_TOLERANCE = 32
#: Fraction of pixels that must be near a level for an inexact trimap to be snapped. The
#: alphamatting.com trimaps saved as JPEG at quality 30 keep over 99 % of their pixels near
#: a level; a uniform grey ramp has about 50 %, the alphamatting.com true alphas 90-99 %.
TRIMAP_NEAR_LEVEL_FRACTION = 0.98
#: Pixels decoding as unknown (85..169) must lie within this many steps of 128 ...
TRIMAP_PLATEAU_TOLERANCE = 16
#: ... for at least this fraction of them: 94-99 % for those JPEG trimaps, about 37 % for
#: the true alphas.
TRIMAP_PLATEAU_FRACTION = 0.8
#: An RGB JPEG trimap is refused as a colour picture when the median over pixels of the
#: spread of its three channels (max - min, 8-bit steps) exceeds this; chroma compression of a
#: grey picture leaves the median at 0-2.
JPEG_TRIMAP_CHANNEL_SPREAD = 16
#: The three levels of a trimap file (8-bit).
_TRIMAP_LEVELS = np.array([0.0, 128.0, 255.0])

def _open_levels(path: str | os.PathLike) -> tuple[np.ndarray, float, str | None]:
    """Decode a file to an array of levels, the value of full intensity and the file format.

    Returns
    -------
    levels : ndarray, shape (H, W) or (H, W, C), float64
        The stored levels, C in {2, 3, 4} for LA / RGB / RGBA (palette files already mapped
        through their palette).
    full_scale : float
        255 for 8-bit data, 65535 for 16-bit grey data.
    file_format : str or None
        Pillow's name of the format the content is in (``"PNG"``, ``"JPEG"``...), whatever
        the file's extension.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: is not a file")
    try:
        with Image.open(path) as im:
            # load() decodes the pixels; a truncated or corrupt file fails here, not at open().
            im.load()
            file_format = im.format
            mode = im.mode
            if mode == "P":
                # Map indices through the palette; keep transparency so the RGBA rule applies.
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                mode = im.mode
            elif mode == "PA":
                im = im.convert("RGBA")
                mode = im.mode
            elif mode == "1":
                im = im.convert("L")
                mode = "L"
            elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB")
                mode = "RGB"
            levels = np.asarray(im)
    except UnidentifiedImageError as error:
        raise ValueError(f"{path}: cannot decode: not an image file Pillow can read; "
                         "save it as PNG or JPEG, or move it out of the folder") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"{path}: cannot decode: corrupt or truncated file ({error}); "
                         "save it again or copy it anew") from error

    if mode.startswith("I;16") or mode == "I":
        # 16-bit grey PNGs open as I;16 (or I). Values above 65535 cannot come from a PNG.
        if levels.min() < 0 or levels.max() > 65535:
            raise ValueError(f"{path}: 32-bit integer image with values outside 0..65535 is not supported")
        return levels.astype(np.float64), 65535.0, file_format
    if mode == "F":
        raise ValueError(f"{path}: 32-bit float images are not supported; store 8- or 16-bit PNG")
    if levels.dtype != np.uint8:
        raise ValueError(f"{path}: unsupported pixel format (Pillow mode {mode!r}, dtype {levels.dtype})")
    return levels.astype(np.float64), 255.0, file_format


def _drop_opaque_alpha(path: Path, levels: np.ndarray, full_scale: float) -> np.ndarray:
    """Drop the alpha channel of LA / RGBA data if it is fully opaque, else refuse the file."""
    if levels.ndim == 3 and levels.shape[2] in (2, 4):
        transparent = int(np.count_nonzero(levels[..., -1] < full_scale))
        if transparent:
            raise ValueError(
                f"{path}: has an alpha channel with {transparent} non-opaque pixels; colour under "
                "transparent pixels is undefined, so such files are refused (store the colour as "
                "RGB and the alpha as a separate grey file)")
        levels = levels[..., :-1]
    return levels


def _single_channel(path: Path, levels: np.ndarray, what: str) -> np.ndarray:
    """Return one channel of grey data stored as grey or as RGB with equal channels."""
    if levels.ndim == 2:
        return levels
    if levels.shape[2] == 1:
        return levels[..., 0]
    if levels.shape[2] == 3:
        differ = np.count_nonzero((levels[..., 0] != levels[..., 1]) | (levels[..., 0] != levels[..., 2]))
        if differ:
            raise ValueError(
                f"{path}: {what} stored as RGB must have R = G = B; the channels differ at "
                f"{differ} pixels (is this a colour image rather than a {what}?)")
        return levels[..., 0]
    raise ValueError(f"{path}: {what} must have 1 or 3 channels; got {levels.shape[2]}")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a colour image.

    Parameters
    ----------
    path : str or PathLike
        Any format Pillow reads (PNG, JPEG, ...). Grey files are repeated into RGB; an alpha
        channel is dropped when fully opaque and refused otherwise (see the module docstring).

    Returns
    -------
    ndarray, shape (H, W, 3), float32
        RGB in [0, 1] (8-bit data divided by 255, 16-bit grey data by 65535).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file cannot be decoded, or has transparent pixels.
    """
    path = Path(path)
    levels, full_scale, _ = _open_levels(path)
    levels = _drop_opaque_alpha(path, levels, full_scale)
    if levels.ndim == 3 and levels.shape[2] == 1:
        levels = levels[..., 0]
    if levels.ndim == 2:
        levels = np.repeat(levels[..., None], 3, axis=2)
    if levels.shape[2] != 3:
        raise ValueError(f"{path}: expected 1 or 3 colour channels; got {levels.shape[2]}")
    return (levels / full_scale).astype(np.float32)


def read_alpha(path: str | os.PathLike) -> np.ndarray:
    """Read an alpha matte.

    Parameters
    ----------
    path : str or PathLike
        A grey file (8- or 16-bit), or RGB with R = G = B (only one channel is used). A fully
        opaque alpha *channel* of an LA / RGBA file is ignored like any colour file's; the
        matte itself must be the grey levels.

    Returns
    -------
    ndarray, shape (H, W), float32
        Alpha in [0, 1].

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file cannot be decoded, is RGB with differing channels, or has transparent pixels.
    """
    path = Path(path)
    levels, full_scale, _ = _open_levels(path)
    levels = _drop_opaque_alpha(path, levels, full_scale)
    return (_single_channel(path, levels, "alpha matte") / full_scale).astype(np.float32)


def read_trimap(path: str | os.PathLike) -> np.ndarray:
    """Read a trimap and decode it to {0, 1/2, 1}.

    Parameters
    ----------
    path : str or PathLike
        A grey, palette or R = G = B file storing background 0, unknown 128, foreground 255
        (16-bit files: the same levels times 257). JPEG files are snapped to the nearest level
        with a warning, other inexact files close to three levels too (with the
        thresholds of ``decode_trimap``); other files are refused (module docstring).

    Returns
    -------
    ndarray, shape (H, W), float32
        Values in {0, 0.5, 1}, decoded by :func:`mattinglib.labels.decode_trimap`.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file cannot be decoded, has differing RGB channels, or is not three-level.
    """
    path = Path(path)
    levels, full_scale, file_format = _open_levels(path)
    levels = _drop_opaque_alpha(path, levels, full_scale)
    if file_format == "JPEG":
        return _snap_jpeg_trimap(path, levels)
    grey = _single_channel(path, levels, "trimap") * (255.0 / full_scale)

    exact = (grey == 0) | (grey == 128) | (grey == 255)
    inexact = int(grey.size - np.count_nonzero(exact))
    if inexact:
        distance = np.min(np.abs(grey[..., None] - np.array([0.0, 128.0, 255.0])), axis=-1)
        near_fraction = float(np.mean(distance <= TRIMAP_LEVEL_TOLERANCE))
        decoded_unknown = grey[(grey >= 85) & (grey < 170)]
        plateau_fraction = (float(np.mean(np.abs(decoded_unknown - 128) <= TRIMAP_PLATEAU_TOLERANCE))
                            if decoded_unknown.size else 1.0)
        if near_fraction < TRIMAP_NEAR_LEVEL_FRACTION or plateau_fraction < TRIMAP_PLATEAU_FRACTION:
            raise ValueError(
                f"{path}: not a three-level trimap: {near_fraction:.1%} of its pixels lie within "
                f"{TRIMAP_LEVEL_TOLERANCE} of 0 / 128 / 255 (need {TRIMAP_NEAR_LEVEL_FRACTION:.0%}) and "
                f"{plateau_fraction:.1%} of its middle values within {TRIMAP_PLATEAU_TOLERANCE} of 128 "
                f"(need {TRIMAP_PLATEAU_FRACTION:.0%}); is this an alpha matte or a grey image?")
        warnings.warn(
            f"{path}: {inexact} of {grey.size} trimap pixels are not exactly 0 / 128 / 255 "
            "(lossy compression?); snapped with the thresholds < 85 -> 0, >= 170 -> 1, else 1/2",
            UserWarning, stacklevel=2)
    return decode_trimap(grey).astype(np.float32)


def _snap_jpeg_trimap(path: Path, levels: np.ndarray) -> np.ndarray:
    """A JPEG trimap's levels snapped to the nearest of 0 / 128 / 255, decoded; warns how many moved."""
    if levels.ndim == 3 and levels.shape[2] == 3:
        spread = float(np.median(levels.max(axis=2) - levels.min(axis=2)))
        if spread > JPEG_TRIMAP_CHANNEL_SPREAD:
            raise ValueError(
                f"{path}: JPEG trimap whose colour channels differ like a colour picture's (median spread "
                f"{spread:g} > {JPEG_TRIMAP_CHANNEL_SPREAD}); a trimap is grey: 0 background, 128 unknown, "
                "255 foreground")
        levels = levels.mean(axis=2)  # compression alone makes R, G, B of a grey picture differ
    elif levels.ndim == 3:
        levels = _single_channel(path, levels, "trimap")
    nearest = _TRIMAP_LEVELS[np.argmin(np.abs(levels[..., None] - _TRIMAP_LEVELS), axis=-1)]
    moved = int(np.count_nonzero(nearest != levels))
    if moved:
        warnings.warn(
            f"{path}: JPEG trimap: {moved} of {levels.size} pixels ({moved / levels.size:.1%}) were not exactly "
            "0 / 128 / 255 (lossy compression) and were snapped to the nearest of the three; store trimaps "
            "as PNG to keep them exact", UserWarning, stacklevel=3)
    return decode_trimap(nearest).astype(np.float32)


def check_same_size(arrays: dict[str, np.ndarray]) -> None:
    """Check that arrays read from several files share their height and width.

    Parameters
    ----------
    arrays : dict of str to ndarray
        File name (or any label naming the source) to an array of shape (H, W) or (H, W, C).

    Raises
    ------
    ValueError
        The (H, W) differ; the message lists every file with its size.
    """
    sizes = {name: tuple(np.shape(array)[:2]) for name, array in arrays.items()}
    if len(set(sizes.values())) > 1:
        listing = ", ".join(f"{name}: {h}x{w} (HxW)" for name, (h, w) in sizes.items())
        raise ValueError(f"size mismatch between files that belong together: {listing}; "
                         "give them one size (a trimap or alpha must match its image pixel for pixel)")


def list_image_files(folder: str | os.PathLike) -> dict[str, Path]:
    """List the image files of a folder by file stem.

    Parameters
    ----------
    folder : str or PathLike
        A folder of image files (extensions :data:`IMAGE_EXTENSIONS`, any case). Other files
        and sub-folders are ignored.

    Returns
    -------
    dict of str to Path
        File stem to path, sorted by stem.

    Raises
    ------
    FileNotFoundError
        The folder does not exist.
    ValueError
        The folder holds no image file, or two files share a stem (``a.png`` and ``a.jpg``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    by_stem: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        if path.stem in by_stem:
            raise ValueError(f"{folder}: two files share the stem {path.stem!r}: "
                             f"{by_stem[path.stem].name} and {path.name}")
        by_stem[path.stem] = path
    if not by_stem:
        raise ValueError(f"{folder}: folder holds no image file (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return dict(sorted(by_stem.items()))


def read_json_object(path: str | os.PathLike, what: str = "JSON file") -> dict:
    """Read a JSON file holding one object (a config), with errors that name the file.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is a folder, is not UTF-8 text, is not valid JSON (the message gives the line
        and column of the first error) or holds something other than an object.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such {what}")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a {what}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not a UTF-8 text file ({error.reason} at byte {error.start}); "
                         f"a {what} is JSON text") from error
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: line {error.lineno} column {error.colno}: invalid JSON ({error.msg}); "
                         "fix the file (JSON wants double-quoted keys and strings, no trailing commas, "
                         "true / false / null)") from error
    if not isinstance(value, dict):
        raise ValueError(f"{path}: a {what} must hold a JSON object {{\"key\": value, ...}}; "
                         f"found a {type(value).__name__}")
    return value


def write_alpha_png(path: str | os.PathLike, alpha: np.ndarray) -> None:
    """Write an alpha matte as an 8-bit grey PNG, atomically.

    The PNG is written to a temporary file in the destination folder and moved into place
    with ``os.replace`` (:func:`mattinglib.atomic.atomic_path`), so a reader never sees a
    half-written file and an interrupted write leaves any previous file intact. The file gets
    the permissions of the user's umask, as a plain ``open`` would give it.

    Parameters
    ----------
    path : str or PathLike
        Destination ``.png``; its folder must exist.
    alpha : array_like, shape (H, W) or (1, H, W)
        Alpha in [0, 1] (float) ; stored as ``round(255 * alpha)``.

    Raises
    ------
    FileNotFoundError
        The destination folder does not exist.
    ValueError
        Wrong shape, non-finite values or values outside [0, 1].
    """
    path = Path(path)
    alpha = np.asarray(alpha, dtype=np.float64)
    if alpha.ndim == 3 and alpha.shape[0] == 1:
        alpha = alpha[0]
    if alpha.ndim != 2:
        raise ValueError(f"{path}: alpha to write must have shape (H, W) or (1, H, W); got {alpha.shape}")
    if not np.all(np.isfinite(alpha)):
        raise ValueError(f"{path}: alpha to write has NaN or infinite values")
    if alpha.min(initial=0.0) < 0.0 or alpha.max(initial=0.0) > 1.0:
        raise ValueError(f"{path}: alpha to write must lie in [0, 1]; got [{alpha.min()}, {alpha.max()}]")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: destination folder {path.parent} does not exist")
    levels = np.round(alpha * 255.0).astype(np.uint8)
    with atomic_path(path) as temporary:
        Image.fromarray(levels).save(temporary, format="PNG")  # uint8 (H, W) is mode L
