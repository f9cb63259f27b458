"""File formats a user's folder brings: JPEG trimaps, 16-bit RGB, and the permissions of written files."""
from __future__ import annotations

import os
import re
import stat
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mattinglib.atomic import atomic_path, atomic_write_text, current_umask
from mattinglib.io import read_image, read_trimap, write_alpha_png


def trimap_levels(size: int = 24) -> np.ndarray:
    """A 0 / 128 / 255 trimap: background border, unknown ring, foreground square."""
    levels = np.zeros((size, size), np.uint8)
    levels[size // 6: size - size // 6, size // 6: size - size // 6] = 128
    levels[size // 3: size - size // 3, size // 3: size - size // 3] = 255
    return levels


def decoded(levels: np.ndarray) -> np.ndarray:
    return np.select([levels == 0, levels == 255], [0.0, 1.0], 0.5).astype(np.float32)


# ---- JPEG trimaps -------------------------------------------------------------------------------

def test_low_quality_jpeg_trimap_is_snapped_to_the_nearest_level_with_the_share_moved(tmp_path):
    levels = trimap_levels()
    Image.fromarray(levels).save(tmp_path / "t.jpg", quality=5)
    stored = np.asarray(Image.open(tmp_path / "t.jpg")).astype(np.float64)
    far = np.min(np.abs(stored[..., None] - [0, 128, 255]), axis=-1)
    assert far.max() > 32  # farther from its level than the checks for other files allow
    moved = np.count_nonzero(far)
    with pytest.warns(UserWarning, match=r"t\.jpg: JPEG trimap: (\d+) of 576 pixels \(([\d.]+)%\).*nearest") as caught:
        trimap = read_trimap(tmp_path / "t.jpg")
    count, share = re.search(r"(\d+) of 576 pixels \(([\d.]+)%\)", str(caught[0].message)).groups()
    assert int(count) == moved and float(share) == pytest.approx(100 * moved / 576, abs=0.05)
    nearest = np.array([0, 128, 255])[np.argmin(np.abs(stored[..., None] - [0, 128, 255]), axis=-1)]
    np.testing.assert_array_equal(trimap, decoded(nearest))
    assert np.mean(trimap == decoded(levels)) > 0.95  # and that is the trimap that was saved


def test_the_same_values_in_a_png_are_still_refused(tmp_path):
    Image.fromarray(trimap_levels()).save(tmp_path / "t.jpg", quality=5)
    Image.open(tmp_path / "t.jpg").save(tmp_path / "t.png")  # JPEG's values, stored losslessly
    with pytest.raises(ValueError, match=r"t\.png.*not a three-level trimap"):
        read_trimap(tmp_path / "t.png")


def test_jpeg_is_recognised_by_its_content_not_its_name(tmp_path):
    Image.fromarray(trimap_levels()).save(tmp_path / "t.png", format="JPEG", quality=10)
    with pytest.warns(UserWarning, match="JPEG trimap"):
        trimap = read_trimap(tmp_path / "t.png")
    assert set(np.unique(trimap).tolist()) <= {0.0, 0.5, 1.0}


def test_rgb_jpeg_trimap_is_averaged_and_a_colour_photo_refused(tmp_path):
    grey = trimap_levels(48)
    Image.fromarray(np.stack([grey] * 3, -1)).save(tmp_path / "rgb.jpg", quality=20)
    with pytest.warns(UserWarning, match="JPEG trimap"):
        assert np.mean(read_trimap(tmp_path / "rgb.jpg") == decoded(grey)) > 0.95
    photo = np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.jpg", quality=90)
    with pytest.raises(ValueError, match=r"photo\.jpg: JPEG trimap whose colour channels differ"):
        read_trimap(tmp_path / "photo.jpg")


def test_an_alpha_matte_given_as_a_png_trimap_is_still_refused(tmp_path):
    ramp = np.tile(np.linspace(0, 255, 60).astype(np.uint8), (30, 1))
    Image.fromarray(ramp).save(tmp_path / "soft.png")
    with pytest.raises(ValueError, match=r"soft\.png.*not a three-level trimap"):
        read_trimap(tmp_path / "soft.png")


# ---- 16-bit RGB ---------------------------------------------------------------------------------

def write_png16_rgb(path, levels: np.ndarray) -> None:
    """A 16-bit RGB PNG written by hand (Pillow cannot write one)."""
    height, width = levels.shape[:2]
    rows = b"".join(b"\x00" + levels[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def test_16bit_rgb_is_read_at_8bit_precision_as_documented(tmp_path):
    levels = np.stack([np.arange(0, 65536, 4096, dtype=np.uint16).reshape(2, 8) + i * 100 for i in range(3)], -1)
    write_png16_rgb(tmp_path / "rgb16.png", levels)
    image = read_image(tmp_path / "rgb16.png")
    error = np.abs(image - levels / 65535.0)
    assert error.max() < 1 / 255  # within 8-bit precision ...
    assert len(np.unique(np.round(image * 255, 6))) == len(np.unique(image))  # ... and exactly on 8-bit levels


# ---- permissions of written files ---------------------------------------------------------------

@pytest.fixture
def umask():
    """Set the process umask for a test, and put the old one back."""
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    assert current_umask() == mask
    write_alpha_png(tmp_path / "a.png", np.zeros((4, 4)))
    atomic_write_text(tmp_path / "t.txt", "x")
    with atomic_path(tmp_path / "raw.bin") as tmp:
        tmp.write_bytes(b"x")
    for name in ("a.png", "t.txt", "raw.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "raw.bin", "t.txt"]  # no temporary left


def test_matte_takes_a_jpeg_trimap_from_the_folder_and_says_it_snapped_it(tmp_path, capsys):
    from mattinglib.__main__ import main

    (tmp_path / "images").mkdir()
    (tmp_path / "trimaps").mkdir()
    levels = trimap_levels(40)
    photo = np.where(levels[..., None] == 255, [230, 40, 30], [20, 60, 200]).astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "images" / "a.png")
    Image.fromarray(levels).save(tmp_path / "trimaps" / "a.jpg", quality=5)
    capsys.readouterr()
    status = main(["matte", "--images", str(tmp_path / "images"), "--trimaps", str(tmp_path / "trimaps"),
                   "--output", str(tmp_path / "out"), "--method", "closed-form"])
    out, err = capsys.readouterr()
    assert status == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mattinglib: warning: ") and "a.jpg: JPEG trimap" in lines[0], err
    assert (tmp_path / "out" / "a.png").is_file() and "wrote 1 alpha mattes" in out
