"""Datasets and data helpers.

Submodules: :mod:`~mattinglib.data.photos` (the bundled natural photographs and user
folders), :mod:`~mattinglib.data.synthetic` (procedural composites with exact alpha),
:mod:`~mattinglib.data.alphamatting` (the 27 real alphamatting.com scenes),
:mod:`~mattinglib.data.realfg` (real foregrounds over held-out photos),
:mod:`~mattinglib.data.folders` (AM-2K, P3M-10K and a user's own folders),
:mod:`~mattinglib.data.splits` (the train / validation / test split of every pool) and
:mod:`~mattinglib.data.transforms` (seeded sample transforms and the dataset base class).
"""
from mattinglib.data.alphamatting import AlphaMattingDataset
from mattinglib.data.folders import FolderMattingDataset
from mattinglib.data.photos import BUNDLED_PHOTOS, Photo, load_photo_pool, photo_splits, read_photo, split_photo_pool
from mattinglib.data.realfg import RealForegroundCompositeDataset, estimate_foreground, split_scenes
from mattinglib.data.splits import split_pool
from mattinglib.data.synthetic import SyntheticMattingDataset, crop_photo, make_composite
from mattinglib.data.transforms import (AddNeighbors, Compose, RandomCrop, RandomFlip, RandomScale, Resize,
                                        SeededDataset, make_sample)

__all__ = [
    "AddNeighbors", "AlphaMattingDataset", "BUNDLED_PHOTOS", "Compose", "FolderMattingDataset", "Photo",
    "RandomCrop", "RandomFlip", "RandomScale", "RealForegroundCompositeDataset", "Resize", "SeededDataset",
    "SyntheticMattingDataset", "crop_photo", "estimate_foreground", "load_photo_pool", "make_composite",
    "make_sample", "photo_splits", "read_photo", "split_photo_pool", "split_pool", "split_scenes",
]
