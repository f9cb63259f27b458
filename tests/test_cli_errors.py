"""The command line's answer to bad input: one line on stderr naming the file, exit status 2.

One test per kind of bad input (config files, config values, data folders, images, trimaps,
checkpoints, run folders), plus ``--debug``, ``--restart`` and an unexpected failure.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mattinglib.__main__ import main
from mattinglib.config import TrainConfig
from mattinglib.models import build_model
from mattinglib.study.profiles import base_config

REPO = Path(__file__).resolve().parents[1]


def smoke_config(path: Path, **changes) -> Path:
    """A 2-step smoke config as a JSON file (what --config takes)."""
    config = base_config("smoke", steps=2, threads=1, **changes)
    path.write_text(json.dumps(config.to_dict(), indent=2))
    return path


def cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(err: str, *names: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mattinglib: error: "), err
    for name in names:
        assert name in lines[0], (name, err)
    return lines[0]


def save_png(path: Path, size: tuple[int, int], trimap: bool = False) -> Path:
    h, w = size
    if trimap:
        levels = np.zeros((h, w), np.uint8)
        levels[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 128
        levels[h // 3: 2 * h // 3, w // 3: 2 * w // 3] = 255
    else:
        levels = np.random.default_rng(h * w).integers(0, 255, (h, w, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(levels).save(path)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A real 2-step smoke run's checkpoint (3-channel U-Net of width 8)."""
    from mattinglib.train import train

    out = tmp_path_factory.mktemp("run")
    train(base_config("smoke", steps=2, threads=1, out_dir=str(out)))
    return out / "checkpoint.pt"


# ---- config -----------------------------------------------------------------------------------

def test_missing_config_file(tmp_path, capsys):
    status, _, err = cli(capsys, "train", "--config", tmp_path / "nothere.json")
    assert status == 2
    one_error_line(err, "nothere.json", "no such config file")


def test_malformed_json_names_line_and_column(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "steps": 3,\n  "lr": 0.1,\n}\n')  # a trailing comma
    status, _, err = cli(capsys, "train", "--config", path)
    assert status == 2
    one_error_line(err, "broken.json", "line 4 column 1", "invalid JSON")


def test_config_that_is_not_an_object(tmp_path, capsys):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    status, _, err = cli(capsys, "train", "--config", path)
    assert status == 2
    one_error_line(err, "list.json", "JSON object")


def test_unknown_config_key_names_the_file_and_a_close_key(tmp_path, capsys):
    path = smoke_config(tmp_path / "typo.json")
    path.write_text(path.read_text().replace('"steps"', '"stesp"'))
    status, _, err = cli(capsys, "train", "--config", path, "--set", f"out_dir={tmp_path / 'run'}")
    assert status == 2
    one_error_line(err, "typo.json", "'stesp'", "did you mean 'steps'")
    assert not (tmp_path / "run").exists()


def test_unknown_key_from_set_names_the_pair(tmp_path, capsys):
    status, _, err = cli(capsys, "train", "--set", "stesp=3", f"out_dir={tmp_path}")
    assert status == 2
    one_error_line(err, "--set stesp=3", "did you mean 'steps'")


def test_bad_value_lr_zero(tmp_path, capsys):
    path = smoke_config(tmp_path / "zero.json", lr=1e-3)
    path.write_text(path.read_text().replace('"lr": 0.001', '"lr": 0'))
    status, _, err = cli(capsys, "train", "--config", path)
    assert status == 2
    one_error_line(err, "zero.json", "lr must be > 0", "--set lr=VALUE")


def test_wrongly_typed_value_from_set(tmp_path, capsys):
    status, _, err = cli(capsys, "train", "--config", smoke_config(tmp_path / "c.json"), "--set", "steps=3x")
    assert status == 2
    one_error_line(err, "--set steps=3x", "'steps' must be int")


# ---- training data ----------------------------------------------------------------------------

def test_missing_data_folder(tmp_path, capsys):
    status, _, err = cli(capsys, "train", "--config", smoke_config(tmp_path / "c.json"), "--set", "dataset=folder",
                         f"data_root={tmp_path / 'nowhere'}", f"out_dir={tmp_path / 'run'}")
    assert status == 2
    one_error_line(err, "nowhere", "data_root")
    assert not (tmp_path / "run").exists()  # refused before the run folder is made


