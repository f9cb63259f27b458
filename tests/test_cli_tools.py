"""The command line's tools: ``trimap`` (trimaps from masks or true alphas), ``train --help``'s
supervision modes and ``config`` (every TrainConfig key with its default, range and meaning)."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import distance_transform_edt

from mattinglib.__main__ import main
from mattinglib.config import (KEY_CHOICES, KEY_HELP, KEY_RULES, KEYS_AT_LEAST_ONE, KEYS_NON_NEGATIVE, TrainConfig,
                               allowed_values)
from mattinglib.data.labelling import MakeLabel
from mattinglib.labels import make_trimap
from mattinglib.make_trimaps import DEFAULT_BAND, band_from_fraction, image_rng, trimap_from_mask
from mattinglib.supervision import SUPERVISIONS

SIZE = (120, 160)  # H, W
CENTRE = (60.0, 80.0)


def cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def distance_to_centre() -> np.ndarray:
    yy, xx = np.mgrid[: SIZE[0], : SIZE[1]]
    return np.hypot(yy - CENTRE[0], xx - CENTRE[1])


def save_grey(path: Path, values: np.ndarray) -> Path:
    """``values`` in [0, 1] as an 8-bit grey PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(np.asarray(values, np.float64) * 255).astype(np.uint8)).save(path)
    return path


def disk(radius: float) -> np.ndarray:
    return (distance_to_centre() <= radius).astype(np.float64)


def read_levels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "L"
        return np.asarray(im)


def band_along_rays(levels: np.ndarray, mask: np.ndarray, rays: int = 4) -> list[tuple[float, float]]:
    """(unknown band inside the object's edge, outside it), in px, along ``rays`` radii from the centre.

    The default four radii run along the rows and columns, one pixel per pixel; along a diagonal
    the pixels lie sqrt(2) apart, too coarse to measure a width to 1 px.

    Along each radius, the pixels it crosses in order; the object's edge (where ``mask`` ends)
    and each end of the unknown band lie halfway between the centres of the pixels on either side.
    """
    extents = []
    for k in range(rays):
        angle = 2 * math.pi * k / rays
        pixels = []
        for t in np.arange(0.0, min(SIZE) / 2 - 1, 0.05):
            pixel = (int(round(CENTRE[0] + t * math.sin(angle))), int(round(CENTRE[1] + t * math.cos(angle))))
            if not pixels or pixels[-1] != pixel:
                pixels.append(pixel)
        t = np.array([math.hypot(y - CENTRE[0], x - CENTRE[1]) for y, x in pixels])

        def change(values, a, b):  # the one place where the ray passes from value a to value b
            [i] = np.flatnonzero((values[:-1] == a) & (values[1:] == b))
            return (t[i] + t[i + 1]) / 2

        v = np.array([levels[p] for p in pixels])
        edge = change(np.array([mask[p] >= 0.5 for p in pixels]), True, False)
        extents.append((edge - change(v, 255, 128), change(v, 128, 0) - edge))
    return extents


# ---- trimap --masks ---------------------------------------------------------------------------

@pytest.mark.parametrize("band", [3, DEFAULT_BAND])
def test_a_disk_mask_gives_three_levels_and_a_band_of_the_asked_width(tmp_path, capsys, band):
    radius = 40
    save_grey(tmp_path / "masks" / "disk.png", disk(radius))
    argv = ["trimap", "--masks", tmp_path / "masks", "--output", tmp_path / "out"]
    status, out, err = cli(capsys, *argv, *(["--band", band] if band != DEFAULT_BAND else []))
    assert status == 0, err
    assert f"wrote 1 trimaps to {tmp_path / 'out'} (unknown band: {band} px per side)" in out
    levels = read_levels(tmp_path / "out" / "disk.png")
    assert set(np.unique(levels)) == {0, 128, 255}
    for inside, outside in band_along_rays(levels, disk(radius)):
        # Pixel centres: the last foreground pixel is within 1 px of the edge, hence the tolerance.
        assert abs(inside - band) <= 1 and abs(outside - band) <= 1, (inside, outside, band)
    # Everything far from the edge is known, and on the right side.
    d = distance_to_centre()
    assert np.all(levels[d < radius - band - 1] == 255) and np.all(levels[d > radius + band + 1] == 0)
    # In every direction: unknown exactly within `band` px (Euclidean) of the other side.
    inside = disk(radius) == 1
    to_background, to_object = distance_transform_edt(inside), distance_transform_edt(~inside)
    np.testing.assert_array_equal(levels == 128, (inside & (to_background <= band)) | (~inside & (to_object <= band)))


