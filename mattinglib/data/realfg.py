"""Composites of real foregrounds (the alphamatting.com scenes) over held-out photographs.

Each scene gives a true alpha; its foreground colour ``F`` is estimated from the photograph
and the alpha (:func:`estimate_foreground`), and new training images are made as
``I = alpha * F + (1 - alpha) * B`` over background photographs ``B`` that the scenes were
not shot in front of. Train, validation and test composites use disjoint scenes
(:func:`~mattinglib.data.splits.split_pool`); the caller passes disjoint background lists for
them as well.

Speed. An item crops a whole scene and a whole background photograph, which costs more than
compositing the crop: the unknown-centred crop's candidate windows of each scene and each
background as a (3, H, W) tensor (enlarged when too small) depend on the scene or photo only,
so with :data:`REUSE_PREPARED` they are made once per dataset and reused. The items are the
same either way (tests/test_train.py trains both and compares).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mattinglib.data.splits import SPLITS, split_pool
from mattinglib.data.transforms import RandomCrop, SeededDataset, Transform

#: Reuse each scene's crop candidates and each background tensor between items (see the
#: module docstring); False makes them again for every item, as before.
REUSE_PREPARED = True
#: The factors a see-through item's foreground alpha is scaled by (``translucent_share``):
#: from faint (a veil) to nearly opaque (a flag's cloth against the light).
TRANSLUCENCY_RANGE = (0.3, 0.9)


def estimate_foreground(image: np.ndarray, alpha: np.ndarray, cache_dir: str | os.PathLike | None = None,
                        name: str = "scene") -> np.ndarray:
    """Estimate the foreground colour of an image with a known alpha.

    Uses ``pymatting.estimate_foreground_ml`` (Germer et al., multi-level foreground
    estimation) with its default settings. With ``cache_dir`` the result is stored as
    ``cache_dir/NAME-DIGEST.npy``, where DIGEST hashes the image and alpha, so a changed
    input never reuses a stale file; the file is written to a temporary name and moved into
    place atomically, so concurrent DataLoader workers can share the folder.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3)
        RGB in [0, 1].
    alpha : ndarray, shape (H, W)
        Alpha in [0, 1].
    cache_dir : str or PathLike, optional
        Folder for the cached result (created when missing).
    name : str
        Readable prefix of the cache file name (e.g. the scene name).

    Returns
    -------
    ndarray, shape (H, W, 3), float32
        Foreground colour in [0, 1].
    """
    image = np.asarray(image, dtype=np.float64)
    alpha = np.asarray(alpha, dtype=np.float64)
    if image.ndim != 3 or image.shape[2] != 3 or alpha.shape != image.shape[:2]:
        raise ValueError(f"{name}: need image (H, W, 3) and alpha (H, W); got {image.shape} and {alpha.shape}")
    cache_path = None
    if cache_dir is not None:
        digest = hashlib.sha256()
        for array in (image, alpha):
            digest.update(str(array.shape).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        cache_dir = Path(cache_dir)
        cache_path = cache_dir / f"{name}-{digest.hexdigest()[:16]}.npy"
        if cache_path.is_file():
            return np.load(cache_path)

    # Imported here: pymatting pulls in numba, which is slow to import and only needed here.
    from pymatting import estimate_foreground_ml

    foreground = np.clip(estimate_foreground_ml(image, alpha), 0.0, 1.0).astype(np.float32)
    if cache_path is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=cache_dir, prefix=f".{name}.", suffix=".npy.tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.save(stream, foreground)
            os.replace(temporary, cache_path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
    return foreground


def split_scenes(names: Sequence[str], test: float | Sequence[str], seed: int = 0) -> tuple[list[str], list[str]]:
    """``(train, test)`` scene names: :func:`~mattinglib.data.splits.split_pool` without a
    validation split.

    Parameters
    ----------
    names : sequence of str
        All scene names (distinct).
    test : float or sequence of str
        A fraction in [0, 1): ``round(fraction * len(names))`` scenes (at least one, and
        at least one left for training; none for 0) are drawn for the test set with ``seed``.
        Or an explicit list of test scene names.
    seed : int
        Seed of the draw (unused with an explicit list).

    Returns
    -------
    train, test : list of str
        Both in the order of ``names``.
    """
    parts = split_pool(names, test, 0.0, seed)
    return parts["train"], parts["test"]


#: Rec. 601 luma weights: the grey that saturation jitter blends toward.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def jitter_colour(rgb: torch.Tensor, factors) -> torch.Tensor:
    """Scale the brightness, contrast and saturation of an RGB tensor.

    Parameters
    ----------
    rgb : Tensor, shape (3, H, W)
        Colours in [0, 1] (not modified).
    factors : sequence of 3 floats
        Brightness (a gain), contrast (distance from the mean grey level scaled) and saturation
        (distance from each pixel's luma scaled); 1 leaves that property as it is.

    Returns
    -------
    Tensor, shape (3, H, W)
        The new colours, clipped to [0, 1].
    """
    brightness, contrast, saturation = (float(f) for f in factors)
    out = rgb * brightness
    luma_weights = torch.tensor(LUMA_WEIGHTS, dtype=rgb.dtype).view(3, 1, 1)
    mean = (out * luma_weights).sum(0).mean()
    out = (out - mean) * contrast + mean
    luma = (out * luma_weights).sum(0, keepdim=True)
    out = (out - luma) * saturation + luma
    return out.clamp_(0.0, 1.0)


def _to_hwc_float(array, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"{what} must have shape (H, W, 3); got {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    array = array.astype(np.float32)
    if array.min() < 0.0 or array.max() > 1.0:
        raise ValueError(f"{what} must be uint8 or float in [0, 1]; got [{array.min()}, {array.max()}]")
    return array


class RealForegroundCompositeDataset(SeededDataset):
    """Composites of real scene foregrounds over background photographs.

    Item ``index`` draws, from its own generator (``SeededDataset.sample_rng``): a scene of
    the split, a crop of ``size`` of the scene's foreground, alpha and trimap (centred on a
    random unknown pixel, :class:`~mattinglib.data.transforms.RandomCrop`), a background
    photograph and a crop of it of the same size (a photograph smaller than ``size`` is first
    enlarged bilinearly, keeping its aspect ratio, to cover it), and composites them.

    Parameters
    ----------
    scenes_dataset : dataset
        Gives the scenes; items must have ``"image"`` (3, H, W), ``"alpha"`` (1, H, W),
        ``"trimap"`` (1, H, W) and ``"name"``, e.g. an ``AlphaMattingDataset`` with no
        transform (its trimap choice carries over).
    backgrounds : sequence of ndarray, shape (H, W, 3)
        Background photographs, uint8 or float in [0, 1]; pass photographs held out from any
        other use (and different lists for the train and test splits).
    length : int
        Number of items (an epoch).
    seed : int
        Seed of the item generators; the epoch is set with ``set_epoch``.
    size : int or (int, int)
        Composite height and width.
    split : {"train", "validation", "test", None}
        Which scenes of :func:`~mattinglib.data.splits.split_pool` to use; None uses all scenes.
    test : float or sequence of str
        The ``test`` argument of :func:`~mattinglib.data.splits.split_pool`.
    split_seed : int
        The seed of :func:`~mattinglib.data.splits.split_pool` (independent of ``seed``, so that
        changing the sampling seed never moves scenes between the splits).
    cache_dir : str or PathLike, optional
        Foreground cache folder for :func:`estimate_foreground`.
    transform : callable ``(sample, rng) -> sample``, optional
        Applied to the composite sample.
    validation : float in [0, 1)
        Share of the non-test scenes held out for the "validation" split (0: none).
    foreground_jitter : float in [0, 1)
        Colour augmentation of the foreground before compositing (:func:`jitter_colour`):
        brightness, contrast and saturation factors drawn in [1 - j, 1 + j] per item, so that a
        network does not learn the 16-odd training scenes' colours. 0 (the default, and the held-out
        sets') draws nothing: the items are those of a dataset without the parameter.
    translucent_share : float in [0, 1]
        Share of the items whose foreground is made see-through: its alpha multiplied by a
        factor drawn in :data:`TRANSLUCENCY_RANGE` before compositing (the item's alpha is the
        scaled one, so a trimap drawn from it marks the whole object unknown where no pixel
        stays opaque). The 16-odd training scenes show few translucent regions (a flag, a
        net); the benchmark's held-out scenes have some. 0 (the default) draws nothing.

    Notes
    -----
    Every scene of the split is read and its foreground estimated in the constructor (about
    0.1-1 s per scene, once per cache). Samples: ``{"image": (3, h, w), "trimap": (1, h, w),
    "alpha": (1, h, w), "name": "SCENE+bgK"}``, float32.
    """

    def __init__(self, scenes_dataset, backgrounds: Sequence[np.ndarray], length: int, seed: int = 0,
                 size=512, split: str | None = "train", test: float | Sequence[str] = 0.2,
                 split_seed: int = 0, cache_dir: str | os.PathLike | None = None,
                 transform: Transform | None = None, epoch: int = 0, validation: float = 0.0,
                 foreground_jitter: float = 0.0, translucent_share: float = 0.0):
        super().__init__(seed=seed, epoch=epoch)
        if not 0.0 <= translucent_share <= 1.0:
            raise ValueError(f"translucent_share must lie in [0, 1]; got {translucent_share}")
        self.translucent_share = float(translucent_share)
        if not 0.0 <= foreground_jitter < 1.0:
            raise ValueError(f"foreground_jitter must lie in [0, 1); got {foreground_jitter}")
        self.foreground_jitter = float(foreground_jitter)
        if length < 1:
            raise ValueError(f"length must be positive; got {length}")
        if not backgrounds:
            raise ValueError("need at least one background photograph")
        self.length = int(length)
        self.crop = RandomCrop(size)
        self.size = self.crop.size
        self.transform = transform
        self.backgrounds = [_to_hwc_float(b, f"background {k}") for k, b in enumerate(backgrounds)]

        samples = [scenes_dataset[i] for i in range(len(scenes_dataset))]
        names = [s["name"] for s in samples]
        if split is None:
            chosen = names
        elif split in SPLITS:
            chosen = split_pool(names, test, validation, split_seed)[split]
            if not chosen:
                raise ValueError(f"the {split!r} split has no scene (validation={validation})")
        else:
            raise ValueError(f"split must be 'train', 'validation', 'test' or None; got {split!r}")
        self.scene_names = chosen

        self.scenes = []
        for sample in samples:
            if sample["name"] not in chosen:
                continue
            if "alpha" not in sample:
                raise ValueError(f"scene {sample['name']}: compositing needs its alpha")
            image = sample["image"].numpy().transpose(1, 2, 0)
            alpha = sample["alpha"][0].numpy()
            foreground = estimate_foreground(image, alpha, cache_dir, sample["name"])
            self.scenes.append({
                "foreground": torch.from_numpy(np.ascontiguousarray(foreground.transpose(2, 0, 1))),
                "alpha": sample["alpha"], "trimap": sample["trimap"], "name": sample["name"]})
        # Made on first use (REUSE_PREPARED): scene position -> crop candidates, k -> (3, h, w) tensor.
        self._candidates: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._prepared_backgrounds: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return self.length

    def _background(self, k: int) -> torch.Tensor:
        """Background ``k`` as a (3, H, W) float32 tensor in [0, 1], enlarged bilinearly (keeping
        its aspect ratio) to cover the composite size when it is smaller."""
        crop_h, crop_w = self.size
        background = torch.from_numpy(self.backgrounds[k].transpose(2, 0, 1).copy())
        height, width = background.shape[1:]
        if height < crop_h or width < crop_w:
            scale = max(crop_h / height, crop_w / width)
            new_size = (max(crop_h, int(np.ceil(height * scale))), max(crop_w, int(np.ceil(width * scale))))
            background = F.interpolate(background[None], size=new_size, mode="bilinear",
                                       align_corners=False)[0].clamp_(0.0, 1.0)
        return background

    def _background_crop(self, k: int, rng: np.random.Generator) -> torch.Tensor:
        """A (3, h, w) crop of background ``k`` (a view: the caller must not write to it)."""
        crop_h, crop_w = self.size
        if REUSE_PREPARED:
            background = self._prepared_backgrounds.get(k)
            if background is None:
                background = self._prepared_backgrounds[k] = self._background(k)
        else:
            background = self._background(k)
        height, width = background.shape[1:]
        top = int(rng.integers(height - crop_h + 1))
        left = int(rng.integers(width - crop_w + 1))
        return background[:, top:top + crop_h, left:left + crop_w]

    def _scene_crop(self, position: int, rng: np.random.Generator) -> dict:
        """The foreground, alpha and trimap of scene ``position`` cropped to the composite size."""
        scene = self.scenes[position]
        layers = {k: scene[k] for k in ("foreground", "alpha", "trimap")}
        if not REUSE_PREPARED:
            return self.crop(layers, rng)
        candidates = self._candidates.get(position)
        if candidates is None:
            candidates = self._candidates[position] = self.crop.unknown_candidates(scene["trimap"])
        return self.crop(layers, rng, candidates=candidates)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        rng = self.sample_rng(index)
        position = int(rng.integers(len(self.scenes)))
        scene = self.scenes[position]
        cropped = self._scene_crop(position, rng)
        foreground = cropped["foreground"]
        if self.foreground_jitter:
            foreground = jitter_colour(foreground, rng.uniform(1.0 - self.foreground_jitter,
                                                               1.0 + self.foreground_jitter, size=3))
        k = int(rng.integers(len(self.backgrounds)))
        background = self._background_crop(k, rng)
        alpha = cropped["alpha"]
        if self.translucent_share and rng.random() < self.translucent_share:
            alpha = alpha * float(rng.uniform(*TRANSLUCENCY_RANGE))
        image = alpha * foreground + (1.0 - alpha) * background
        sample = {"image": image.clamp_(0.0, 1.0), "trimap": cropped["trimap"], "alpha": alpha,
                  "name": f"{scene['name']}+bg{k}"}
        if self.transform is not None:
            sample = self.transform(sample, rng)
        return sample