def test_training_folder_with_images_without_trimap(tmp_path, capsys):
    root = tmp_path / "mine"
    for name in ("a", "b", "c"):
        save_png(root / "images" / f"{name}.png", (60, 70))
    save_png(root / "trimaps" / "a.png", (60, 70), trimap=True)
    status, _, err = cli(capsys, "train", "--config", smoke_config(tmp_path / "c.json"), "--set", "dataset=folder",
                         f"data_root={root}", f"out_dir={tmp_path / 'run'}")
    assert status == 2
    one_error_line(err, "trimaps", "2 image(s)", "b.png, c.png")  # all of them, in one line
    assert not (tmp_path / "run").exists()


# ---- prediction -------------------------------------------------------------------------------

def test_predict_lists_every_image_without_trimap_and_predicts_the_rest(tmp_path, capsys, checkpoint):
    for name in ("a", "b", "c"):
        save_png(tmp_path / "photos" / f"{name}.png", (30, 20))
    save_png(tmp_path / "trimaps" / "b.png", (30, 20), trimap=True)
    status, out, err = cli(capsys, "predict", "--checkpoint", checkpoint, "--input", tmp_path / "photos",
                           "--output", tmp_path / "alphas", "--trimaps", tmp_path / "trimaps")
    assert status == 2
    one_error_line(err, "trimaps", "2 image(s)", "a.png, c.png", "skipped")  # both, in one line
    assert sorted(p.name for p in (tmp_path / "alphas").iterdir()) == ["b.png"]
    assert "wrote 1 alpha mattes" in out and "skipped 2" in out


def test_predict_skips_an_unreadable_image(tmp_path, capsys, checkpoint):
    save_png(tmp_path / "photos" / "good.png", (30, 20))
    (tmp_path / "photos" / "junk.png").write_bytes(b"this is not a PNG")
    status, _, err = cli(capsys, "predict", "--checkpoint", checkpoint, "--input", tmp_path / "photos",
                         "--output", tmp_path / "alphas")
    assert status == 2
    one_error_line(err, "junk.png", "cannot decode", "skipped")
    assert sorted(p.name for p in (tmp_path / "alphas").iterdir()) == ["good.png"]