def test_band_fraction_scales_with_the_object(tmp_path, capsys):
    fraction = 0.1
    for name, radius in (("small", 20), ("large", 40)):
        save_grey(tmp_path / "masks" / f"{name}.png", disk(radius))
    status, out, err = cli(capsys, "trimap", "--masks", tmp_path / "masks", "--output", tmp_path / "out",
                           "--band-fraction", fraction)
    assert status == 0, err
    measured = {}
    for name, radius in (("small", 20), ("large", 40)):
        area = np.count_nonzero(disk(radius))
        expected = max(1, round(fraction * math.sqrt(area)))
        extents = band_along_rays(read_levels(tmp_path / "out" / f"{name}.png"), disk(radius))
        for inside, outside in extents:
            assert abs(inside - expected) <= 1 and abs(outside - expected) <= 1, (name, inside, outside, expected)
        measured[name] = np.mean(extents)
    assert measured["large"] / measured["small"] == pytest.approx(2.0, rel=0.2)
    assert "4 to 7 px per side" in out  # 0.1 x sqrt(1257) = 3.5, 0.1 x sqrt(5025) = 7.1


def test_band_fraction_gives_at_least_one_pixel():
    assert band_from_fraction(disk(3) == 1, 1e-4) == 1
    trimap = trimap_from_mask(disk(3), band_fraction=1e-4)
    np.testing.assert_array_equal(trimap, trimap_from_mask(disk(3), band=1))
    assert set(np.unique(trimap)) == {0.0, 0.5, 1.0}


def test_a_soft_mask_is_binarised_at_one_half(tmp_path, capsys):
    soft = np.clip((45 - distance_to_centre()) / 10, 0, 1)  # 1 inside r = 35, 0 outside r = 45
    save_grey(tmp_path / "masks" / "soft.png", soft)
    status, _, err = cli(capsys, "trimap", "--masks", tmp_path / "masks", "--output", tmp_path / "out", "--band", 5)
    assert status == 0, err
    stored = np.round(soft * 255) / 255
    expected = trimap_from_mask(stored >= 0.5, 5)
    levels = read_levels(tmp_path / "out" / "soft.png")
    np.testing.assert_array_equal(levels, np.select([expected == 0, expected == 1], [0, 255], 128))
    for inside, outside in band_along_rays(levels, soft):
        assert abs(inside - 5) <= 1 and abs(outside - 5) <= 1


# ---- trimap --alphas --------------------------------------------------------------------------

def test_alphas_get_the_study_label_generator_with_a_seed(tmp_path, capsys):
    alpha = np.round(np.clip((45 - distance_to_centre()) / 10, 0, 1) * 255) / 255
    save_grey(tmp_path / "alphas" / "a.png", alpha)
    for seed in (0, 1):
        status, out, err = cli(capsys, "trimap", "--alphas", tmp_path / "alphas", "--output", tmp_path / f"s{seed}",
                               "--seed", seed)
        assert status == 0, err
        assert f"trimap labels, widths drawn with seed {seed}" in out
        label = MakeLabel("trimap", TrainConfig().trimap_width).draw(alpha, image_rng(seed, "a.png"))
        np.testing.assert_array_equal(read_levels(tmp_path / f"s{seed}" / "a.png"),
                                      np.select([label == 0, label == 1], [0, 255], 128))
    # A fixed width: the study's make_trimap at that width.
    status, out, err = cli(capsys, "trimap", "--alphas", tmp_path / "alphas", "--output", tmp_path / "fixed",
                           "--band", 4)
    assert status == 0 and "4 px per side" in out, err
    expected = make_trimap(alpha, 4)
    np.testing.assert_array_equal(read_levels(tmp_path / "fixed" / "a.png"),
                                  np.select([expected == 0, expected == 1], [0, 255], 128))


