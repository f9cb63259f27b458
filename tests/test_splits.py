"""The train / validation / test splits of every pool (mattinglib.data.splits) and the held-out sets built alone.

The pinned lists below were computed before the splits were gathered into
:func:`mattinglib.data.splits.split_pool` (with ``split_scenes_three_ways``, ``split_scenes`` and
``split_photo_pool`` as they were): every split must stay exactly as it was, same names in the
same lists and order, or every held-out score of the study would move.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import mattinglib.build as build_module
from mattinglib.build import (TEST_FRACTION, TEST_SEED, VALIDATION_FRACTION, VALIDATION_SEED, build_datasets,
                              build_held_out_set, build_validation_set, own_folder_split, scene_splits)
from mattinglib.config import TrainConfig
from mattinglib.data import (AlphaMattingDataset, RealForegroundCompositeDataset, SyntheticMattingDataset,
                             load_photo_pool, photo_splits, split_photo_pool, split_pool, split_scenes)
from mattinglib.data.folders import write_example_tree
from mattinglib.data.splits import split_off, validation_seed
from mattinglib.study.evalsets import evaluation_sets, real_scene_sets

SCENES = [f"GT{i:02d}" for i in range(1, 28)]
#: The 27 alphamatting.com scenes, as every real-scene set of a run splits them.
SCENE_SPLITS = {
    "train": ["GT02", "GT03", "GT05", "GT06", "GT07", "GT10", "GT14", "GT15", "GT17", "GT18", "GT21", "GT22",
              "GT23", "GT24", "GT26", "GT27"],
    "validation": ["GT01", "GT04", "GT11", "GT12", "GT19", "GT25"],
    "test": ["GT08", "GT09", "GT13", "GT16", "GT20"],
}
#: The bundled photo pool (15 photographs), as the synthetic sets and the real-foreground backgrounds split it.
BUNDLED_SPLITS = {
    "train": ["skimage:astronaut", "skimage:chelsea", "skimage:immunohistochemistry", "skimage:motorcycle_left",
              "skimage:rocket", "matplotlib:grace_hopper", "skimage:brick", "skimage:grass", "skimage:gravel"],
    "validation": ["skimage:retina", "skimage:camera", "skimage:moon"],
    "test": ["skimage:coffee", "skimage:hubble_deep_field", "skimage:coins"],
}
#: The bundled pool and the 26 photographs of the shared ``backgrounds/`` folder (the study's
#: real-foreground backgrounds with ``photo_dirs``).
LOMIRI, MATE = "backgrounds/lomiri-16.04/", "backgrounds/mate-nature/"
BACKGROUND_SPLITS = {
    "train": ["skimage:astronaut", "skimage:chelsea", "skimage:hubble_deep_field", "skimage:retina", "skimage:rocket",
              "skimage:camera", "skimage:coins", "skimage:grass", "skimage:moon",
              LOMIRI + "Bridge_by_Sander_Klootwijk.jpg", LOMIRI + "Picture_0B_by_freespace.jpg",
              LOMIRI + "Picture_1A_by_freespace.jpg", LOMIRI + "Wine_by_Jakkub_Mede.jpg",
              LOMIRI + "friends_by_Aitzol_Berasategi.jpg", LOMIRI + "greentock_by_Peter_Nerlich.jpg",
              LOMIRI + "life_by_Aitzol_Berasategi.jpg", LOMIRI + "seeding_by_Clements_Engelhardt.jpg",
              LOMIRI + "sunset_by_Aitzol_Berasategi.jpg", LOMIRI + "umang_by_Abhishek_Mudgal.jpg",
              MATE + "Aqua.jpg", MATE + "Dune.jpg", MATE + "FreshFlower.jpg", MATE + "Garden.jpg",
              MATE + "LadyBird.jpg", MATE + "RainDrops.jpg", MATE + "Wood.jpg"],
    "validation": ["skimage:motorcycle_left", "matplotlib:grace_hopper", "skimage:brick", "skimage:gravel",
                   LOMIRI + "picosdeeuropa_by_Aitzol_Berasategi.jpg", MATE + "Blinds.jpg", MATE + "GreenMeadow.jpg",
                   MATE + "YellowFlower.jpg"],
    "test": ["skimage:coffee", "skimage:immunohistochemistry", LOMIRI + "Dragonfly_by_Bolly.jpg",
             LOMIRI + "aitzgorri_by_Aitzol_Berasategi.jpg", LOMIRI + "analogpattern_by_Peter_Nerlich.jpg",
             LOMIRI + "free_by_Peter_Nerlich.jpg", "backgrounds/lomiri-20.04/Kleiber_by_Lukas_Baubkus.jpg",
             MATE + "Storm.jpg", MATE + "TwoWings.jpg"],
}
#: A public layout's training folder of 12 files: the quarter held out for validation.
FOLDER_VALIDATION = ["0004", "0005", "0009"]
#: A user's folder of 10 images with holdout_fraction 0.3: the images held out.
OWN_HELD_OUT = ["generic_test_0005", "generic_test_0006", "generic_test_0009"]


def _names(photos) -> list[str]:
    return [photo.name for photo in photos]


def _same_items(first, second) -> None:
    assert type(first) is type(second) and len(first) == len(second) > 0
    for index in range(len(first)):
        a, b = first[index], second[index]
        assert a.keys() == b.keys()
        for key in a:
            if torch.is_tensor(a[key]):
                assert torch.equal(a[key], b[key]), (index, key)
            else:
                assert a[key] == b[key], (index, key)


# ---- split_pool: the convention ---------------------------------------------------------------

def test_split_pool_draws_test_then_validation_with_the_next_seed():
    names = [f"item{i:02d}" for i in range(30)]
    for draw in ("choice", "permutation"):
        parts = split_pool(names, 0.2, 0.25, seed=7, draw=draw)
        assert list(parts) == ["train", "validation", "test"]
        rest, test = split_off(names, 0.2, 7, draw)
        train, validation = split_off(rest, 0.25, validation_seed(7), draw)
        assert parts == {"train": train, "validation": validation, "test": test}
        assert (len(test), len(validation), len(train)) == (6, 6, 18)
        assert sorted(train + validation + test) == names  # disjoint and complete ...
        assert all(part == sorted(part) for part in parts.values())  # ... each in the pool's order
        assert split_pool(names, 0.2, 0.0, seed=7, draw=draw) == {"train": rest, "validation": [], "test": test}
    assert validation_seed(TEST_SEED) == VALIDATION_SEED == TEST_SEED + 1
    # The two draws pick different items for the same seed: each pool keeps its own.
    assert split_pool(names, 0.2, seed=0)["test"] != split_pool(names, 0.2, seed=0, draw="permutation")["test"]


def test_split_pool_takes_explicit_test_names_and_refuses_what_it_cannot_split():
    assert split_pool(SCENES, ["GT27", "GT03"])["test"] == ["GT03", "GT27"]
    assert split_pool(["a", "b"], 0.0) == {"train": ["a", "b"], "validation": [], "test": []}
    assert split_pool(["a", "b"], 0.01)["test"] in (["a"], ["b"])  # at least one is held out ...
    assert len(split_pool(["a", "b"], 0.99)["train"]) == 1  # ... and at least one kept
    with pytest.raises(ValueError, match="test_fraction"):
        split_pool(SCENES, 1.0)
    with pytest.raises(ValueError, match="validation_fraction"):
        split_pool(SCENES, 0.2, -0.1)
    with pytest.raises(ValueError, match="GT99"):
        split_pool(SCENES, ["GT99"])
    with pytest.raises(ValueError, match="at least one"):
        split_pool(SCENES, SCENES)
    with pytest.raises(ValueError, match="distinct"):
        split_pool(["a", "a", "b"], 0.5)
    with pytest.raises(ValueError, match="draw"):
        split_pool(SCENES, 0.2, draw="shuffle")
    with pytest.raises(ValueError, match="test_fraction=0.5 needs a pool of at least two"):
        split_pool(["a"], 0.5)


# ---- today's splits, pinned -------------------------------------------------------------------

def test_real_scene_splits_are_those_of_before(alphamatting_root):
    names = AlphaMattingDataset(alphamatting_root).scene_names
    assert names == SCENES
    assert scene_splits(names) == SCENE_SPLITS
    assert split_pool(names, TEST_FRACTION, VALIDATION_FRACTION, TEST_SEED) == SCENE_SPLITS
    rest = [name for name in SCENES if name not in SCENE_SPLITS["test"]]
    assert split_scenes(names, TEST_FRACTION, seed=TEST_SEED) == (rest, SCENE_SPLITS["test"])
    # What the datasets and the study's evaluation sets hold.
    config = TrainConfig(dataset="alphamatting", data_root=str(alphamatting_root.parent))
    train, test = build_datasets(config)
    assert train.scene_names == SCENE_SPLITS["train"] and test.scene_names == SCENE_SPLITS["test"]
    assert build_validation_set(config).scene_names == SCENE_SPLITS["validation"]
    for split, label in (("test", "held-out"), ("validation", "validation")):
        sets = real_scene_sets(str(alphamatting_root.parent), split=split)
        assert list(sets) == [f"{label} scenes, Trimap1", f"{label} scenes, Trimap2"]
        assert all(scenes.scene_names == SCENE_SPLITS[split] for scenes in sets.values())


def test_real_foreground_scenes_are_those_of_before():
    # The scenes of a real-foreground set, from stand-in scenes of 8 x 8 px (the split reads only the names).
    class Scenes:
        def __len__(self):
            return len(SCENES)

        def __getitem__(self, index):
            alpha = torch.full((1, 8, 8), 0.5)
            return {"image": torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(index)), "alpha": alpha,
                    "trimap": alpha.clone(), "name": SCENES[index]}

    for split, scenes in SCENE_SPLITS.items():
        dataset = RealForegroundCompositeDataset(Scenes(), [np.zeros((8, 8, 3), np.uint8)], 1, size=4, split=split,
                                                 test=TEST_FRACTION, validation=VALIDATION_FRACTION,
                                                 split_seed=TEST_SEED)
        assert dataset.scene_names == scenes


def test_photo_splits_are_those_of_before(backgrounds_root):
    bundled = load_photo_pool()
    parts = photo_splits(bundled, TEST_FRACTION, VALIDATION_FRACTION, TEST_SEED)
    assert {split: _names(photos) for split, photos in parts.items()} == BUNDLED_SPLITS
    for split, names in BUNDLED_SPLITS.items():
        dataset = SyntheticMattingDataset(size=16, length=1, split=split, validation_fraction=VALIDATION_FRACTION)
        assert _names(dataset.photos) == names
    train, test = split_photo_pool(bundled, TEST_FRACTION, TEST_SEED)
    assert _names(test) == BUNDLED_SPLITS["test"]
    assert _names(train) == [name for name in _names(bundled) if name not in BUNDLED_SPLITS["test"]]
    with_backgrounds = load_photo_pool([backgrounds_root])
    parts = photo_splits(with_backgrounds, TEST_FRACTION, VALIDATION_FRACTION, TEST_SEED)
    assert {split: _names(photos) for split, photos in parts.items()} == BACKGROUND_SPLITS


def test_folder_splits_are_those_of_before(tmp_path):
    write_example_tree(tmp_path / "data" / "AM-2K", "am2k", n_train=12, n_validation=3, size=40)
    config = TrainConfig(dataset="folder", folder_layout="am2k", data_root=str(tmp_path / "data"),
                         label="trimap-release", image_size=64, crop_size=48)
    every = [f"am2k_train_{i:04d}" for i in range(12)]
    validation = [f"am2k_train_{number}" for number in FOLDER_VALIDATION]
    assert build_validation_set(config).names == validation
    assert build_datasets(config)[0].names == [name for name in every if name not in validation]
    write_example_tree(tmp_path / "own", "generic", n_train=1, n_validation=10, size=40)
    own = tmp_path / "own" / "test"
    names = [f"generic_test_{i:04d}" for i in range(10)]
    assert own_folder_split(own, 0.3) == ([name for name in names if name not in OWN_HELD_OUT], OWN_HELD_OUT)


# ---- a held-out set without its training set ----------------------------------------------------

@pytest.fixture
def built_splits(monkeypatch):
    """The splits ``_build_split`` is asked for, in order."""
    asked = []
    real = build_module._build_split

    def recording(config, split):
        asked.append(split)
        return real(config, split)

    monkeypatch.setattr(build_module, "_build_split", recording)
    return asked


def test_held_out_sets_alone_are_those_built_with_the_training_set(tmp_path, alphamatting_root, built_splits):
    write_example_tree(tmp_path / "AM-2K", "am2k", n_train=8, n_validation=2, size=40)
    write_example_tree(tmp_path / "own", "generic", n_train=1, n_validation=5, size=40)
    common = dict(image_size=48, crop_size=32, test_length=2, train_length=4)
    configs = [TrainConfig(**common),
               TrainConfig(dataset="alphamatting", data_root=str(alphamatting_root.parent), **common),
               TrainConfig(dataset="realfg", in_channels=4, data_root=str(alphamatting_root.parent), **common),
               TrainConfig(dataset="folder", folder_layout="am2k", data_root=str(tmp_path), label="trimap-release",
                           **common),
               TrainConfig(dataset="folder", data_root=str(tmp_path / "own" / "test"), holdout_fraction=0.4,
                           **common)]
    for config in configs:
        built_splits.clear()
        alone = build_held_out_set(config)
        assert built_splits == ["test"], config.dataset  # the training set is not built
        _same_items(alone, build_datasets(config)[1])
        if config.holdout_fraction:
            assert build_held_out_set(config, "validation") is None  # a user's folder has no validation split
        else:
            _same_items(build_held_out_set(config, "validation"), build_validation_set(config))
    with pytest.raises(ValueError, match="split"):
        build_held_out_set(configs[0], "train")


def test_evaluation_sets_build_no_training_set(alphamatting_root, built_splits):
    config = TrainConfig(image_size=48, crop_size=32, test_length=2)
    sets = evaluation_sets(config, data_root=str(alphamatting_root.parent), max_scenes=2)
    assert list(sets) == ["synthetic", "real-foreground composites", "real photos"]
    assert built_splits == ["test", "test"]
    assert sets["real photos"].scene_names == SCENE_SPLITS["test"][:2]
    assert sets["real-foreground composites"].scene_names == SCENE_SPLITS["test"]
