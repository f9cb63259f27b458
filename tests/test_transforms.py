"""mattinglib.data.transforms: crops, flips, scaling, neighbours, and seeded determinism."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mattinglib.data.folders import FolderMattingDataset
from mattinglib.data.transforms import (AddNeighbors, Compose, RandomCrop, RandomFlip, RandomScale, Resize,
                                        SeededDataset, make_sample)


def toy_sample(height=40, width=60, seed=0, unknown_box=(10, 14, 20, 30)):
    """Random image, alpha; trimap background except a foreground block and an unknown box."""
    rng = np.random.default_rng(seed)
    image = rng.random((height, width, 3), dtype=np.float32)
    alpha = rng.random((height, width), dtype=np.float32)
    trimap = np.zeros((height, width), np.float32)
    trimap[: height // 4, : width // 4] = 1.0
    if unknown_box is not None:
        top, bottom, left, right = unknown_box
        trimap[top:bottom, left:right] = 0.5
    return make_sample("toy", image, trimap, alpha)


def test_make_sample_shapes_and_checks():
    sample = toy_sample()
    assert sample["image"].shape == (3, 40, 60) and sample["image"].dtype == torch.float32
    assert sample["trimap"].shape == (1, 40, 60) and sample["alpha"].shape == (1, 40, 60)
    assert "alpha" not in make_sample("x", np.zeros((2, 3, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="trimap shape"):
        make_sample("x", np.zeros((2, 3, 3)), np.zeros((3, 2)))


def test_seeded_dataset_rng():
    dataset = SeededDataset(seed=5)
    first = dataset.sample_rng(3).random(4)
    np.testing.assert_array_equal(first, SeededDataset(seed=5).sample_rng(3).random(4))
    assert not np.array_equal(first, dataset.sample_rng(4).random(4))
    dataset.set_epoch(1)
    assert not np.array_equal(first, dataset.sample_rng(3).random(4))
    with pytest.raises(ValueError, match="epoch"):
        dataset.set_epoch(-1)


def test_random_crop_is_centred_on_unknown_pixel():
    # 4 x 10 = 40 unknown pixels, all far enough from the border for a centred 16 x 16 crop.
    sample = toy_sample()
    crop = RandomCrop(16, min_unknown=40)
    for seed in range(30):
        out = crop(sample, np.random.default_rng(seed))
        assert out["image"].shape == (3, 16, 16) and out["trimap"].shape == (1, 16, 16)
        assert out["trimap"][0, 8, 8] == 0.5
        # All tensors are cut at the same place: find the offset from the image.
        image = sample["image"]
        found = [(t, l) for t in range(40 - 15) for l in range(60 - 15)
                 if torch.equal(image[:, t:t + 16, l:l + 16], out["image"])]
        assert len(found) == 1
        top, left = found[0]
        assert torch.equal(out["alpha"], sample["alpha"][:, top:top + 16, left:left + 16])
        assert torch.equal(out["trimap"], sample["trimap"][:, top:top + 16, left:left + 16])


def test_random_crop_too_few_unknown_is_uniform():
    sample = toy_sample()
    crop = RandomCrop(16, min_unknown=41)  # one more than there are: uniform placement
    centres = [crop(sample, np.random.default_rng(seed))["trimap"][0, 8, 8].item() for seed in range(40)]
    assert centres.count(0.5) < 20  # the 40 unknown pixels cover 1.7 % of the image
    unknown_free = toy_sample(unknown_box=None)
    out = RandomCrop(16)(unknown_free, np.random.default_rng(0))
    assert out["image"].shape == (3, 16, 16)
    assert RandomCrop(16, unknown_centred=False).min_unknown == 160


def test_random_crop_pads_small_images():
    sample = toy_sample(height=10, width=12, unknown_box=(2, 4, 2, 4))
    out = RandomCrop((16, 20))(sample, np.random.default_rng(0))
    assert out["image"].shape == (3, 16, 20)
    assert torch.equal(out["image"][:, :10, :12], sample["image"])
    assert out["image"][:, 10:].abs().sum() == 0 and out["image"][:, :, 12:].abs().sum() == 0
    assert out["alpha"][:, 10:].abs().sum() == 0 and out["trimap"][:, :, 12:].abs().sum() == 0


def test_flip_scale_resize():
    sample = toy_sample()
    flipped = RandomFlip(p=1.0)(sample, np.random.default_rng(0))
    for key in ("image", "alpha", "trimap"):
        assert torch.equal(flipped[key], sample[key].flip(2))
    assert torch.equal(RandomFlip(p=0.0)(sample, np.random.default_rng(0))["image"], sample["image"])

    scaled = RandomScale((0.5, 0.5))(sample, np.random.default_rng(0))
    assert scaled["image"].shape == (3, 20, 30) and scaled["alpha"].shape == (1, 20, 30)
    assert set(torch.unique(scaled["trimap"]).tolist()) <= {0.0, 0.5, 1.0}
    # Shrinking by 2 with area averaging: each output pixel is the mean of a 2 x 2 block.
    block_mean = sample["image"].reshape(3, 20, 2, 30, 2).mean(dim=(2, 4))
    torch.testing.assert_close(scaled["image"], block_mean)

    big = Resize((50, 70))(sample)
    assert big["image"].shape == (3, 50, 70) and big["trimap"].shape == (1, 50, 70)
    assert set(torch.unique(big["trimap"]).tolist()) == {0.0, 0.5, 1.0}
    assert big["image"].min() >= 0 and big["image"].max() <= 1


def test_compose_is_deterministic_given_rng():
    pipeline = Compose([RandomScale((0.6, 1.4)), RandomFlip(), RandomCrop(24)])
    sample = toy_sample(height=60, width=80, unknown_box=(20, 40, 20, 60))
    first = pipeline(sample, np.random.default_rng(7))
    again = pipeline(sample, np.random.default_rng(7))
    other = pipeline(sample, np.random.default_rng(8))
    assert torch.equal(first["image"], again["image"]) and torch.equal(first["trimap"], again["trimap"])
    assert not torch.equal(first["image"], other["image"])


def test_geometric_transforms_refuse_neighbors():
    sample = dict(toy_sample(), neighbors=object())
    for transform in (RandomCrop(8), RandomFlip(), RandomScale(), Resize(8)):
        with pytest.raises(ValueError, match="AddNeighbors last"):
            transform(sample, np.random.default_rng(0))


def test_add_neighbors_matches_select_neighbors():
    losses = pytest.importorskip("mattinglib.losses")
    sample = toy_sample(height=12, width=14)
    out = AddNeighbors(kernel_size=5, topk=4)(sample, np.random.default_rng(0))
    expected = losses.select_neighbors(sample["image"], 5, 4)
    assert torch.equal(out["neighbors"].distance, expected.distance)
    assert torch.equal(out["neighbors"].index, expected.index)
    assert out["neighbors"].distance.shape == (4, 12, 14)
    # The centre is its own nearest neighbour, at distance 0.
    assert torch.all(out["neighbors"].distance[0] == 0)
    # default_collate stacks the NamedTuple into a batch.
    batch = torch.utils.data.default_collate([out, out])
    assert batch["neighbors"].distance.shape == (2, 4, 12, 14)


def make_folder_tree(root, count=6, size=(30, 40)):
    rng = np.random.default_rng(0)
    for folder in ("images", "alphas", "trimaps"):
        (root / folder).mkdir(parents=True)
    for k in range(count):
        image = (rng.random((*size, 3)) * 255).astype(np.uint8)
        alpha = (rng.random(size) * 255).astype(np.uint8)
        trimap = np.zeros(size, np.uint8)
        trimap[5:25, 10:30] = 128
        trimap[12:18, 18:22] = 255
        Image.fromarray(image).save(root / "images" / f"s{k}.png")
        Image.fromarray(alpha).save(root / "alphas" / f"s{k}.png")
        Image.fromarray(trimap).save(root / "trimaps" / f"s{k}.png")


def test_batches_identical_across_num_workers(tmp_path):
    make_folder_tree(tmp_path)
    dataset = FolderMattingDataset(tmp_path, transform=Compose([RandomScale((0.7, 1.3)), RandomFlip(),
                                                                 RandomCrop(16, min_unknown=10)]), seed=3)
    dataset.set_epoch(2)

    def batches(workers):
        loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=workers)
        return [(b["image"], b["alpha"], b["trimap"], b["name"]) for b in loader]

    serial, parallel = batches(0), batches(2)
    assert len(serial) == 3
    for one, two in zip(serial, parallel):
        for a, b in zip(one[:3], two[:3]):
            assert torch.equal(a, b)
        assert one[3] == two[3]
    dataset.set_epoch(3)
    assert not torch.equal(batches(0)[0][0], serial[0][0])


def test_random_crop_with_precomputed_candidates_crops_the_same():
    centred = toy_sample()
    small = toy_sample(height=10, width=12, unknown_box=(2, 4, 2, 4))
    for sample, crop in ((centred, RandomCrop(16, min_unknown=40)), (centred, RandomCrop(16, min_unknown=41)),
                         (small, RandomCrop((16, 20), min_unknown=1))):
        candidates = crop.unknown_candidates(sample["trimap"])
        for seed in range(10):
            plain = crop(sample, np.random.default_rng(seed))
            given = crop(sample, np.random.default_rng(seed), candidates=candidates)
            assert all(torch.equal(plain[k], given[k]) for k in ("image", "alpha", "trimap"))
    rows, cols = RandomCrop(16).unknown_candidates(centred["trimap"])
    assert rows.numel() == 40 and bool((centred["trimap"][0, rows + 8, cols + 8] == 0.5).all())
