"""Datasets: alphamatting.com (real files, offline download), folder layouts, real-foreground composites."""
from __future__ import annotations

import io
import urllib.error
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from mattinglib.data import alphamatting
from mattinglib.data.alphamatting import AlphaMattingDataset, load_manifest
from mattinglib.data.folders import FolderMattingDataset
from mattinglib.data.realfg import RealForegroundCompositeDataset, estimate_foreground, split_scenes
from mattinglib.data.transforms import RandomCrop


# ---------------------------------------------------------------- alphamatting.com
def test_alphamatting_real_scenes(alphamatting_root):
    dataset = AlphaMattingDataset(alphamatting_root)
    assert len(dataset) == 27 and dataset.scene_names[0] == "GT01" and dataset.scene_names[-1] == "GT27"
    sample = dataset[0]
    assert sample["name"] == "GT01"
    assert sample["image"].shape == (3, 497, 800) and sample["image"].dtype == torch.float32
    assert sample["alpha"].shape == (1, 497, 800) and sample["trimap"].shape == (1, 497, 800)
    assert 0 <= sample["image"].min() and sample["image"].max() <= 1
    assert set(torch.unique(sample["trimap"]).tolist()) == {0.0, 0.5, 1.0}


def test_alphamatting_trimap_alpha_disagreement(alphamatting_root):
    # data/README.md: 3, 1 and 280 pixels in GT08, GT09, GT27 -- counted for Trimap1 with a
    # tolerance: |alpha - trimap| > 5/255 on the known region. (GT27's foreground has many
    # alphas of 235..254, so an exact count there is 74,719.)
    dataset = AlphaMattingDataset(alphamatting_root, trimap="Trimap1", scenes=["GT08", "GT09", "GT27"])
    counts = []
    for sample in dataset:
        trimap, alpha = sample["trimap"][0], sample["alpha"][0]
        known = trimap != 0.5
        counts.append(int((known & ((alpha * 255).round() - trimap * 255).abs().gt(5)).sum()))
    assert counts == [3, 1, 280]
    unknown = AlphaMattingDataset(alphamatting_root, trimap="Trimap2", scenes=["GT08"])[0]["trimap"].eq(0.5)
    assert unknown.float().mean() > dataset[0]["trimap"].eq(0.5).float().mean()  # Trimap2 is wider


def test_alphamatting_shipped_manifest_matches_files(alphamatting_root):
    manifest = load_manifest()
    assert len(manifest) == 27 * 4
    assert alphamatting.verify_files(alphamatting_root, manifest) == []


