"""Grids of runs: every (variant, seed) trained once, scored, and reused on a rerun."""
import pandas as pd

from mattinglib.config import TrainConfig
from mattinglib.grid import run_grid, run_name


def test_grid_trains_scores_and_reuses_finished_runs(tmp_path):
    base = TrainConfig(image_size=56, crop_size=48, train_length=8, test_length=2, model_width=8, batch_size=2,
                       steps=2, warmup_steps=1, kernel_size=5, topk=5, threads=1)
    variants = {"fine": {"supervision": "fine"}, "known+ddc w1": {"supervision": "known+ddc", "ddc_weight": 1.0}}
    first = run_grid(base, variants, seeds=[0, 1], root=tmp_path, progress=False)
    assert len(first) == 2 * 2 * 2  # variants x seeds x protocols
    assert set(first["protocol"]) == {"whole", "unknown"} and first["sad"].notna().all()
    assert (tmp_path / run_name("known+ddc w1", 1) / "checkpoint.pt").is_file()
    mtime = (tmp_path / run_name("fine", 0) / "checkpoint.pt").stat().st_mtime_ns
    again = run_grid(base, variants, seeds=[0, 1], root=tmp_path, progress=False)
    pd.testing.assert_frame_equal(first, again)
    assert (tmp_path / run_name("fine", 0) / "checkpoint.pt").stat().st_mtime_ns == mtime  # not retrained
    assert run_name("known+ddc w1", 3) == "known_ddc_w1__seed3"
