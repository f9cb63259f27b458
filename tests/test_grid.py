"""Grids of runs: every (variant, seed) trained once, scored, and reused on a rerun."""
import pandas as pd

from mattinglib.config import TrainConfig
from mattinglib.study.grid import run_dir, run_grid
from mattinglib.study.profiles import base_config


def test_grid_trains_scores_and_reuses_finished_runs(tmp_path):
    base = TrainConfig(image_size=56, crop_size=48, train_length=8, test_length=2, model_width=8, batch_size=2,
                       steps=2, warmup_steps=1, kernel_size=5, topk=5, threads=1)
    variants = {"fine": {"supervision": "fine"}, "known+ddc w1": {"supervision": "known+ddc", "ddc_weight": 1.0}}
    first = run_grid(base, variants, seeds=[0, 1], root=tmp_path, progress=False)
    assert len(first) == 2 * 2 * 2  # variants x seeds x protocols
    assert set(first["protocol"]) == {"whole", "unknown"} and first["sad"].notna().all()
    w1_seed1 = base.replace(supervision="known+ddc", ddc_weight=1.0, seed=1, progress=False)
    assert (run_dir(tmp_path, w1_seed1) / "checkpoint.pt").is_file()
    assert set(first["run_dir"]) == {str(run_dir(tmp_path, base.replace(**changes, seed=seed, progress=False)))
                                     for changes in variants.values() for seed in (0, 1)}
    fine = run_dir(tmp_path, base.replace(supervision="fine", seed=0, progress=False)) / "checkpoint.pt"
    mtime = fine.stat().st_mtime_ns
    # Another grid asking for one of the same runs under another name reuses it.
    again = run_grid(base, variants | {"the fine baseline": {"supervision": "fine"}}, seeds=[0, 1], root=tmp_path,
                     progress=False)
    pd.testing.assert_frame_equal(first, again[again["variant"] != "the fine baseline"].reset_index(drop=True))
    assert fine.stat().st_mtime_ns == mtime  # not retrained
    assert len(list(tmp_path.iterdir())) == 4


def test_run_dir_names_every_setting_that_changes_the_numbers(tmp_path):
    base = TrainConfig()
    # Pinned: a change of the digest would orphan every kept run of the study (and the committed results').
    assert run_dir(tmp_path, base_config("cpu", supervision="fine", seed=1)).name == "fine-seed1-e952ca05ea65"
    assert run_dir(tmp_path, base).name.startswith("known+ddc-seed0-")
    assert run_dir(tmp_path, base) == run_dir(tmp_path, base.replace(out_dir="x", progress=False, eval_every=7))
    for change in ({"ddc_weight": 1.0}, {"seed": 1}, {"kernel_size": 5}, {"threads": 2}, {"alpha_label": "smoothed"}):
        assert run_dir(tmp_path, base.replace(**change)) != run_dir(tmp_path, base)


def test_grid_in_two_processes_gives_the_numbers_of_one_thread_runs(tmp_path):
    # jobs=2 trains each run in its own spawned process with threads // jobs = 1 thread: the
    # scores must equal those of the same runs trained one after the other with 1 thread.
    base = TrainConfig(image_size=48, crop_size=40, train_length=8, test_length=2, model_width=8, batch_size=2,
                       steps=2, warmup_steps=1, kernel_size=5, topk=5, threads=2)
    variants = {"known+ddc": {"supervision": "known+ddc"}, "known": {"supervision": "known"}}
    # "same as known" names the run "known" names: it is trained once, not by two processes at once.
    parallel = run_grid(base, variants | {"same as known": {"supervision": "known"}}, seeds=[0],
                        root=tmp_path / "two", progress=False, jobs=2)
    serial = run_grid(base.replace(threads=1), variants, seeds=[0], root=tmp_path / "one", progress=False)
    assert len(list((tmp_path / "two").iterdir())) == 2
    parallel = parallel[parallel["variant"] != "same as known"].reset_index(drop=True)
    pd.testing.assert_frame_equal(parallel.drop(columns="run_dir"), serial.drop(columns="run_dir"))
