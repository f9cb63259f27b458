"""``predict`` and ``matte --method network`` without ``--checkpoint``: the best committed network, named.

:func:`mattinglib.default_networks.default_checkpoint` reads the notebooks' committed score tables, so
the tests check that the choice follows the table (a fake results folder whose scores are swapped),
that it matches the input (trimap given: 4 input channels, else 3), that the repository's own results
give a network that loads, and that the command line names what it chose in one line on stderr.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import mattinglib.default_networks as default_networks
from mattinglib.__main__ import main
from mattinglib.config import TrainConfig
from mattinglib.default_networks import default_checkpoint
from mattinglib.io import write_alpha_png
from mattinglib.models import build_model
from mattinglib.train import load_model

REPO = Path(__file__).resolve().parents[1]
HEADLINE = "held-out scenes, Trimap1"


def tiny_checkpoint(path: Path, in_channels: int) -> Path:
    """An untrained width-4 U-Net stored as train stores it (no training: cheap)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(model_width=4, in_channels=in_channels)
    model = build_model("unet", width=4, in_channels=in_channels)
    torch.save({"model": model.state_dict(), "config": config.to_dict()}, path)
    return path


def fake_notebook(results: Path, name: str, scores: dict[str, float], in_channels: int = 4,
                  eval_set: str = HEADLINE, protocol: str = "unknown") -> Path:
    """results/<name>/ as a notebook commits it: checkpoints, their listing, per-run scores (2 seeds), claims."""
    folder = results / name
    arms = list(scores)
    files = [arm.replace("+", "_") + ".pt" for arm in arms]
    for file in files:
        tiny_checkpoint(folder / "checkpoints" / file, in_channels)
    pd.DataFrame({"arm": arms, "file": files, "MB": 0.01}).to_csv(folder / "checkpoints_list.csv", index=False)
    rows = []
    for arm, sad in scores.items():
        for seed, offset in ((0, -1.0), (1, 1.0)):  # mean over the two seeds: ``sad``
            rows.append({"variant": arm, "seed": seed, "eval_set": eval_set, "protocol": protocol, "sad": sad + offset})
            other = "whole" if protocol == "unknown" else "unknown"  # not the headline: never chosen on
            rows.append({"variant": arm, "seed": seed, "eval_set": eval_set, "protocol": other, "sad": -100.0})
    rows.append({"variant": "closed-form", "seed": 0, "eval_set": eval_set, "protocol": protocol, "sad": 0.1})
    pd.DataFrame(rows).to_csv(folder / "scores_per_run.csv", index=False)
    (folder / "claims.json").write_text(json.dumps([{"metric": f"{protocol} sad", "eval_set": eval_set}]))
    return folder


# ---- the choice -------------------------------------------------------------------------------

def test_the_choice_follows_the_table(tmp_path):
    results = tmp_path / "results"
    fake_notebook(results, "60_trimap", {"known+ddc": 20.0, "fine": 25.0})
    path, description = default_checkpoint(True, results)
    assert path == results / "60_trimap" / "checkpoints" / "known_ddc.pt"
    assert description == ("trimap-input track, known+ddc: unknown-region SAD 20 on 'held-out scenes, Trimap1', "
                           "mean of 2 seeds, the lowest of 2 in results/60_trimap/scores_per_run.csv")
    fake_notebook(results, "60_trimap", {"known+ddc": 25.0, "fine": 20.0})  # the scores swapped
    path, description = default_checkpoint(True, results)
    assert path.name == "fine.pt" and description.startswith("trimap-input track, fine: unknown-region SAD 20 ")


def test_the_choice_matches_the_input_and_compares_tracks_on_one_test(tmp_path):
    results = tmp_path / "results"
    fake_notebook(results, "60_trimap", {"known+ddc": 20.0, "fine": 25.0})
    fake_notebook(results, "70_image", {"known": 7.0, "fine": 9.0}, in_channels=3,
                  eval_set="seen scenes, held-out photos", protocol="whole")
    path, description = default_checkpoint(False, results)
    assert path == results / "70_image" / "checkpoints" / "known.pt"
    assert description.startswith("image-only track, known: whole-image SAD 7 on 'seen scenes, held-out photos'")
    assert default_checkpoint(True, results)[0].name == "known_ddc.pt"
    # A later trimap-input notebook (say, pretrained encoders) competes on the first one's headline...
    fake_notebook(results, "80_pretrained", {"pretrained+ddc": 15.0})
    path, description = default_checkpoint(True, results)
    assert path == results / "80_pretrained" / "checkpoints" / "pretrained_ddc.pt"
    assert "the lowest of 3 in results/80_pretrained/scores_per_run.csv" in description
    # ... and one scored on another test only is not ranked against it.
    fake_notebook(results, "80_pretrained", {"pretrained+ddc": 1.0}, eval_set="another set")
    assert default_checkpoint(True, results)[0].name == "known_ddc.pt"


