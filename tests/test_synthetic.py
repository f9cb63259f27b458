"""Photo pool and synthetic composites: determinism, splits, ranges, exact ground truth."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mattinglib.data.photos import BUNDLED_PHOTOS, Photo, load_photo_pool, split_photo_pool
from mattinglib.data.synthetic import SyntheticMattingDataset, crop_photo, make_composite
from mattinglib.data.transforms import RandomCrop
from mattinglib.labels import dilate_disk


@pytest.fixture(scope="module")
def pool():
    return load_photo_pool()


def _dataset(pool, **kwargs):
    options = dict(size=48, length=6, seed=3, split="train", photos=pool)
    options.update(kwargs)
    return SyntheticMattingDataset(**options)


# ---- photos --------------------------------------------------------------------------------

def test_bundled_pool_is_named_uint8_rgb_and_read_only(pool):
    assert [p.name for p in pool] == [name for name, _ in BUNDLED_PHOTOS]
    assert len({p.name for p in pool}) == len(pool) == 15
    for photo in pool:
        assert photo.pixels.dtype == np.uint8 and photo.pixels.ndim == 3 and photo.pixels.shape[2] == 3
        assert not photo.pixels.flags.writeable
    # Natural photographs, not flat images.
    assert all(p.pixels.std() > 10 for p in pool)


def test_user_folders_are_read_sorted_and_bad_files_named(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "b").mkdir()
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(tmp_path / "b" / "z.png")
    Image.fromarray(rng.integers(0, 256, (24, 20), dtype=np.uint8)).save(tmp_path / "a.PNG")
    (tmp_path / "notes.txt").write_text("not a photo")
    photos = load_photo_pool([tmp_path], include_bundled=False)
    assert [p.name for p in photos] == [f"{tmp_path.name}/a.PNG", f"{tmp_path.name}/b/z.png"]
    assert photos[0].pixels.shape == (24, 20, 3)                      # grey repeated over RGB
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="broken.jpg"):
        load_photo_pool([tmp_path], include_bundled=False)
    with pytest.raises(FileNotFoundError, match="missing"):
        load_photo_pool([tmp_path / "missing"])


@pytest.mark.shared
def test_background_folder_extends_the_pool(backgrounds_root, pool):
    extended = load_photo_pool([backgrounds_root])
    files = [p for p in backgrounds_root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    assert len(extended) == len(pool) + len(files)
    assert [p.name for p in extended[:len(pool)]] == [p.name for p in pool]


def test_split_photo_pool_is_disjoint_complete_and_seeded(pool):
    train, test = split_photo_pool(pool, 0.2, seed=0)
    train_names, test_names = {p.name for p in train}, {p.name for p in test}
    assert not train_names & test_names
    assert train_names | test_names == {p.name for p in pool}
    assert len(test) == 3
    again = split_photo_pool(pool, 0.2, seed=0)
    assert [p.name for p in again[1]] == [p.name for p in test]
    assert [p.name for p in split_photo_pool(pool, 0.2, seed=1)[1]] != [p.name for p in test]
    assert split_photo_pool(pool, 0.0, seed=0)[1] == []
    with pytest.raises(ValueError, match="test_fraction"):
        split_photo_pool(pool, 1.0, seed=0)


# ---- make_composite ------------------------------------------------------------------------

def test_crop_photo_shape_range_and_enlarges_small_photos(pool):
    small = pool[1].pixels[:40, :50]                                  # smaller than the output
    out = crop_photo(np.random.default_rng(0), small, 64, 80)
    assert out.shape == (64, 80, 3) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_composite_equation_ranges_and_alpha_levels(pool):
    for seed in range(6):
        c = make_composite(np.random.default_rng(seed), (40, 56), pool[0].pixels, pool[2].pixels)
        image, alpha, fg, bg = c["image"], c["alpha"], c["fg"], c["bg"]
        assert image.shape == fg.shape == bg.shape == (40, 56, 3) and alpha.shape == (40, 56)
        assert all(v.dtype == np.float32 for v in c.values())
        for value in c.values():
            assert value.min() >= 0.0 and value.max() <= 1.0
        a = alpha[..., None]
        np.testing.assert_array_equal(image, a * fg + (1 - a) * bg)   # exact, same float32 ops
        # 8-bit alpha: multiples of 1/255, with hard 0 and 1 regions and soft pixels.
        np.testing.assert_array_equal(np.rint(alpha * 255) / np.float32(255), alpha)
        assert np.any(alpha == 0) and np.any(alpha == 1) and np.any((alpha > 0) & (alpha < 1))


def test_hair_and_veil_layers_only_add_coverage(pool):
    # The body's draws come before the optional layers, so the body is the same with or
    # without them and "over" can only raise alpha.
    fg, bg = pool[0].pixels, pool[3].pixels
    for seed in range(4):
        bare = make_composite(np.random.default_rng(seed), 64, fg, bg, hair_probability=0, veil_probability=0)
        hairy = make_composite(np.random.default_rng(seed), 64, fg, bg, hair_probability=1, veil_probability=0)
        veiled = make_composite(np.random.default_rng(seed), 64, fg, bg, hair_probability=0, veil_probability=1)
        np.testing.assert_array_equal(bare["bg"], hairy["bg"])
        assert np.all(hairy["alpha"] >= bare["alpha"]) and np.all(veiled["alpha"] >= bare["alpha"])
        # Hair adds thin soft pixels outside the body (strands never reach far inside).
        added = (hairy["alpha"] > 0) & (bare["alpha"] == 0)
        assert added.sum() > 20
        # The veil adds semi-transparent pixels, at most 0.8 opaque on its own.
        veil_only = (veiled["alpha"] > 0) & (bare["alpha"] == 0)
        assert veil_only.sum() > 20 and veiled["alpha"][veil_only].max() <= 0.8 + 1e-6


def test_hair_carries_the_colour_of_the_body_it_grows_from(pool):
    # Foreground photo with a sharp colour split; strands take the colour near their root, so
    # a strand pixel's colour is one the body has near the boundary, never the far-away mean.
    fg = np.zeros((200, 200, 3), dtype=np.uint8)
    fg[..., 0] = 200                                                  # a uniformly red foreground
    fg[..., 2] = 40
    c = make_composite(np.random.default_rng(1), 64, fg, pool[4].pixels, hair_probability=1,
                       veil_probability=0, colour_jitter=False)
    strands = (c["alpha"] > 0) & (c["alpha"] < 1)
    strands &= ~dilate_disk(c["alpha"] == 1, 2)
    assert strands.sum() > 10
    colours = c["fg"][strands]
    np.testing.assert_allclose(colours[:, 1], 0.0, atol=1e-6)
    assert np.all(colours[:, 0] > 0.6) and np.all(colours[:, 2] < 0.25)


def test_make_composite_rejects_bad_arguments(pool):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="size"):
        make_composite(rng, 8, pool[0].pixels, pool[1].pixels)
    with pytest.raises(ValueError, match="fg_photo"):
        make_composite(rng, 32, pool[0].pixels[..., 0], pool[1].pixels)
    with pytest.raises(ValueError, match="hair_probability"):
        make_composite(rng, 32, pool[0].pixels, pool[1].pixels, hair_probability=2)


# ---- the dataset ---------------------------------------------------------------------------

def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in a)


def test_dataset_items_are_deterministic_and_epoch_independent(pool):
    first, second = _dataset(pool), _dataset(pool)
    for index in (0, 5):
        assert _same(first[index], second[index])
    item = first[1]
    first.set_epoch(4)
    assert _same(first[1], item)
    assert not torch.equal(first[2]["image"], item["image"])
    assert _same(first[-1], first[5])
    with pytest.raises(IndexError):
        first[6]


def test_dataset_sample_keys_shapes_and_ground_truth(pool):
    ds = _dataset(pool, size=(40, 52), trimap_width=(1, 4))
    for index in range(len(ds)):
        s = ds[index]
        assert s["name"] == f"synthetic-train-3-{index}"
        assert s["image"].shape == s["fg"].shape == s["bg"].shape == (3, 40, 52)
        assert s["alpha"].shape == s["trimap"].shape == (1, 40, 52)
        assert all(s[k].dtype == torch.float32 for k in ("image", "alpha", "trimap", "fg", "bg"))
        a, t = s["alpha"], s["trimap"]
        assert torch.equal(s["image"], a * s["fg"] + (1 - a) * s["bg"])
        assert set(torch.unique(t).tolist()) <= {0.0, 0.5, 1.0}
        assert torch.all(a[t == 1] == 1) and torch.all(a[t == 0] == 0)
        assert torch.all(t[(a > 0) & (a < 1)] == 0.5)


def test_train_and_test_splits_share_no_photo_and_no_composite(pool):
    train, test = _dataset(pool, length=12), _dataset(pool, length=12, split="test")
    assert not {p.name for p in train.photos} & {p.name for p in test.photos}
    used_train = {name for i in range(12) for name in train.photo_names(i)}
    used_test = {name for i in range(12) for name in test.photo_names(i)}
    assert used_train <= {p.name for p in train.photos} and used_test <= {p.name for p in test.photos}
    # Foreground and background photos differ within an item.
    assert all(len(set(train.photo_names(i))) == 2 for i in range(12))
    assert not torch.equal(train[0]["alpha"], test[0]["alpha"])
    # A different sampling seed leaves the photo split unchanged.
    assert [p.name for p in _dataset(pool, seed=9, split="test").photos] == [p.name for p in test.photos]


def test_transform_gets_the_seed_epoch_index_generator(pool):
    seen = []

    def record(sample, rng):
        seen.append(int(rng.integers(1 << 30)))
        return sample

    ds = _dataset(pool, transform=record)
    ds.set_epoch(2)
    ds[4]
    assert seen == [int(np.random.default_rng((3, 2, 4)).integers(1 << 30))]
    cropped = _dataset(pool, transform=RandomCrop(32))[0]
    assert cropped["fg"].shape == cropped["bg"].shape == cropped["image"].shape == (3, 32, 32)
    assert torch.equal(cropped["image"], cropped["alpha"] * cropped["fg"] + (1 - cropped["alpha"]) * cropped["bg"])


def test_resample_per_epoch_changes_the_composite(pool):
    ds = _dataset(pool, resample_per_epoch=True)
    before = ds[0]
    ds.set_epoch(1)
    after = ds[0]
    assert not torch.equal(before["alpha"], after["alpha"]) and after["name"].endswith("-e1")


def test_dataset_works_in_dataloader_workers(pool):
    ds = _dataset(pool, length=4)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2)
    batches = list(loader)
    assert torch.equal(torch.cat([b["image"] for b in batches]), torch.stack([ds[i]["image"] for i in range(4)]))


def test_dataset_rejects_bad_arguments(pool):
    with pytest.raises(ValueError, match="split"):
        _dataset(pool, split="val")
    with pytest.raises(ValueError, match="length"):
        _dataset(pool, length=0)
    with pytest.raises(TypeError, match="hair_probabilty"):
        _dataset(pool, hair_probabilty=0.5)
    with pytest.raises(ValueError, match="rng|lo <= hi"):
        _dataset(pool, trimap_width=(5, 2))
    with pytest.raises(ValueError, match="test"):
        _dataset([Photo("only", pool[0].pixels)], split="test")


# ---- the item cache ------------------------------------------------------------------------

def _bits_equal(a: dict, b: dict) -> bool:
    """Same keys, and tensors equal bit for bit (-0.0 and 0.0 differ here)."""
    return a.keys() == b.keys() and all(
        torch.equal(a[k].view(torch.int32), b[k].view(torch.int32)) if torch.is_tensor(a[k]) else a[k] == b[k]
        for k in a)


@pytest.mark.parametrize("options", [{}, {"quantize_alpha": False}, {"trimap_reference_size": 96}])
def test_cached_items_are_the_items_bit_for_bit(pool, monkeypatch, options):
    from mattinglib.data.synthetic import dataset as synthetic

    cached = _dataset(pool, **options)
    first = [cached[i] for i in range(len(cached))]
    assert len(cached._cache) == len(cached)
    again = [cached[i] for i in range(len(cached))]
    monkeypatch.setattr(synthetic, "ITEM_CACHE_BYTES", 0)
    remade = [_dataset(pool, **options)[i] for i in range(len(cached))]
    assert all(_bits_equal(a, c) and _bits_equal(b, c) for a, b, c in zip(first, again, remade))


def test_cache_hands_out_copies_keeps_to_its_budget_and_is_not_pickled(pool, monkeypatch):
    import pickle

    from mattinglib.data.synthetic import dataset as synthetic

    ds = _dataset(pool)
    item = ds[0]
    for value in item.values():
        if torch.is_tensor(value):
            value.fill_(0.25)  # a transform writing in place must not reach the cache
    assert _bits_equal(ds[0], _dataset(pool)[0])
    entry_bytes = ds._cache_bytes
    monkeypatch.setattr(synthetic, "ITEM_CACHE_BYTES", 2 * entry_bytes)
    small = _dataset(pool)
    items = [small[i] for i in range(len(small))]
    assert sorted(small._cache) == [(3, "train", 0), (3, "train", 1)] and small._cache_bytes == 2 * entry_bytes
    assert all(_bits_equal(a, small[i]) for i, a in enumerate(items))  # items past the budget are remade
    assert pickle.loads(pickle.dumps(small))._cache == {}
    resampled = _dataset(pool, resample_per_epoch=True)
    resampled[0]
    assert resampled._cache == {}  # an item that changes per epoch is never cached
