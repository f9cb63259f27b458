"""mattinglib.io: readers, their policy for unusual files, and the atomic alpha writer."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mattinglib.io import (check_same_size, list_image_files, read_alpha, read_image, read_trimap,
                           write_alpha_png)


def write_png16(path, levels: np.ndarray) -> None:
    """Write a 16-bit PNG by hand (Pillow cannot write 16-bit RGB): grey (H, W) or RGB (H, W, 3)."""
    levels = np.asarray(levels, dtype=np.uint16)
    height, width = levels.shape[:2]
    colour_type = 0 if levels.ndim == 2 else 2
    rows = b"".join(b"\x00" + levels[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def ramp(height=6, width=9):
    return (np.arange(height * width).reshape(height, width) * 4 % 256).astype(np.uint8)


# ---------------------------------------------------------------- images
def test_read_image_rgb_and_grey(tmp_path):
    rgb = np.stack([ramp(), 255 - ramp(), ramp() // 2], axis=-1)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    image = read_image(tmp_path / "rgb.png")
    assert image.dtype == np.float32 and image.shape == (6, 9, 3)
    np.testing.assert_array_equal(image, rgb / np.float32(255))

    Image.fromarray(ramp()).save(tmp_path / "grey.png")
    grey = read_image(tmp_path / "grey.png")
    assert grey.shape == (6, 9, 3)
    for channel in range(3):  # grey is repeated into RGB
        np.testing.assert_array_equal(grey[..., channel], ramp() / np.float32(255))


def test_read_image_rgba_opaque_dropped_transparent_refused(tmp_path):
    rgb = np.stack([ramp()] * 3, axis=-1)
    opaque = np.concatenate([rgb, np.full((6, 9, 1), 255, np.uint8)], axis=-1)
    Image.fromarray(opaque, mode="RGBA").save(tmp_path / "opaque.png")
    np.testing.assert_array_equal(read_image(tmp_path / "opaque.png"), rgb / np.float32(255))

    transparent = opaque.copy()
    transparent[0, 0, 3] = 10
    Image.fromarray(transparent, mode="RGBA").save(tmp_path / "cutout.png")
    with pytest.raises(ValueError, match=r"cutout\.png.*non-opaque"):
        read_image(tmp_path / "cutout.png")


def test_read_image_16bit(tmp_path):
    grey = np.array([[0, 1, 257, 32768, 65534, 65535]], dtype=np.uint16)
    write_png16(tmp_path / "grey16.png", grey)
    image = read_image(tmp_path / "grey16.png")
    np.testing.assert_allclose(image[..., 0], grey / 65535.0, rtol=0, atol=1e-7)
    # 16-bit RGB: Pillow keeps the high byte; documented error below 1/255.
    rgb = np.stack([grey, 65535 - grey, grey // 3], axis=-1)
    write_png16(tmp_path / "rgb16.png", rgb)
    image = read_image(tmp_path / "rgb16.png")
    assert np.max(np.abs(image - rgb / 65535.0)) < 1 / 255


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.png"):
        read_image(tmp_path / "nothere.png")
    (tmp_path / "junk.png").write_bytes(b"this is not a png file at all")
    for reader in (read_image, read_alpha, read_trimap):
        with pytest.raises(ValueError, match=r"junk\.png.*cannot decode"):
            reader(tmp_path / "junk.png")
    Image.fromarray(np.stack([ramp(60, 80)] * 3, -1)).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated\.png.*cannot decode"):
        read_image(tmp_path / "truncated.png")


# ---------------------------------------------------------------- alpha
def test_read_alpha_grey_rgb_and_16bit(tmp_path):
    Image.fromarray(ramp()).save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_alpha(tmp_path / "a.png"), ramp() / np.float32(255))
    Image.fromarray(np.stack([ramp()] * 3, -1)).save(tmp_path / "a_rgb.png")
    np.testing.assert_array_equal(read_alpha(tmp_path / "a_rgb.png"), ramp() / np.float32(255))

    differ = np.stack([ramp(), ramp(), 255 - ramp()], -1)
    Image.fromarray(differ).save(tmp_path / "colour.png")
    with pytest.raises(ValueError, match=r"colour\.png.*R = G = B"):
        read_alpha(tmp_path / "colour.png")

    levels = np.array([[0, 300, 32767, 65535]], dtype=np.uint16)
    write_png16(tmp_path / "a16.png", levels)
    alpha = read_alpha(tmp_path / "a16.png")
    np.testing.assert_allclose(alpha, levels / 65535.0, atol=1e-7)
    assert alpha.max() == 1.0  # scaled by 65535, not 255


def test_read_alpha_real_gt_is_rgb_with_equal_channels(alphamatting_root):
    path = alphamatting_root / "gt_training_lowres" / "GT01.png"
    assert Image.open(path).mode == "RGB"
    alpha = read_alpha(path)
    assert alpha.shape == (497, 800) and alpha.dtype == np.float32
    assert alpha.min() == 0.0 and alpha.max() == 1.0


# ---------------------------------------------------------------- trimaps
def test_read_trimap_real_palette_png(alphamatting_root):
    path = alphamatting_root / "trimap_training_lowres" / "Trimap1" / "GT01.png"
    with Image.open(path) as im:
        assert im.mode == "P"
        assert set(np.unique(np.asarray(im.convert("L"))).tolist()) == {0, 128, 255}
    trimap = read_trimap(path)
    assert trimap.dtype == np.float32 and trimap.shape == (497, 800)
    assert set(np.unique(trimap).tolist()) == {0.0, 0.5, 1.0}


def test_read_trimap_palette_is_mapped_through_palette(tmp_path):
    # Indices 0, 1, 2 whose palette entries are 255, 128, 0: the values, not the indices, count.
    indices = np.array([[0, 1, 2, 2]], dtype=np.uint8)
    im = Image.fromarray(indices, mode="P")
    im.putpalette([255, 255, 255, 128, 128, 128, 0, 0, 0] + [0] * (253 * 3))
    im.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_trimap(tmp_path / "p.png"), [[1.0, 0.5, 0.0, 0.0]])


def test_read_trimap_jpeg_is_snapped_with_warning(tmp_path, alphamatting_root):
    levels = np.asarray(Image.open(alphamatting_root / "trimap_training_lowres" / "Trimap1" / "GT01.png").convert("L"))
    Image.fromarray(levels).save(tmp_path / "t.jpg", quality=50)
    stored = np.asarray(Image.open(tmp_path / "t.jpg"))
    assert not np.isin(stored, [0, 128, 255]).all()  # the JPEG really has off-level values
    with pytest.warns(UserWarning, match=r"t\.jpg.*snapped"):
        trimap = read_trimap(tmp_path / "t.jpg")
    exact = levels.astype(np.float32) / 255
    exact[levels == 128] = 0.5
    assert np.mean(trimap == exact) > 0.995


def test_read_trimap_refuses_ramp_and_alpha(tmp_path, alphamatting_root):
    Image.fromarray(np.tile(np.linspace(0, 255, 200).astype(np.uint8), (20, 1))).save(tmp_path / "ramp.png")
    with pytest.raises(ValueError, match=r"ramp\.png.*not a three-level trimap"):
        read_trimap(tmp_path / "ramp.png")
    with pytest.raises(ValueError, match=r"GT27\.png.*not a three-level trimap"):
        read_trimap(alphamatting_root / "gt_training_lowres" / "GT27.png")


def test_read_trimap_16bit(tmp_path):
    write_png16(tmp_path / "t16.png", np.array([[0, 128 * 257, 65535]], dtype=np.uint16))
    np.testing.assert_array_equal(read_trimap(tmp_path / "t16.png"), [[0.0, 0.5, 1.0]])


# ---------------------------------------------------------------- folders and sizes
def test_list_image_files_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nofolder"):
        list_image_files(tmp_path / "nofolder")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match=r"empty.*no image file"):
        list_image_files(tmp_path / "empty")
    (tmp_path / "dup").mkdir()
    Image.fromarray(ramp()).save(tmp_path / "dup" / "a.png")
    Image.fromarray(ramp()).save(tmp_path / "dup" / "a.jpg")
    with pytest.raises(ValueError, match="share the stem 'a'"):
        list_image_files(tmp_path / "dup")
    Image.fromarray(ramp()).save(tmp_path / "empty" / "b.PNG")
    assert list(list_image_files(tmp_path / "empty")) == ["b"]


def test_check_same_size_names_files():
    check_same_size({"x.png": np.zeros((4, 5, 3)), "y.png": np.zeros((4, 5))})
    with pytest.raises(ValueError, match=r"x\.png: 4x5.*y\.png: 4x6"):
        check_same_size({"x.png": np.zeros((4, 5, 3)), "y.png": np.zeros((4, 6))})


# ---------------------------------------------------------------- writing
def test_write_alpha_png_roundtrip_and_atomic(tmp_path):
    alpha = np.linspace(0, 1, 40, dtype=np.float32).reshape(5, 8)
    write_alpha_png(tmp_path / "out.png", alpha)
    write_alpha_png(tmp_path / "out.png", alpha[None])  # (1, H, W) accepted, file replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temporary left behind
    with Image.open(tmp_path / "out.png") as im:
        assert im.mode == "L"
    np.testing.assert_allclose(read_alpha(tmp_path / "out.png"), alpha, atol=0.5 / 255 + 1e-7)

    with pytest.raises(ValueError, match=r"bad\.png.*\[0, 1\]"):
        write_alpha_png(tmp_path / "bad.png", alpha + 0.5)
    with pytest.raises(ValueError, match="NaN"):
        write_alpha_png(tmp_path / "bad.png", np.full((2, 2), np.nan))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_alpha_png(tmp_path / "missing" / "a.png", alpha)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