def test_alphas_refuse_band_fraction(tmp_path, capsys):
    save_grey(tmp_path / "alphas" / "a.png", disk(30))
    status, _, err = cli(capsys, "trimap", "--alphas", tmp_path / "alphas", "--output", tmp_path / "out",
                         "--band-fraction", 0.1)
    assert status == 2 and len(err.splitlines()) == 1 and "--band-fraction goes with --masks" in err


def test_an_empty_alpha_is_named_and_skipped(tmp_path, capsys):
    save_grey(tmp_path / "alphas" / "a.png", disk(30))
    save_grey(tmp_path / "alphas" / "zero.png", np.zeros(SIZE))
    status, out, err = cli(capsys, "trimap", "--alphas", tmp_path / "alphas", "--output", tmp_path / "out")
    assert status == 2 and "wrote 1 trimaps" in out
    [line] = err.splitlines()
    assert str(tmp_path / "alphas" / "zero.png") in line and "0 everywhere" in line
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


# ---- bad input --------------------------------------------------------------------------------

def test_bad_files_are_named_skipped_and_earlier_outputs_survive(tmp_path, capsys):
    masks, out = tmp_path / "masks", tmp_path / "out"
    save_grey(masks / "good.png", disk(30))
    save_grey(masks / "empty.png", disk(30))
    status, _, err = cli(capsys, "trimap", "--masks", masks, "--output", out)
    assert status == 0, err
    earlier = (out / "empty.png").read_bytes()
    # Now the folder holds a file that is not an image, a colour photo, and an empty mask.
    (masks / "notes.png").write_text("not an image")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, SIZE + (3,), dtype=np.uint8)).save(masks / "photo.png")
    save_grey(masks / "empty.png", np.zeros(SIZE))
    (out / "good.png").unlink()
    status, stdout, err = cli(capsys, "trimap", "--masks", masks, "--output", out)
    assert status == 2
    lines = err.splitlines()
    assert len(lines) == 3, err
    for name, what in (("notes.png", "not an image"), ("photo.png", "R = G = B"), ("empty.png", "no foreground")):
        [line] = [line for line in lines if name in line]
        assert line.startswith("mattinglib: error: ") and what in line and str(masks / name) in line, line
    assert "wrote 1 trimaps" in stdout and "skipped 3 file(s)" in stdout
    assert (out / "good.png").is_file()  # the good mask is written
    assert (out / "empty.png").read_bytes() == earlier  # a skipped file leaves the earlier trimap alone
    assert not list(out.glob(".*"))  # no temporary file left behind


def test_a_band_wider_than_the_object_is_named(tmp_path, capsys):
    save_grey(tmp_path / "masks" / "thin.png", disk(4))
    status, _, err = cli(capsys, "trimap", "--masks", tmp_path / "masks", "--output", tmp_path / "out", "--band", 10)
    assert status == 2
    [line] = err.splitlines()
    assert "thin.png" in line and "leaves no known foreground" in line and "smaller --band" in line