def test_no_results_or_no_network_for_the_input_is_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing: no such folder.*pass --checkpoint PT$"):
        default_checkpoint(True, tmp_path / "missing")
    fake_notebook(tmp_path / "results", "70_image", {"known": 7.0}, in_channels=3)
    with pytest.raises(FileNotFoundError, match=r"no committed network of the trimap-input track .*--checkpoint"):
        default_checkpoint(True, tmp_path / "results")
    (tmp_path / "results" / "70_image" / "checkpoints" / "known.pt").unlink()  # listed, not committed
    with pytest.raises(FileNotFoundError, match="image-only track"):
        default_checkpoint(False, tmp_path / "results")


@pytest.mark.parametrize("trimap_given, in_channels", [(True, 4), (False, 3)])
def test_the_committed_results_give_their_best_network(trimap_given, in_channels):
    path, description = default_checkpoint(trimap_given)
    assert path.is_file() and path.is_relative_to(REPO / "results")
    assert load_model(path).in_channels == in_channels
    # The lowest mean of the notebook's headline (its first claim) among its committed networks.
    notebook = path.parent.parent
    claim = json.loads((notebook / "claims.json").read_text())[0]
    protocol = claim["metric"].split()[0]
    scores = pd.read_csv(notebook / "scores_per_run.csv")
    listing = pd.read_csv(notebook / "checkpoints_list.csv")
    means = (scores[(scores["eval_set"] == claim["eval_set"]) & (scores["protocol"] == protocol)
                    & scores["variant"].isin(listing["arm"])].groupby("variant")["sad"].mean())
    best = means.idxmin()
    assert path.name == listing.set_index("arm").loc[best, "file"]
    assert f", {best}: " in description and f"{means[best]:.4g}" in description
    assert description.startswith("trimap-input track" if trimap_given else "image-only track")


# ---- the command line -------------------------------------------------------------------------

def cli(capsys, *argv):
    capsys.readouterr()
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def tiny_folder(tmp_path: Path) -> tuple[Path, Path]:
    """images/a.png (36 x 44, a red disc on blue) and trimaps/a.png."""
    yy, xx = np.mgrid[:36, :44]
    inside = np.hypot(yy - 18, xx - 22)
    image = np.where((inside < 10)[..., None], [230, 50, 30], [30, 80, 200]).astype(np.uint8)
    trimap = np.where(inside < 7, 1.0, np.where(inside > 13, 0.0, 0.5))
    (tmp_path / "images").mkdir()
    (tmp_path / "trimaps").mkdir()
    Image.fromarray(image).save(tmp_path / "images" / "a.png")
    write_alpha_png(tmp_path / "trimaps" / "a.png", trimap)
    return tmp_path / "images", tmp_path / "trimaps"


@pytest.mark.parametrize("command, trimap_given, notebook", [("predict --trimaps", True, "60_real_trimap_input"),
                                                              ("predict", False, "70_real_image_only"),
                                                              ("matte --method network", True, "60_real_trimap_input")])
def test_cli_without_checkpoint_names_the_network_it_uses(tmp_path, capsys, command, trimap_given, notebook):
    images, trimaps = tiny_folder(tmp_path)
    argv = {"predict --trimaps": ["predict", "--input", images, "--trimaps", trimaps],
            "predict": ["predict", "--input", images],
            "matte --method network": ["matte", "--method", "network", "--images", images,
                                       "--trimaps", trimaps]}[command]
    status, out, err = cli(capsys, *argv, "--output", tmp_path / "out")
    assert status == 0, err
    assert (tmp_path / "out" / "a.png").is_file() and "wrote 1 alpha mattes" in out
    path, description = default_checkpoint(trimap_given)
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    lines = [line for line in err.splitlines() if line.startswith("mattinglib: ")]
    assert lines == [f"mattinglib: no --checkpoint: using {shown} ({description})"]
    assert f"results/{notebook}/checkpoints/" in lines[0]


@pytest.mark.parametrize("command", ["predict", "matte"])
def test_cli_without_results_is_one_line_exit_2(tmp_path, capsys, monkeypatch, command):
    images, trimaps = tiny_folder(tmp_path)
    monkeypatch.setattr(default_networks, "results_folder", lambda: tmp_path / "no-results")
    argv = (["predict", "--input", images, "--output", tmp_path / "out"] if command == "predict" else
            ["matte", "--method", "network", "--images", images, "--trimaps", trimaps, "--output", tmp_path / "out"])
    status, out, err = cli(capsys, *argv)
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"mattinglib: error: {tmp_path / 'no-results'}: no such folder")
    assert err.rstrip().endswith("pass --checkpoint PT")
    assert not (tmp_path / "out").exists()