def test_predict_skips_a_truncated_image_found_when_decoding(tmp_path, capsys, checkpoint):
    save_png(tmp_path / "photos" / "good.png", (30, 20))
    whole = save_png(tmp_path / "photos" / "cut.png", (40, 40)).read_bytes()
    (tmp_path / "photos" / "cut.png").write_bytes(whole[: len(whole) // 2])  # the header is intact
    status, _, err = cli(capsys, "predict", "--checkpoint", checkpoint, "--input", tmp_path / "photos",
                         "--output", tmp_path / "alphas")
    assert status == 2
    one_error_line(err, "cut.png", "cannot decode", "skipped")
    assert sorted(p.name for p in (tmp_path / "alphas").iterdir()) == ["good.png"]


def test_predict_skips_a_trimap_of_the_wrong_size(tmp_path, capsys, checkpoint):
    for name in ("a", "b"):
        save_png(tmp_path / "photos" / f"{name}.png", (30, 20))
    save_png(tmp_path / "trimaps" / "a.png", (30, 20), trimap=True)
    save_png(tmp_path / "trimaps" / "b.png", (20, 30), trimap=True)
    status, _, err = cli(capsys, "predict", "--checkpoint", checkpoint, "--input", tmp_path / "photos",
                         "--output", tmp_path / "alphas", "--trimaps", tmp_path / "trimaps")
    assert status == 2
    one_error_line(err, "b.png", "20x30", "30x20", "skipped")
    assert sorted(p.name for p in (tmp_path / "alphas").iterdir()) == ["a.png"]


def test_predict_refuses_a_missing_input_folder(tmp_path, capsys, checkpoint):
    status, _, err = cli(capsys, "predict", "--checkpoint", checkpoint, "--input", tmp_path / "nophotos",
                         "--output", tmp_path / "alphas")
    assert status == 2
    one_error_line(err, "nophotos", "no such input folder")


# ---- checkpoints ------------------------------------------------------------------------------

def test_foreign_init_checkpoint_names_the_file_and_both_models(tmp_path, capsys):
    foreign = tmp_path / "other.pt"
    torch.save({"model": build_model("unet", width=4).state_dict(), "config": TrainConfig(model_width=4).to_dict()},
               foreign)
    status, _, err = cli(capsys, "train", "--config", smoke_config(tmp_path / "c.json"),
                         "--set", f"init_checkpoint={foreign}", f"out_dir={tmp_path / 'run'}")
    assert status == 2
    one_error_line(err, "other.pt", "unet (width 4", "unet (width 8", "weights of other shape")
    assert not (tmp_path / "run").exists()


def test_predict_with_a_file_that_is_not_a_mattinglib_checkpoint(tmp_path, capsys):
    bare = tmp_path / "weights.pt"
    torch.save(build_model("unet", width=4).state_dict(), bare)
    save_png(tmp_path / "photos" / "a.png", (30, 20))
    status, _, err = cli(capsys, "predict", "--checkpoint", bare, "--input", tmp_path / "photos",
                         "--output", tmp_path / "alphas")
    assert status == 2
    one_error_line(err, "weights.pt", "not a mattinglib checkpoint")


def test_predict_with_weights_that_do_not_fit_their_config(tmp_path, capsys):
    odd = tmp_path / "odd.pt"
    torch.save({"model": build_model("vitmatte-tiny").state_dict(), "config": TrainConfig(model_width=8).to_dict()},
               odd)
    save_png(tmp_path / "photos" / "a.png", (30, 20))
    status, _, err = cli(capsys, "predict", "--checkpoint", odd, "--input", tmp_path / "photos",
                         "--output", tmp_path / "alphas")
    assert status == 2
    one_error_line(err, "odd.pt", "unet (width 8", "missing")


# ---- run folders ------------------------------------------------------------------------------

def test_out_dir_with_a_checkpoint_refuses_a_different_config(tmp_path, capsys):
    config, run = smoke_config(tmp_path / "c.json"), tmp_path / "run"
    assert cli(capsys, "train", "--config", config, "--out-dir", run)[0] == 0
    status, _, err = cli(capsys, "train", "--config", config, "--out-dir", run, "--set", "lr=0.5")
    assert status == 2
    one_error_line(err, str(run), "different config", "['lr']", "--out-dir NEW", "--restart")
    assert json.loads((run / "config.json").read_text())["lr"] == 1e-3  # untouched


def test_out_dir_without_a_checkpoint_takes_a_new_config(tmp_path, capsys):
    config, run = smoke_config(tmp_path / "c.json"), tmp_path / "run"
    save_png(tmp_path / "mine" / "images" / "a.png", (60, 70))  # no trimaps/: the run fails on its data
    status, _, err = cli(capsys, "train", "--config", config, "--out-dir", run, "--set", "dataset=folder",
                         f"data_root={tmp_path / 'mine'}")
    assert status == 2 and (run / "config.json").exists() and not (run / "checkpoint.pt").exists()
    one_error_line(err, "trimaps")
    status, _, err = cli(capsys, "train", "--config", config, "--out-dir", run)  # fixed: synthetic data
    assert status == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mattinglib: ") and "config.json" in lines[0], err
    assert "replaced" in lines[0] and "no checkpoint" in lines[0]
    assert json.loads((run / "config.json").read_text())["dataset"] == "synthetic"
    assert (run / "checkpoint.pt").exists()


def test_restart_discards_the_old_run(tmp_path, capsys):
    config, run = smoke_config(tmp_path / "c.json"), tmp_path / "run"
    assert cli(capsys, "train", "--config", config, "--out-dir", run)[0] == 0
    (run / "notes.txt").write_text("mine")
    status, _, err = cli(capsys, "train", "--config", config, "--out-dir", run, "--set", "lr=0.002", "--restart")
    assert status == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and "--restart" in lines[0] and "checkpoint.pt" in lines[0], err
    assert json.loads((run / "config.json").read_text())["lr"] == 0.002
    state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    assert state["config"]["lr"] == 0.002 and state["step"] == 2
    assert (run / "notes.txt").read_text() == "mine"  # only the run's own files go


# ---- the boundary itself ----------------------------------------------------------------------

def test_usage_error_is_one_line(capsys):
    status, _, err = cli(capsys, "train", "--set", "steps")
    assert status == 2
    one_error_line(err, "--set", "KEY=VALUE")


def test_unexpected_errors_exit_1_in_one_line(tmp_path, capsys, monkeypatch):
    import mattinglib.train

    def broken(config):
        raise RuntimeError("an internal bug")

    monkeypatch.setattr(mattinglib.train, "train", broken)
    status, _, err = cli(capsys, "train", "--config", smoke_config(tmp_path / "c.json"), "--out-dir", tmp_path / "r")
    assert status == 1
    one_error_line(err, "unexpected RuntimeError", "an internal bug", "--debug")


def test_exit_status_and_debug_traceback_of_the_real_command(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"steps": 3,,}')
    command = [sys.executable, "-m", "mattinglib"]
    plain = subprocess.run(command + ["train", "--config", str(path)], capture_output=True, text=True, cwd=REPO)
    assert plain.returncode == 2
    one_error_line(plain.stderr, "broken.json", "line 1 column 13")
    debug = subprocess.run(command + ["--debug", "train", "--config", str(path)], capture_output=True, text=True,
                           cwd=REPO)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "broken.json" in debug.stderr