@pytest.mark.parametrize("argv, named", [
    (["--masks", "{tmp}/nothere"], "nothere: no such mask folder"),
    (["--masks", "{tmp}/masks", "--band", "0"], "--band must be a whole number"),
    (["--masks", "{tmp}/masks", "--band", "3", "--band-fraction", "0.1"], "not allowed with argument"),
])
def test_bad_command_lines_are_one_line(tmp_path, capsys, argv, named):
    save_grey(tmp_path / "masks" / "a.png", disk(30))
    status, _, err = cli(capsys, "trimap", "--output", tmp_path / "out", *[a.format(tmp=tmp_path) for a in argv])
    assert status == 2
    [line] = err.splitlines()
    assert line.startswith("mattinglib: error: ") and named in line, line


def test_the_output_folder_may_not_be_the_mask_folder(tmp_path, capsys):
    save_grey(tmp_path / "masks" / "a.png", disk(30))
    before = (tmp_path / "masks" / "a.png").read_bytes()
    status, _, err = cli(capsys, "trimap", "--masks", tmp_path / "masks", "--output", tmp_path / "masks")
    assert status == 2 and "would overwrite the masks" in err
    assert (tmp_path / "masks" / "a.png").read_bytes() == before


# ---- train --help and config ------------------------------------------------------------------

def test_train_help_lists_every_supervision_mode(capsys):
    status, out, _ = cli(capsys, "train", "--help")
    assert status == 0
    for name, mode in SUPERVISIONS.items():
        assert any(line.split()[:1] == [name] and mode.description in line for line in out.splitlines()), name


def test_every_config_key_has_a_meaning():
    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    missing = [name for name in fields if not KEY_HELP.get(name, "").strip()]
    assert not missing, f"TrainConfig fields without a KEY_HELP entry: {missing}"
    assert set(KEY_HELP) == set(fields), set(KEY_HELP) - set(fields)


def test_config_prints_every_key_with_its_default_and_range(capsys):
    status, out, _ = cli(capsys, "config")
    assert status == 0
    defaults = json.loads(json.dumps(TrainConfig().to_dict()))
    lines = out.splitlines()
    for name, default in defaults.items():
        [line] = [line for line in lines if line.startswith(f"{name} = ")]
        assert line.startswith(f"{name} = {json.dumps(default)}  [") and allowed_values(name) in line, line
    assert "pretrained = null" in out and "one of " + ", ".join(SUPERVISIONS) in out
    status, out, _ = cli(capsys, "config", "--json")
    rows = json.loads(out)
    assert [row["key"] for row in rows] == list(defaults)
    assert all(row["default"] == defaults[row["key"]] and row["help"] == KEY_HELP[row["key"]] for row in rows)


# One change that breaks each rule that `config` states in words; a rule without one fails here.
BROKEN_RULES = {
    "kernel_size": {"kernel_size": 4},
    "topk": {"kernel_size": 3, "topk": 10},
    "lr": {"lr": 0.0},
    "lr_milestones": {"lr_milestones": (0.5,)},
    "lr_factors": {"lr_factors": (0.1,)},
    "crop_size": {"image_size": 64, "crop_size": 96},
    "colour_jitter": {"colour_jitter": 0.1},
    "holdout_fraction": {"holdout_fraction": 0.2},
    "in_channels": {"in_channels": 5},
    "encoder_lr_scale": {"encoder_lr_scale": 0.0},
    "synthetic_share": {"synthetic_share": 0.5},
    "translucent_share": {"translucent_share": 0.5},
}


def test_the_ranges_config_states_are_the_ones_enforced():
    assert set(BROKEN_RULES) == set(KEY_RULES)
    changes = ([BROKEN_RULES[name] for name in KEY_RULES] + [{name: "no-such-value"} for name in KEY_CHOICES]
               + [{name: 0} for name in KEYS_AT_LEAST_ONE] + [{name: -1.0} for name in KEYS_NON_NEGATIVE])
    for change in changes:
        with pytest.raises(ValueError):
            TrainConfig(**change)
    for name in (*KEY_CHOICES, *KEYS_AT_LEAST_ONE, *KEYS_NON_NEGATIVE, *KEY_RULES):
        assert allowed_values(name)