def test_alphamatting_missing_root_and_env(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"does not exist.*input_training_lowres/GTxx\.png"):
        AlphaMattingDataset(tmp_path / "nowhere")
    monkeypatch.delenv("MATTINGLIB_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="MATTINGLIB_DATA"):
        AlphaMattingDataset()
    monkeypatch.setenv("MATTINGLIB_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="alphamatting-lowres"):
        AlphaMattingDataset()
    with pytest.raises(ValueError, match="GT99"):
        AlphaMattingDataset(tmp_path, scenes=["GT99"])
    with pytest.raises(ValueError, match="Trimap3"):
        AlphaMattingDataset(tmp_path, trimap="Trimap3")


def build_zips(source, scenes, corrupt=None):
    """Zips of the three folders for a few real scenes, keyed by URL; ``corrupt`` = a path to damage."""
    zips = {}
    for folder in alphamatting.FOLDERS:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zipped:
            for path in sorted((source / folder).rglob("*.png")):
                if path.stem not in scenes:
                    continue
                relative = path.relative_to(source).as_posix()
                data = path.read_bytes()
                if relative == corrupt:
                    data = data[:-10] + b"0123456789"
                zipped.writestr(relative, data)
        zips[alphamatting.BASE_URL + folder + ".zip"] = buffer.getvalue()
    return zips


def test_alphamatting_download_offline(tmp_path, monkeypatch, alphamatting_root):
    scenes = ["GT02", "GT05"]
    subset = {p: h for p, h in load_manifest().items() if p.split("/")[-1][:-4] in scenes}
    monkeypatch.setattr(alphamatting, "load_manifest", lambda: subset)
    zips = build_zips(alphamatting_root, scenes)
    requested = []

    def fake_urlopen(url):
        requested.append(url)
        return io.BytesIO(zips[url])

    monkeypatch.setattr(alphamatting, "urlopen", fake_urlopen)
    root = tmp_path / "am"
    dataset = AlphaMattingDataset(root, trimap="Trimap2", download=True)
    assert dataset.scene_names == scenes and len(requested) == 3
    assert sorted(p.name for p in root.iterdir()) == sorted(alphamatting.FOLDERS)  # no scratch left
    reference = AlphaMattingDataset(alphamatting_root, trimap="Trimap2", scenes=scenes)
    for mine, theirs in zip(dataset, reference):
        for key in ("image", "alpha", "trimap"):
            assert torch.equal(mine[key], theirs[key])
    AlphaMattingDataset(root, download=True)  # verified folders are kept, nothing fetched again
    assert len(requested) == 3


def test_alphamatting_download_corrupt_and_offline(tmp_path, monkeypatch, alphamatting_root):
    scenes = ["GT03"]
    subset = {p: h for p, h in load_manifest().items() if p.split("/")[-1][:-4] in scenes}
    monkeypatch.setattr(alphamatting, "load_manifest", lambda: subset)
    zips = build_zips(alphamatting_root, scenes, corrupt="gt_training_lowres/GT03.png")
    monkeypatch.setattr(alphamatting, "urlopen", lambda url: io.BytesIO(zips[url]))
    root = tmp_path / "am"
    with pytest.raises(RuntimeError, match=r"gt_training_lowres\.zip.*SHA-256"):
        AlphaMattingDataset(root, download=True)
    assert sorted(p.name for p in root.iterdir()) == ["input_training_lowres"]  # bad folder not moved in

    def offline(url):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(alphamatting, "urlopen", offline)
    with pytest.raises(RuntimeError, match=r"could not download.*MATTINGLIB_DATA"):
        AlphaMattingDataset(tmp_path / "other", download=True)


# ---------------------------------------------------------------- folder layouts
def save_set(folder, names, kind, size=(12, 16), suffix=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(names))
    for name in names:
        if kind == "image":
            array = (rng.random((*size, 3)) * 255).astype(np.uint8)
        elif kind == "alpha":
            array = (rng.random(size) * 255).astype(np.uint8)
        else:
            array = np.zeros(size, np.uint8)
            array[2:8, 3:12] = 128
            array[4:6, 6:9] = 255
        Image.fromarray(array).save(folder / f"{name}{suffix}", quality=95)


def test_generic_layout(tmp_path):
    save_set(tmp_path / "images", ["a", "b"], "image")
    save_set(tmp_path / "alphas", ["a", "b"], "alpha")
    save_set(tmp_path / "trimaps", ["a", "b"], "trimap")
    dataset = FolderMattingDataset(tmp_path)
    assert len(dataset) == 2 and dataset.names == ["a", "b"]
    sample = dataset[1]
    assert sample["name"] == "b" and sample["image"].shape == (3, 12, 16) and sample["alpha"].shape == (1, 12, 16)
    assert set(torch.unique(sample["trimap"]).tolist()) == {0.0, 0.5, 1.0}


def test_generic_layout_trimap_only_and_trimap_fn(tmp_path):
    save_set(tmp_path / "t" / "images", ["a"], "image")
    save_set(tmp_path / "t" / "trimaps", ["a"], "trimap")
    assert "alpha" not in FolderMattingDataset(tmp_path, split="t")[0]

    save_set(tmp_path / "f" / "images", ["a", "b"], "image")
    save_set(tmp_path / "f" / "alphas", ["a", "b"], "alpha")
    with pytest.raises(FileNotFoundError, match="give trimap_fn"):
        FolderMattingDataset(tmp_path, split="f")
    calls = []

    def threshold_trimap(alpha, rng):
        calls.append(rng.random())
        return np.where(alpha > 0.9, 1.0, np.where(alpha < 0.1, 0.0, 0.5))

    dataset = FolderMattingDataset(tmp_path, split="f", trimap_fn=threshold_trimap, seed=1)
    sample = dataset[0]
    expected = np.where(sample["alpha"][0] > 0.9, 1.0, np.where(sample["alpha"][0] < 0.1, 0.0, 0.5))
    np.testing.assert_array_equal(sample["trimap"][0].numpy(), expected)
    dataset[0]
    assert calls[0] == calls[1]  # the trimap_fn draws from the per-sample generator


def test_generic_layout_errors(tmp_path):
    save_set(tmp_path / "m" / "images", ["a", "b"], "image")
    save_set(tmp_path / "m" / "alphas", ["a"], "alpha")
    save_set(tmp_path / "m" / "trimaps", ["a", "b"], "trimap")
    with pytest.raises(ValueError, match=r"alphas.*no alpha file for 1 images.*b\.png"):
        FolderMattingDataset(tmp_path, split="m")
    save_set(tmp_path / "m" / "alphas", ["b", "c"], "alpha")
    with pytest.raises(ValueError, match=r"alphas.*1 alpha files have no image.*c\.png"):
        FolderMattingDataset(tmp_path, split="m")

    (tmp_path / "e" / "images").mkdir(parents=True)
    with pytest.raises(ValueError, match="no image file"):
        FolderMattingDataset(tmp_path, split="e")
    with pytest.raises(FileNotFoundError, match="images"):
        FolderMattingDataset(tmp_path, split="none")
    save_set(tmp_path / "n" / "images", ["a"], "image")
    with pytest.raises(FileNotFoundError, match="nothing to train on"):
        FolderMattingDataset(tmp_path, split="n")

    save_set(tmp_path / "s" / "images", ["a"], "image", size=(12, 16))
    save_set(tmp_path / "s" / "trimaps", ["a"], "trimap", size=(12, 15))
    dataset = FolderMattingDataset(tmp_path, split="s")
    with pytest.raises(ValueError, match=r"size mismatch.*images/a\.png: 12x16.*trimaps/a\.png: 12x15"):
        dataset[0]
    with pytest.raises(ValueError, match="layout"):
        FolderMattingDataset(tmp_path, layout="coco")


def test_am2k_layout(tmp_path):
    save_set(tmp_path / "train" / "original", ["m_1", "m_2"], "image", suffix=".jpg")
    save_set(tmp_path / "train" / "mask", ["m_1", "m_2"], "alpha")
    save_set(tmp_path / "validation" / "original", ["m_3"], "image", suffix=".jpg")
    save_set(tmp_path / "validation" / "mask", ["m_3"], "alpha")
    save_set(tmp_path / "validation" / "trimap", ["m_3"], "trimap")
    validation = FolderMattingDataset(tmp_path, layout="am2k", split="validation")
    assert validation.names == ["m_3"] and validation[0]["alpha"].shape == (1, 12, 16)
    with pytest.raises(FileNotFoundError, match=r"train/trimap.*trimap_fn"):
        FolderMattingDataset(tmp_path, layout="am2k")
    train = FolderMattingDataset(tmp_path, layout="am2k", trimap_fn=lambda a, rng: (a > 0.5).astype(np.float32))
    assert len(train) == 2 and train[1]["name"] == "m_2"
    with pytest.raises(ValueError, match="splits"):
        FolderMattingDataset(tmp_path, layout="am2k", split="test")


def test_p3m10k_layout(tmp_path):
    base = tmp_path / "validation"
    save_set(base / "P3M-500-P" / "blurred_image", ["p_1"], "image", suffix=".jpg")
    save_set(base / "P3M-500-NP" / "original_image", ["n_1", "n_2"], "image", suffix=".jpg")
    for subset, names in (("P3M-500-P", ["p_1"]), ("P3M-500-NP", ["n_1", "n_2"])):
        save_set(base / subset / "mask", names, "alpha")
        save_set(base / subset / "trimap", names, "trimap")
    assert FolderMattingDataset(tmp_path, layout="p3m10k", split="P3M-500-NP").names == ["n_1", "n_2"]
    assert FolderMattingDataset(tmp_path, layout="p3m10k", split="P3M-500-P")[0]["name"] == "p_1"
    with pytest.raises(FileNotFoundError, match="blurred_image"):
        FolderMattingDataset(tmp_path, layout="p3m10k")


# ---------------------------------------------------------------- real-foreground composites
def test_split_scenes():
    names = [f"GT{k:02d}" for k in range(1, 28)]
    train, test = split_scenes(names, 0.2, seed=0)
    assert len(test) == 5 and len(train) == 22 and not set(train) & set(test)
    assert split_scenes(names, 0.2, seed=0) == (train, test)
    assert split_scenes(names, 0.2, seed=1) != (train, test)
    assert split_scenes(names, ["GT04", "GT01"]) == ([n for n in names if n not in ("GT01", "GT04")],
                                                      ["GT01", "GT04"])
    with pytest.raises(ValueError, match="GT99"):
        split_scenes(names, ["GT99"])
    with pytest.raises(ValueError, match="fraction"):
        split_scenes(names, 1.0)


def test_estimate_foreground_cache(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.random((20, 24, 3))
    alpha = rng.random((20, 24))
    first = estimate_foreground(image, alpha, tmp_path, name="toy")
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].name.startswith("toy-") and files[0].suffix == ".npy"
    assert first.dtype == np.float32 and first.shape == (20, 24, 3)
    np.save(files[0], np.zeros_like(first))  # prove the second call reads the cache
    assert np.all(estimate_foreground(image, alpha, tmp_path, name="toy") == 0)
    np.testing.assert_array_equal(estimate_foreground(image, alpha), first)
    # On an exact composite of a flat foreground over a flat background the estimate recovers
    # the foreground colour wherever alpha is not tiny.
    ramp = np.tile(np.linspace(0, 1, 24), (20, 1))
    colour, backdrop = np.array([0.9, 0.2, 0.1]), np.array([0.1, 0.5, 0.8])
    composite = ramp[..., None] * colour + (1 - ramp[..., None]) * backdrop
    recovered = estimate_foreground(composite, ramp)
    np.testing.assert_allclose(recovered[ramp > 0.2], np.broadcast_to(colour, recovered[ramp > 0.2].shape),
                               atol=0.02)


def test_real_foreground_composites(tmp_path, alphamatting_root):
    scenes = AlphaMattingDataset(alphamatting_root, scenes=["GT01", "GT02", "GT03"], transform=None)
    rng = np.random.default_rng(0)
    backgrounds = [(rng.random((40, 50, 3)) * 255).astype(np.uint8), rng.random((200, 300, 3))]
    common = dict(length=6, seed=4, size=64, test=["GT02"], cache_dir=tmp_path)
    train = RealForegroundCompositeDataset(scenes, backgrounds, split="train", **common)
    test = RealForegroundCompositeDataset(scenes, backgrounds, split="test", **common)
    assert train.scene_names == ["GT01", "GT03"] and test.scene_names == ["GT02"]
    assert len(list(tmp_path.glob("*.npy"))) == 3  # one cached foreground per scene

    sample = train[0]
    assert sample["image"].shape == (3, 64, 64) and sample["alpha"].shape == (1, 64, 64)
    assert sample["name"].split("+")[0] in ("GT01", "GT03")
    assert set(torch.unique(sample["trimap"]).tolist()) <= {0.0, 0.5, 1.0}
    assert 0 <= sample["image"].min() and sample["image"].max() <= 1
    for key in ("image", "alpha", "trimap"):
        assert torch.equal(sample[key], train[0][key])  # deterministic
    assert not torch.equal(train[0]["image"], train[1]["image"])

    # Where alpha is 0 the composite is the background; where 1, the scene's foreground.
    scene = train.scenes[train.scene_names.index(sample["name"].split("+")[0])]
    fg = scene["foreground"]
    crop_rng = train.sample_rng(0)
    crop_rng.integers(len(train.scenes))
    cropped = RandomCrop(64)({"foreground": fg, "alpha": scene["alpha"], "trimap": scene["trimap"]}, crop_rng)
    assert torch.equal(cropped["alpha"], sample["alpha"])
    opaque = sample["alpha"][0] == 1
    torch.testing.assert_close(sample["image"][:, opaque], cropped["foreground"][:, opaque])


def test_real_foreground_items_do_not_depend_on_reusing_scene_preparation(tmp_path, monkeypatch, alphamatting_root):
    from mattinglib.data import realfg

    scenes = AlphaMattingDataset(alphamatting_root, scenes=["GT01", "GT02", "GT03"], transform=None)
    rng = np.random.default_rng(0)
    # A background smaller than the composite (enlarged first) and two larger ones.
    backgrounds = [(rng.random((40, 50, 3)) * 255).astype(np.uint8), rng.random((200, 300, 3)),
                   (rng.random((90, 120, 3)) * 255).astype(np.uint8)]
    common = dict(length=12, seed=4, size=64, test=["GT02"], cache_dir=tmp_path)

    def two_epochs(dataset):
        items = []
        for epoch in (0, 1):
            dataset.set_epoch(epoch)
            items += [dataset[i] for i in range(len(dataset))]
        return items

    reused = RealForegroundCompositeDataset(scenes, backgrounds, split="train", **common)
    items = two_epochs(reused)
    assert reused._candidates and reused._prepared_backgrounds
    monkeypatch.setattr(realfg, "REUSE_PREPARED", False)
    remade = RealForegroundCompositeDataset(scenes, backgrounds, split="train", **common)
    again = two_epochs(remade)
    assert not remade._candidates and not remade._prepared_backgrounds
    for a, b in zip(items, again):
        assert a["name"] == b["name"]
        assert all(torch.equal(a[k].view(torch.int32), b[k].view(torch.int32)) for k in ("image", "alpha", "trimap"))
