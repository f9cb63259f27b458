"""Natural photographs for synthetic composites: a pool that needs no download.

The default pool is the photographs that two of our pinned dependencies ship inside their
wheels: scikit-image's ``skimage.data`` (the images bundled with the package, not the ones it
fetches on demand) and matplotlib's sample data. Users add their own folders of jpg / png
files (``load_photo_pool(extra_dirs=...)``), e.g. the ``backgrounds/`` folder of a data root;
this module never guesses a data location.

A photo is a :class:`Photo`: a unique name and an (H, W, 3) uint8 RGB array (grey images are
repeated over the three channels, an alpha channel is dropped). The arrays are read-only, as
they are shared between datasets and DataLoader workers.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mattinglib.data.splits import split_pool

#: File suffixes :func:`load_photo_pool` reads from user folders (compared case-insensitively).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
#: How a photo pool's held-out photographs are drawn (:data:`mattinglib.data.splits.DRAWS`):
#: its own draw since the first split, kept so that no photograph changes split.
PHOTO_DRAW = "permutation"


@dataclass(frozen=True, eq=False)
class Photo:
    """One photograph of the pool.

    Attributes
    ----------
    name : str
        Unique name: ``"skimage:astronaut"``, ``"matplotlib:grace_hopper"``, or for a user
        file the folder's name and the path inside it, ``"backgrounds/mate-nature/Dune.jpg"``.
    pixels : ndarray, shape (H, W, 3), uint8
        RGB, read-only.
    """

    name: str
    pixels: np.ndarray

    def __repr__(self) -> str:
        return f"Photo({self.name!r}, {self.pixels.shape[1]}x{self.pixels.shape[0]})"


def _as_rgb_uint8(array: np.ndarray, what: str) -> np.ndarray:
    """(H, W), (H, W, 3) or (H, W, 4) uint8 -> read-only contiguous (H, W, 3) uint8."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"{what}: expected 8-bit pixels, got dtype {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        array = array[:, :, :3]
    else:
        raise ValueError(f"{what}: expected a grey, RGB or RGBA image, got shape {array.shape}")
    if min(array.shape[:2]) < 16:
        raise ValueError(f"{what}: image of {array.shape[1]}x{array.shape[0]} pixels is too small for a photo pool")
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()
    return load


def _skimage_motorcycle() -> np.ndarray:
    import skimage.data

    left, _right, _disparity = skimage.data.stereo_motorcycle()
    return left


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from matplotlib import cbook
        from PIL import Image

        with cbook.get_sample_data(filename) as handle:
            return np.asarray(Image.open(handle).convert("RGB"))
    return load


#: The bundled photographs, in pool order: (name, loader). Only natural photographs; the
#: synthetic test patterns (chessboard, colour wheel, phantom, logos, text) are left out, and
#: of the stereo motorcycle pair only the left view (the two views nearly duplicate each
#: other, which would leak across a train/test split). Each of these files is inside the
#: scikit-image 0.26 / matplotlib 3.11 wheels; none is fetched over the network.
BUNDLED_PHOTOS: tuple[tuple[str, Callable[[], np.ndarray]], ...] = (
    # colour photographs
    ("skimage:astronaut", _skimage("astronaut")),
    ("skimage:chelsea", _skimage("chelsea")),
    ("skimage:coffee", _skimage("coffee")),
    ("skimage:hubble_deep_field", _skimage("hubble_deep_field")),
    ("skimage:immunohistochemistry", _skimage("immunohistochemistry")),
    ("skimage:motorcycle_left", _skimage_motorcycle),
    ("skimage:retina", _skimage("retina")),
    ("skimage:rocket", _skimage("rocket")),
    ("matplotlib:grace_hopper", _matplotlib("grace_hopper.jpg")),
    # grey photographs and textures (repeated over RGB)
    ("skimage:brick", _skimage("brick")),
    ("skimage:camera", _skimage("camera")),
    ("skimage:coins", _skimage("coins")),
    ("skimage:grass", _skimage("grass")),
    ("skimage:gravel", _skimage("gravel")),
    ("skimage:moon", _skimage("moon")),
)


@functools.lru_cache(maxsize=1)
def _bundled_pool() -> tuple[Photo, ...]:
    return tuple(Photo(name, _as_rgb_uint8(load(), name)) for name, load in BUNDLED_PHOTOS)


def read_photo(path: str | os.PathLike) -> np.ndarray:
    """Read one photograph file as (H, W, 3) uint8 RGB (read-only).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file cannot be decoded as an image, naming the file.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"photo file {path} does not exist")
    try:
        with Image.open(path) as image:
            if image.mode in ("I;16", "I;16B", "I", "F"):
                # 16-bit / float greys: scale to 8 bits rather than let PIL clip them.
                values = np.asarray(image, dtype=np.float64)
                pixels = np.clip(np.rint(values * 255.0 / max(values.max(), 1.0)), 0, 255).astype(np.uint8)
            else:
                pixels = np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"photo file {path} could not be read as an image: {error}") from error
    return _as_rgb_uint8(pixels, str(path))


def load_photo_pool(extra_dirs: Sequence[str | os.PathLike] = (), include_bundled: bool = True) -> list[Photo]:
    """The photo pool: the bundled photographs, then every jpg / png under ``extra_dirs``.

    Parameters
    ----------
    extra_dirs : sequence of paths
        Folders searched recursively for files ending in :data:`PHOTO_SUFFIXES` (any case),
        in the order given; inside a folder, files are sorted by their relative path, so the
        pool's order does not depend on the file system.
    include_bundled : bool
        Start with :data:`BUNDLED_PHOTOS` (15 photographs). False: only the user folders.

    Returns
    -------
    list of Photo
        In a deterministic order, names unique.

    Raises
    ------
    FileNotFoundError
        If a folder does not exist.
    ValueError
        If a file cannot be decoded (naming it), a folder holds no photo, or two photos get
        the same name (two folders with the same name).
    """
    if isinstance(extra_dirs, (str, os.PathLike)):
        extra_dirs = [extra_dirs]
    pool = list(_bundled_pool()) if include_bundled else []
    for folder in map(Path, extra_dirs):
        if not folder.is_dir():
            raise FileNotFoundError(f"photo folder {folder} does not exist or is not a folder")
        files = sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES),
                       key=lambda p: p.relative_to(folder).as_posix())
        if not files:
            raise ValueError(f"photo folder {folder} holds no {'/'.join(PHOTO_SUFFIXES)} file")
        for path in files:
            pool.append(Photo(f"{folder.name}/{path.relative_to(folder).as_posix()}", read_photo(path)))
    names = [photo.name for photo in pool]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"photo names must be unique; repeated: {duplicates[:5]} (two folders with the same name?)")
    return pool


def photo_splits(pool: Sequence[Photo], test_fraction: float, validation_fraction: float = 0.0,
                 seed: int = 0) -> dict[str, list[Photo]]:
    """The train, validation and test photographs of a pool: :func:`~mattinglib.data.splits.split_pool`
    of their names, drawn the photo pools' way (:data:`PHOTO_DRAW`).

    Parameters
    ----------
    pool : sequence of Photo
        Unique names; at least two photographs when a fraction is above 0.
    test_fraction : float in [0, 1)
        Share of the pool held out for the test split, drawn with ``seed``.
    validation_fraction : float in [0, 1)
        Share of what the test split leaves held out for validation (drawn with
        :func:`~mattinglib.data.splits.validation_seed` of ``seed``).
    seed : int

    Returns
    -------
    dict
        ``{"train": [...], "validation": [...], "test": [...]}``, lists of Photo in the pool's
        order, no photograph in two lists. The split depends only on the pool's names, their
        order, the fractions and ``seed``.
    """
    by_name = {photo.name: photo for photo in pool}
    if len(by_name) != len(pool):
        raise ValueError("photo names must be unique to split a pool")
    names = split_pool(list(by_name), test_fraction, validation_fraction, seed, draw=PHOTO_DRAW)
    return {split: [by_name[name] for name in chosen] for split, chosen in names.items()}


def split_photo_pool(pool: Sequence[Photo], test_fraction: float, seed: int) -> tuple[list[Photo], list[Photo]]:
    """``(train, test)`` photographs of a pool: :func:`photo_splits` without a validation split."""
    parts = photo_splits(pool, test_fraction, 0.0, seed)
    return parts["train"], parts["test"]
