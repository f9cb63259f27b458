"""mattinglib.matte and ``python -m mattinglib matte`` / ``evaluate --images``: mattes with no training.

Every image here is tiny (40 x 40): a disc of one colour on a background of another, with a
trimap whose unknown band straddles the disc's edge, so that each method has a right answer.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from mattinglib.__main__ import main
from mattinglib.baselines import TrimapAsAlphaWarning, baseline_predictor, for_image
from mattinglib.config import TrainConfig
from mattinglib.io import read_alpha, write_alpha_png
from mattinglib.matte import METHODS, ddc_prior_alpha, matte_folder, matte_image
from mattinglib.models import build_model
from mattinglib.predict import InputProblem
from mattinglib.prior import image_pyramid, optimise_alpha

SIZE = 40


def disc_scene(size: int = SIZE, seed: int = 0):
    """(image (H, W, 3) float64, true alpha (H, W), trimap (H, W)) of a soft-edged red disc on blue."""
    yy, xx = np.mgrid[:size, :size]
    radius = np.hypot(yy - size / 2 + 0.5, xx - size / 2 + 0.5)
    alpha = np.clip(size / 4 + 1.0 - radius, 0.0, 1.0)  # one soft ring of pixels at radius size / 4
    noise = np.random.default_rng(seed).normal(0, 0.01, (size, size, 3))
    image = np.clip(alpha[..., None] * [0.9, 0.2, 0.1] + (1 - alpha[..., None]) * [0.1, 0.3, 0.8] + noise, 0, 1)
    trimap = np.full((size, size), 0.5)
    trimap[radius < size / 4 - 4] = 1.0
    trimap[radius > size / 4 + 5] = 0.0
    return image, alpha, trimap


def save_scene(folder_images, folder_trimaps, name: str, size: int = SIZE, seed: int = 0, trimap=None):
    image, alpha, scene_trimap = disc_scene(size, seed)
    folder_images.mkdir(parents=True, exist_ok=True)
    folder_trimaps.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(folder_images / f"{name}.png")
    write_alpha_png(folder_trimaps / f"{name}.png", scene_trimap if trimap is None else trimap)
    return alpha


def cli(capsys, *argv):
    capsys.readouterr()
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def tiny_checkpoint(path, in_channels: int = 3):
    """An untrained U-Net of width 4 stored as train stores it (no training: cheap)."""
    config = TrainConfig(model_width=4, in_channels=in_channels)
    torch.manual_seed(0)
    model = build_model("unet", width=4, in_channels=in_channels)
    torch.save({"model": model.state_dict(), "config": config.to_dict()}, path)
    return path


def unknown_sad(pred, alpha, trimap) -> float:
    return float(np.abs(pred - alpha)[trimap == 0.5].sum())


# ---- the library ------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["closed-form", "knn", "ddc-prior"])
def test_each_classical_and_prior_method_finds_the_disc(method):
    image, alpha, trimap = disc_scene()
    options = {"steps": 150, "coarse_steps": 50} if method == "ddc-prior" else {}
    pred = matte_image(image, trimap, method, **options)
    assert pred.shape == trimap.shape and pred.dtype == np.float64
    np.testing.assert_array_equal(pred[trimap == 1], 1.0)  # known pixels keep the trimap's value
    np.testing.assert_array_equal(pred[trimap == 0], 0.0)
    unknown = trimap == 0.5
    trimap_sad = unknown_sad(np.full_like(alpha, 0.5), alpha, trimap)
    # The trimap as alpha is wrong by 0.5 on most of the band; a method must do far better.
    assert unknown_sad(pred, alpha, trimap) < 0.25 * trimap_sad, (method, unknown_sad(pred, alpha, trimap), trimap_sad)
    assert pred[unknown & (alpha == 1)].mean() > 0.8 and pred[unknown & (alpha == 0)].mean() < 0.2


def test_ddc_prior_on_one_level_is_the_prior_of_mattinglib_prior():
    image, _, trimap = disc_scene()
    ours = ddc_prior_alpha(image, trimap, weight=3.0, steps=25, lr=0.1, levels=1, final_lr=1.0, kernel_size=7, topk=5)
    reference = optimise_alpha(image, trimap, loss="ddc", weight=3.0, steps=25, lr=0.1, kernel_size=7, topk=5,
                               init="trimap")
    np.testing.assert_array_equal(ours, reference)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ddc_prior_alpha(image, trimap, steps=1, levels=1)  # runs on one thread ...
        assert torch.get_num_threads() == 2  # ... and gives the caller's count back
    finally:
        torch.set_num_threads(threads)


def test_ddc_prior_coarse_to_fine_reports_every_step_and_differs_from_one_level():
    image, _, trimap = disc_scene(48)
    seen = []
    multi = ddc_prior_alpha(image, trimap, steps=7, coarse_steps=5, levels=2, final_lr=0.1, kernel_size=11,
                            on_step=lambda done, total, logits: seen.append((done, total, tuple(logits.shape))))
    assert [s[:2] for s in seen] == [(i, 12) for i in range(1, 13)]
    assert seen[0][2] == (1, 1, 24, 24) and seen[-1][2] == (1, 1, 48, 48)
    single = ddc_prior_alpha(image, trimap, steps=7, levels=1, final_lr=0.1, kernel_size=11)
    # With the default 41 x 41 window a 48 px image is not halved: one level only.
    seen.clear()
    ddc_prior_alpha(image, trimap, steps=2, coarse_steps=5, levels=3,
                    on_step=lambda done, total, logits: seen.append((done, total, tuple(logits.shape))))
    assert [s[:2] for s in seen] == [(1, 2), (2, 2)] and seen[0][2] == (1, 1, 48, 48)
    assert not np.array_equal(multi, single)


def test_pyramid_trimap_is_known_only_where_all_its_pixels_are():
    trimap = torch.zeros(1, 1, 46, 46)
    trimap[..., 20:, :] = 1.0
    trimap[..., 21, 5] = 0.5  # one unknown pixel inside the foreground
    (x_coarse, t_coarse), (x_fine, t_fine) = image_pyramid(torch.rand(1, 3, 46, 46), trimap, 2)
    assert t_coarse.shape[-2:] == (23, 23) and x_coarse.shape[-2:] == (23, 23) and t_fine is trimap
    assert t_coarse[0, 0, 10, 2] == 0.5  # the block holding the unknown pixel
    assert t_coarse[0, 0, 10, 10] == 1.0 and t_coarse[0, 0, 3, 3] == 0.0
    assert set(t_coarse.unique().tolist()) == {0.0, 0.5, 1.0}


def test_unknown_method_and_misplaced_options_are_refused():
    image, _, trimap = disc_scene()
    with pytest.raises(ValueError, match="unknown matting method 'magic'"):
        matte_image(image, trimap, "magic")
    with pytest.raises(ValueError, match="ddc-prior's"):
        matte_image(image, trimap, "closed-form", steps=3)
    with pytest.raises(ValueError, match="needs the model"):
        matte_image(image, trimap, "network")
    assert METHODS[0] == "ddc-prior"


@pytest.mark.parametrize("in_channels", [3, 4])
def test_network_method_with_an_untrained_checkpoint(tmp_path, in_channels, monkeypatch):
    checkpoint = tiny_checkpoint(tmp_path / "tiny.pt", in_channels)
    save_scene(tmp_path / "images", tmp_path / "trimaps", "a")
    shapes = []
    import mattinglib.evaluate

    original = mattinglib.evaluate.predict_alpha

    def spy(model, image, trimap=None):
        shapes.append(model.in_channels)
        return original(model, image, trimap)

    monkeypatch.setattr(mattinglib.evaluate, "predict_alpha", spy)
    result = matte_folder(tmp_path / "images", tmp_path / "trimaps", tmp_path / "out", "network",
                          checkpoint=checkpoint, progress=False)
    assert [p.name for p in result.written] == ["a.png"] and shapes == [in_channels]
    _, _, trimap = disc_scene()
    written = read_alpha(tmp_path / "out" / "a.png")
    np.testing.assert_array_equal(written[trimap == 1], 1.0)
    np.testing.assert_array_equal(written[trimap == 0], 0.0)


def test_network_needs_a_checkpoint_and_others_refuse_one(tmp_path):
    save_scene(tmp_path / "images", tmp_path / "trimaps", "a")
    with pytest.raises(ValueError, match="needs a checkpoint"):
        matte_folder(tmp_path / "images", tmp_path / "trimaps", tmp_path / "out", "network", progress=False)
    with pytest.raises(ValueError, match="used by method 'network' only"):
        matte_folder(tmp_path / "images", tmp_path / "trimaps", tmp_path / "out", "knn",
                     checkpoint=tmp_path / "x.pt", progress=False)


def test_matte_folder_raises_every_problem_at_once_without_on_skip(tmp_path):
    for name in ("a", "b", "c"):
        save_scene(tmp_path / "images", tmp_path / "trimaps", name)
    (tmp_path / "trimaps" / "a.png").unlink()
    (tmp_path / "trimaps" / "c.png").unlink()
    (tmp_path / "images" / "junk.png").write_bytes(b"not a png")
    with pytest.raises(InputProblem) as caught:
        matte_folder(tmp_path / "images", tmp_path / "trimaps", tmp_path / "out", "closed-form", progress=False)
    message = str(caught.value)
    assert "no trimap for 2 image(s)" in message and "a.png, c.png" in message and "junk.png" in message
    assert sorted(p.name for p in caught.value.paths) == ["a.png", "c.png", "junk.png"]
    assert not (tmp_path / "out").exists()  # checked before anything is written


# ---- baselines that cannot run ------------------------------------------------------------------

def test_baseline_without_known_foreground_warns_and_returns_the_trimap():
    image, _, trimap = disc_scene()
    no_foreground = np.where(trimap == 1, 0.5, trimap)
    with pytest.warns(TrimapAsAlphaWarning, match="closed-form returned the trimap as alpha: it has no known "
                                                  "foreground pixel"):
        pred = baseline_predictor("closed-form")(image, no_foreground)
    np.testing.assert_array_equal(pred, no_foreground)  # the study's numbers stay as they were
    with pytest.warns(TrimapAsAlphaWarning, match=r"^photo\.png: knn returned .* no known foreground and no "
                                                  r"known background"):
        with for_image("photo.png") as notes:
            baseline_predictor("knn")(image, np.full_like(trimap, 0.5))
    assert len(notes) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a trimap with both sides: no warning
        baseline_predictor("closed-form")(image, trimap)


# ---- the command line ---------------------------------------------------------------------------

def test_matte_cli_writes_every_image_and_the_time_per_megapixel(tmp_path, capsys):
    truth = {name: save_scene(tmp_path / "images", tmp_path / "trimaps", name, seed=i)
             for i, name in enumerate(("a", "b"))}
    status, out, err = cli(capsys, "matte", "--images", tmp_path / "images", "--trimaps", tmp_path / "trimaps",
                           "--output", tmp_path / "out")  # the default method: ddc-prior
    assert status == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    assert "wrote 2 alpha mattes" in out
    line = re.search(r"ddc-prior: ([0-9.e+-]+) s per megapixel \(2 image\(s\), 0\.00 MP in ([0-9.]+) s", out)
    assert line, out
    assert float(line.group(1)) > 0
    _, _, trimap = disc_scene()
    for name, alpha in truth.items():
        written = read_alpha(tmp_path / "out" / f"{name}.png")
        assert unknown_sad(written, alpha, trimap) < 0.25 * unknown_sad(np.full_like(alpha, 0.5), alpha, trimap)


def test_matte_cli_lists_all_problems_skips_them_and_exits_2(tmp_path, capsys):
    for name in ("a", "b", "c", "d"):
        save_scene(tmp_path / "images", tmp_path / "trimaps", name)
    (tmp_path / "trimaps" / "a.png").unlink()
    (tmp_path / "trimaps" / "c.png").unlink()
    (tmp_path / "images" / "junk.png").write_bytes(b"this is not a PNG")
    whole = (tmp_path / "images" / "d.png").read_bytes()
    (tmp_path / "images" / "d.png").write_bytes(whole[: len(whole) // 2])  # found only when decoding
    status, out, err = cli(capsys, "matte", "--images", tmp_path / "images", "--trimaps", tmp_path / "trimaps",
                           "--output", tmp_path / "out", "--method", "closed-form")
    assert status == 2
    lines = err.splitlines()
    assert len(lines) == 3, err
    assert all(line.startswith("mattinglib: error: ") and line.endswith("(skipped)") for line in lines)
    assert "no trimap for 2 image(s)" in lines[0] and "a.png, c.png" in lines[0]  # both, in one line
    assert "junk.png" in lines[1] and "cannot decode" in lines[1]
    assert "d.png" in lines[2] and "cannot decode" in lines[2]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b.png"]
    assert "wrote 1 alpha mattes" in out and "skipped 4 image(s)" in out and "s per megapixel" in out


def test_matte_cli_names_the_image_a_baseline_could_not_run_on(tmp_path, capsys):
    save_scene(tmp_path / "images", tmp_path / "trimaps", "good")
    _, _, trimap = disc_scene()
    save_scene(tmp_path / "images", tmp_path / "trimaps", "nofg", trimap=np.where(trimap == 1, 0.5, trimap))
    status, out, err = cli(capsys, "matte", "--images", tmp_path / "images", "--trimaps", tmp_path / "trimaps",
                           "--output", tmp_path / "out", "--method", "closed-form")
    assert status == 0, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mattinglib: warning: ") and "nofg.png" in lines[0]
    assert "returned the trimap as alpha: it has no known foreground" in lines[0]
    assert "returned the trimap as alpha for 1 image(s)" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.png", "nofg.png"]


def test_matte_cli_flags(tmp_path, capsys):
    status, out, _ = cli(capsys, "matte", "--help")
    assert status == 0 and "--method {ddc-prior,closed-form,knn,network}" in out
    save_scene(tmp_path / "images", tmp_path / "trimaps", "a")
    common = ["matte", "--images", tmp_path / "images", "--trimaps", tmp_path / "trimaps", "--output", tmp_path / "o"]
    status, _, err = cli(capsys, *common, "--method", "network")  # no --checkpoint: the best committed network
    assert status == 0 and "mattinglib: no --checkpoint: using results/60_real_trimap_input/checkpoints/" in err
    status, _, err = cli(capsys, *common, "--method", "knn", "--checkpoint", tmp_path / "x.pt")
    assert status == 2 and err.count("\n") == 1 and "--checkpoint is used by --method network only" in err
    status, _, err = cli(capsys, "matte", "--images", tmp_path / "nothing", "--trimaps", tmp_path / "trimaps",
                         "--output", tmp_path / "o")
    assert status == 2 and "nothing: no such image folder" in err
    checkpoint = tiny_checkpoint(tmp_path / "tiny.pt")
    status, out, err = cli(capsys, *common, "--checkpoint", checkpoint)  # --checkpoint alone: the network
    assert status == 0, err
    assert "network: " in out and "s per megapixel" in out


def test_evaluate_scores_a_users_own_folders(tmp_path, capsys):
    (tmp_path / "alphas").mkdir()
    for i, name in enumerate(("a", "b")):
        alpha = save_scene(tmp_path / "images", tmp_path / "trimaps", name, seed=i)
        write_alpha_png(tmp_path / "alphas" / f"{name}.png", alpha)
    common = ["evaluate", "--images", tmp_path / "images", "--alphas", tmp_path / "alphas", "--trimaps",
              tmp_path / "trimaps"]
    status, out, err = cli(capsys, *common, "--baseline", "trimap", "--protocol", "unknown")
    assert status == 0, err
    assert "a.png" in out and "b.png" in out and "mean (unknown protocol, 2 images" in out
    _, alpha, trimap = disc_scene()
    written = read_alpha(tmp_path / "alphas" / "a.png").astype(np.float64)
    expected = np.abs(np.where(trimap == 0.5, 0.5, trimap) - written)[trimap == 0.5].sum() / 1000
    row = next(line for line in out.splitlines() if line.strip().startswith("a.png"))
    assert float(row.split()[1]) == pytest.approx(expected, rel=1e-3)
    status, out, err = cli(capsys, *common, "--method", "closed-form", "--protocol", "whole")
    assert status == 0, err
    assert "mean (whole protocol, 2 images" in out and "sad_fg" in out


def test_evaluate_lists_missing_alphas_and_trimaps_at_once(tmp_path, capsys):
    (tmp_path / "alphas").mkdir()
    for name in ("a", "b", "c"):
        alpha = save_scene(tmp_path / "images", tmp_path / "trimaps", name)
        write_alpha_png(tmp_path / "alphas" / f"{name}.png", alpha)
    (tmp_path / "alphas" / "a.png").unlink()
    (tmp_path / "alphas" / "b.png").unlink()
    (tmp_path / "trimaps" / "c.png").unlink()
    status, out, err = cli(capsys, "evaluate", "--baseline", "closed-form", "--images", tmp_path / "images",
                           "--alphas", tmp_path / "alphas", "--trimaps", tmp_path / "trimaps")
    assert status == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mattinglib: error: "), err
    assert "no alpha matte for 2 image(s)" in lines[0] and "a.png, b.png" in lines[0]
    assert "no trimap for 1 image(s)" in lines[0] and "c.png" in lines[0]
    status, _, err = cli(capsys, "evaluate", "--baseline", "knn", "--images", tmp_path / "images")
    assert status == 2 and "needs --alphas, --trimaps too" in err


def test_evaluate_names_the_image_a_baseline_could_not_run_on(tmp_path, capsys):
    _, alpha, trimap = disc_scene()
    save_scene(tmp_path / "images", tmp_path / "trimaps", "nobg", trimap=np.where(trimap == 0, 0.5, trimap))
    (tmp_path / "alphas").mkdir()
    write_alpha_png(tmp_path / "alphas" / "nobg.png", alpha)
    status, out, err = cli(capsys, "evaluate", "--baseline", "knn", "--images", tmp_path / "images",
                           "--alphas", tmp_path / "alphas", "--trimaps", tmp_path / "trimaps")
    assert status == 0, err
    assert "mattinglib: warning: nobg.png: knn returned the trimap as alpha: it has no known background" in err
