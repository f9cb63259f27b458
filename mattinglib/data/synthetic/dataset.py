"""The synthetic matting dataset: seeded composites with their trimaps, made on the fly.

:class:`SyntheticMattingDataset` makes item ``index`` from its own seed sequence, so that an
item is the same whatever the order, the worker or the other items read.

Item cache. An item before its transform (composite and trimap) is a pure function of
``(seed, split, index)`` unless ``resample_per_epoch``, and a training run sees each one
several times (the ``cpu`` profile draws 600 x 8 samples from 2,000 items). The dataset keeps
up to :data:`ITEM_CACHE_BYTES` of them in memory and hands out fresh copies, so the numbers
are the same with the cache and without it (tests/test_train.py trains both and compares).
With a ``store`` folder the items are also kept on disk (:mod:`~mattinglib.data.synthetic.store`),
so that later runs on the same items (other arms, learning rates) do not make them again.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from mattinglib.data.photos import Photo, load_photo_pool, photo_splits
from mattinglib.data.transforms import SeededDataset, Transform, make_sample
from mattinglib.labels import make_trimap

from .compositing import _pair, make_composite
from .store import ItemStore, store_digest

#: First word of every composite's seed sequence, so that a composite's generator never
#: equals a transform's ``default_rng((seed, epoch, index))``.
_COMPOSITE_STREAM = 0x6D617474            # "matt"
_RESAMPLED_STREAM = 0x6D617475
_SPLIT_CODES = {"train": 1, "test": 2, None: 3, "validation": 4}

#: Memory (bytes, per dataset object and process) for items kept before their transform;
#: 0 switches the cache off. 2,000 items of 96 px take 0.7 GB (350 KB each: image, fg and
#: bg in float32, alpha and trimap packed into 8 bits); items past the budget are remade.
ITEM_CACHE_BYTES = 2 ** 30

#: False: datasets neither read nor write their ``store`` (the benchmark's "today" path).
STORE_ENABLED = True


class SyntheticMattingDataset(SeededDataset):
    """Synthetic composites (:func:`make_composite`) generated on the fly, deterministically.

    Item ``index`` is made from its own generator seeded with ``(seed, split, index)`` (and the
    epoch when ``resample_per_epoch``): the foreground and background photos (distinct when the
    split has two or more), the composite, and the trimap (:func:`mattinglib.labels.make_trimap`
    with ``trimap_width``). The train and test splits use disjoint photos
    (:func:`~mattinglib.data.photos.photo_splits` with ``test_fraction`` and ``split_seed``)
    and disjoint seed streams. A ``transform(sample, rng)`` then gets
    ``rng = default_rng((seed, epoch, index))`` (:class:`SeededDataset`), so random crops change
    with :meth:`set_epoch` while the composite does not.

    With ``validation_fraction > 0`` the photos left after the test split are split again
    (:func:`~mattinglib.data.splits.split_pool`): "validation" uses the held-out part, "train"
    the rest, so the three splits share no photograph and no seed stream (where settings are
    chosen on the validation split, the test split stays unseen).

    Parameters
    ----------
    size : int or (height, width)
        Composite size in pixels.
    length : int
        Number of items.
    seed : int
        Non-negative base seed.
    split : {"train", "validation", "test", None}
        Which photos of the split to use; ``None`` uses the whole pool (no held-out photos).
    photos : sequence of Photo or of (h, w, 3) arrays, optional
        The photo pool before splitting; default :func:`~mattinglib.data.photos.load_photo_pool`
        (the bundled photographs). Give train and test datasets the same pool and split seed.
    transform : callable ``(sample, rng) -> sample``, optional
    test_fraction : float in [0, 1)
        Share of the pool's photographs held out for the test split.
    split_seed : int
        Seed of the photo split, independent of ``seed``: changing the sampling seed never
        moves a photograph between train and test.
    validation_fraction : float in [0, 1)
        Share of the non-test photographs held out for the validation split (0: no validation
        split, "train" uses every non-test photograph).
    trimap_width : float or (lo, hi)
        Per-side width of the trimap's unknown band (``fg_width`` = ``bg_width`` specification of
        :func:`~mattinglib.labels.make_trimap`, drawn per item and side).
    trimap_reference_size : int, (height, width) or None
        ``reference_size`` of :func:`~mattinglib.labels.make_trimap`.
    resample_per_epoch : bool
        True: a new composite for every (epoch, index) instead of one per index.
    store : str or PathLike, optional
        Root folder of an on-disk item store (:class:`~mattinglib.data.synthetic.store.ItemStore`),
        shared with every dataset and process that draws the same items; None keeps items in
        this object's memory only. Not used with ``resample_per_epoch``.
    epoch : int
        Starting epoch.
    **composite_options
        Keyword options of :func:`make_composite` (``hair_probability``, ``veil_probability``,
        ``colour_jitter``, ``zoom_range``, ``max_strands``, ``quantize_alpha``).

    Samples
    -------
    ``{"image": (3, H, W), "trimap": (1, H, W), "alpha": (1, H, W), "fg": (3, H, W),
    "bg": (3, H, W), "name": "synthetic-<split>-<seed>-<index>"}``, float32 tensors.
    """

    def __init__(self, size=256, length: int = 1000, seed: int = 0, split: str | None = "train",
                 photos: Sequence[Photo | np.ndarray] | None = None, transform: Transform | None = None, *,
                 test_fraction: float = 0.2, split_seed: int = 0, validation_fraction: float = 0.0,
                 trimap_width=(3, 12),
                 trimap_reference_size: int | tuple[int, int] | None = None, resample_per_epoch: bool = False,
                 store=None, epoch: int = 0, **composite_options):
        super().__init__(seed=seed, epoch=epoch)
        if split not in _SPLIT_CODES:
            raise ValueError(f"split must be 'train', 'validation', 'test' or None; got {split!r}")
        if split == "validation" and not validation_fraction:
            raise ValueError("the 'validation' split needs validation_fraction > 0")
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise ValueError(f"length must be a positive integer; got {length!r}")
        unknown = set(composite_options) - {"hair_probability", "veil_probability", "colour_jitter",
                                            "zoom_range", "max_strands", "quantize_alpha"}
        if unknown:
            raise TypeError(f"unknown make_composite option(s): {sorted(unknown)}")
        self.size = _pair(size)
        self.length = int(length)
        self.split = split
        self.transform = transform
        self.trimap_width = trimap_width
        self.trimap_reference_size = trimap_reference_size
        self.resample_per_epoch = bool(resample_per_epoch)
        self.composite_options = dict(composite_options)

        pool = load_photo_pool() if photos is None else [
            p if isinstance(p, Photo) else Photo(f"photo-{k}", np.asarray(p)) for k, p in enumerate(photos)]
        if not pool:
            raise ValueError("the photo pool is empty")
        if split is None:
            self.photos = list(pool)
        else:
            self.photos = photo_splits(pool, test_fraction, validation_fraction, split_seed)[split]
            if not self.photos:
                raise ValueError(f"the {split!r} split has no photo (test_fraction={test_fraction}, "
                                 f"validation_fraction={validation_fraction}, "
                                 f"{len(pool)} photos in the pool)")
        # Validate the trimap width specification now rather than in a DataLoader worker.
        make_trimap(np.zeros((2, 2)), trimap_width, rng=np.random.default_rng(0))
        self._cache: dict[tuple, dict] = {}   # (seed, split, index) -> packed item, see _pack
        self._cache_bytes = 0
        self._store: ItemStore | None = None   # opened on first use (hashing the photos takes a moment)
        self.use_store(store)

    def __getstate__(self) -> dict:
        # A pickled copy (a spawned DataLoader worker) starts with an empty cache of its own.
        state = self.__dict__.copy()
        state["_cache"], state["_cache_bytes"], state["_store"] = {}, 0, None
        return state

    def __len__(self) -> int:
        return self.length

    def store_settings(self) -> dict:
        """Everything besides the photos and the code that decides an item (the store's key)."""
        return {"size": list(self.size), "seed": self.seed, "split": self.split,
                "trimap_width": self.trimap_width, "trimap_reference_size": self.trimap_reference_size,
                "composite_options": self.composite_options}

    def use_store(self, root) -> None:
        """Keep items in the store under ``root`` from now on (None: in memory only)."""
        self.store_root = None if root is None or self.resample_per_epoch else Path(root)
        self._store = None

    def clear_cache(self) -> None:
        """Forget the items kept in memory (the store, if any, keeps its own)."""
        self._cache, self._cache_bytes = {}, 0

    @property
    def store(self) -> ItemStore | None:
        """The on-disk item store of these items, or None (no ``store`` folder given)."""
        if self._store is None and self.store_root is not None:
            settings = self.store_settings()
            self._store = ItemStore(self.store_root, store_digest(settings, self.photos), settings)
        return self._store

    def composite_seed(self, index: int) -> np.random.SeedSequence:
        """The seed sequence of item ``index``'s composite and trimap."""
        if self.resample_per_epoch:
            words = (_RESAMPLED_STREAM, self.seed, _SPLIT_CODES[self.split], self.epoch, index)
        else:
            words = (_COMPOSITE_STREAM, self.seed, _SPLIT_CODES[self.split], index)
        return np.random.SeedSequence(words)

    def __getitem__(self, index: int) -> dict:
        if isinstance(index, (int, np.integer)) and -self.length <= index < 0:
            index += self.length
        if not isinstance(index, (int, np.integer)) or not 0 <= index < self.length:
            raise IndexError(f"index {index!r} out of range for a dataset of length {self.length}")
        index = int(index)
        sample = self._untransformed(index)
        if self.transform is not None:
            sample = self.transform(sample, self.sample_rng(index))
        return sample

    def _untransformed(self, index: int) -> dict:
        """Item ``index`` before its transform, from the cache when it holds it."""
        if ITEM_CACHE_BYTES <= 0 or self.resample_per_epoch:
            return self._make_item(index)
        key = (self.seed, self.split, index)
        entry = self._cache.get(key)
        if entry is None:
            store = self.store if STORE_ENABLED else None
            entry = store.get(index) if store is not None else None
            if entry is None:
                entry = _pack(self._make_item(index))
                if store is not None:
                    store.put(index, entry)
            size = _packed_bytes(entry)
            if self._cache_bytes + size > ITEM_CACHE_BYTES:
                return _unpack(entry)
            self._cache[key] = entry
            self._cache_bytes += size
        return _unpack(entry)

    def _make_item(self, index: int) -> dict:
        """Item ``index`` before its transform: the composite, its trimap and layers as tensors."""
        # Separate generators: changing the trimap options leaves the composite unchanged.
        composite_seq, label_seq = self.composite_seed(index).spawn(2)
        rng = np.random.default_rng(composite_seq)
        fg_photo, bg_photo = self._pick_photos(rng)
        composite = make_composite(rng, self.size, fg_photo.pixels, bg_photo.pixels, **self.composite_options)
        trimap = make_trimap(composite["alpha"], self.trimap_width, rng=np.random.default_rng(label_seq),
                             reference_size=self.trimap_reference_size)
        name = f"synthetic-{self.split}-{self.seed}-{index}"
        if self.resample_per_epoch:
            name += f"-e{self.epoch}"
        sample = make_sample(name, composite["image"], trimap, composite["alpha"])
        sample["fg"] = torch.from_numpy(np.ascontiguousarray(composite["fg"].transpose(2, 0, 1)))
        sample["bg"] = torch.from_numpy(np.ascontiguousarray(composite["bg"].transpose(2, 0, 1)))
        return sample

    def _pick_photos(self, rng: np.random.Generator) -> tuple[Photo, Photo]:
        """Foreground and background photos, distinct when the split has two or more."""
        fg_pick = int(rng.integers(len(self.photos)))
        bg_pick = fg_pick
        if len(self.photos) > 1:
            bg_pick = (fg_pick + 1 + int(rng.integers(len(self.photos) - 1))) % len(self.photos)
        return self.photos[fg_pick], self.photos[bg_pick]

    def photo_names(self, index: int) -> tuple[str, str]:
        """Names of the (foreground, background) photos of item ``index`` (no composite made)."""
        foreground, background = self._pick_photos(np.random.default_rng(self.composite_seed(index).spawn(2)[0]))
        return foreground.name, background.name


#: Keys whose values are multiples of 1 / scale in [0, 1] (8-bit alpha, three-level trimap),
#: stored as uint8 codes: a quarter of the memory of float32.
_PACKED_SCALES = {"alpha": 255.0, "trimap": 2.0}


def _pack(sample: dict) -> dict:
    """A cache entry of an untransformed sample.

    ``"alpha"`` (1, H, W) and ``"trimap"`` (1, H, W) become ``(uint8 codes, scale)`` when
    decoding them gives back the same float32 bits (alpha quantised to k / 255, the trimap's
    0 / 0.5 / 1); any other value, and any tensor that does not decode exactly (values off the
    grid, outside [0, 1], NaN), is kept as it is.
    """
    entry = {}
    for key, value in sample.items():
        scale = _PACKED_SCALES.get(key)
        if scale is not None and torch.is_tensor(value) and value.dtype == torch.float32:
            # numpy: a few microseconds per operation on these small planes, torch several times more.
            values = value.numpy()
            with np.errstate(invalid="ignore"):  # NaN or out-of-range codes fail the check below
                codes = np.rint(values * np.float32(scale)).astype(np.uint8)
            if np.array_equal(_decode(codes, scale).view(np.int32), values.view(np.int32)):
                entry[key] = (codes, scale)
                continue
        entry[key] = value
    return entry


def _decode(codes: np.ndarray, scale: float) -> np.ndarray:
    # float32 / float32: one correctly rounded division, as np.rint(a * 255) / 255 makes alpha.
    return codes.astype(np.float32) / np.float32(scale)


def _unpack(entry: dict) -> dict:
    """A fresh sample from a cache entry: no tensor is shared with the cache."""
    sample = {}
    for key, value in entry.items():
        if isinstance(value, tuple):
            sample[key] = torch.from_numpy(_decode(*value))
        elif torch.is_tensor(value):
            sample[key] = value.clone()
        else:
            sample[key] = value
    return sample


def _packed_bytes(entry: dict) -> int:
    size = 0
    for value in entry.values():
        if isinstance(value, tuple):
            size += value[0].nbytes
        elif torch.is_tensor(value):
            size += value.numel() * value.element_size()
    return size
