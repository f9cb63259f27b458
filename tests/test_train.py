"""Training engine: strict config, determinism, resume after SIGKILL, NaN stop, DDP."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from mattinglib.config import TrainConfig
from mattinglib.train import TrainingDiverged, load_model, train

REPO = Path(__file__).resolve().parents[1]

# A run small enough for a test: 48 px crops (the 5-level Laplacian loss needs 48) of 56 px
# composites, a width-8 U-Net.
TINY = dict(image_size=56, crop_size=48, train_length=12, test_length=3, model_width=8, batch_size=4,
            steps=6, warmup_steps=2, eval_every=3, checkpoint_every=2, log_every=1, progress=False,
            kernel_size=5, topk=5, threads=1)


def tiny(tmp_path, **changes) -> TrainConfig:
    return TrainConfig.from_dict(TINY | {"out_dir": str(tmp_path / "run")} | changes)


# ---- config ---------------------------------------------------------------------------------

def test_config_rejects_unknown_keys_and_wrong_types():
    with pytest.raises(KeyError, match="stesp"):
        TrainConfig.from_dict({"stesp": 10})
    with pytest.raises(TypeError, match="steps"):
        TrainConfig(steps="10")
    with pytest.raises(TypeError, match="flip"):
        TrainConfig(flip=1)
    with pytest.raises(ValueError, match="supervision"):
        TrainConfig(supervision="alpha")
    with pytest.raises(ValueError, match="kernel_size"):
        TrainConfig(kernel_size=4)


def test_config_round_trips_through_json():
    cfg = TrainConfig(trimap_width=(2, 9), lr_milestones=(0.5,), lr_factors=(0.1,), ddc_schedule="ramp")
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


def test_schedules():
    cfg = TrainConfig(steps=100, lr=1.0, warmup_steps=10, lr_milestones=(0.5, 0.9), lr_factors=(0.1, 0.05),
                      ddc_weight=10.0, ddc_schedule="ramp", ddc_ramp_start=20, ddc_ramp_steps=10)
    assert cfg.lr_at(0) == pytest.approx(0.1) and cfg.lr_at(9) == pytest.approx(1.0)
    assert cfg.lr_at(49) == 1.0 and cfg.lr_at(50) == pytest.approx(0.1) and cfg.lr_at(95) == pytest.approx(0.05)
    assert cfg.ddc_weight_at(19) == 0.0 and cfg.ddc_weight_at(24) == pytest.approx(5.0)
    assert cfg.ddc_weight_at(60) == 10.0
    assert TrainConfig(ddc_weight=3.0).ddc_weight_at(0) == 3.0  # the paper's constant weight by default


# ---- training -------------------------------------------------------------------------------

@pytest.mark.parametrize("supervision", ["fine", "known", "known+ddc", "known+dc", "trimap-l1"])
def test_every_supervision_trains_and_is_deterministic(tmp_path, supervision):
    first = train(tiny(tmp_path / "a", supervision=supervision))
    second = train(tiny(tmp_path / "b", supervision=supervision))
    pd.testing.assert_frame_equal(first.history, second.history)
    pd.testing.assert_frame_equal(first.evaluations, second.evaluations)
    assert len(first.history) == 6 and list(first.evaluations["step"]) == [3, 6]
    expected = {"fine": {"l1", "laplacian"}, "known": {"known"}, "known+ddc": {"known", "ddc"},
                "known+dc": {"known", "dc"}, "trimap-l1": {"trimap_l1"}}[supervision]
    assert expected | {"total"} <= set(first.history.columns)
    out = Path(first.out_dir)
    assert {"config.json", "checkpoint.pt", "history.csv", "evaluations.csv"} <= {p.name for p in out.iterdir()}


@pytest.mark.parametrize("supervision", ["fine", "known", "known+ddc", "known+dc", "trimap-l1"])
def test_a_short_run_lowers_its_own_loss(tmp_path, supervision):
    # Four composites seen over and over at a high learning rate: every supervision must fit
    # its own objective, whatever it is (a loss that is not wired to the network would not).
    config = tiny(tmp_path, supervision=supervision, train_length=4, steps=40, lr=5e-3, warmup_steps=1,
                  eval_every=10 ** 6, checkpoint_every=40, lr_milestones=(), lr_factors=())
    total = train(config).history["total"]
    assert total.iloc[-8:].mean() < 0.8 * total.iloc[0], total.round(4).tolist()


def test_train_gives_back_the_torch_state_it_changed(tmp_path):
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(False)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(tiny(tmp_path, threads=1, steps=2))
    assert torch.get_num_threads() == 2 and not torch.are_deterministic_algorithms_enabled()
    assert torch.equal(torch.rand(3), expected)  # the global random stream goes on untouched


def test_batches_do_not_depend_on_worker_count(tmp_path):
    serial = train(tiny(tmp_path / "w0", num_workers=0, steps=4))
    parallel = train(tiny(tmp_path / "w2", num_workers=2, steps=4))
    pd.testing.assert_frame_equal(serial.history, parallel.history)


def test_label_types_and_ramp_train(tmp_path):
    for label in ("trimap-release", "mask", "scribble"):
        result = train(tiny(tmp_path / label, label=label, steps=2, eval_every=2))
        assert result.history["total"].notna().all()
    balanced = train(tiny(tmp_path / "balanced", known_balanced=True, steps=2, eval_every=2))
    plain = train(tiny(tmp_path / "plain", steps=2, eval_every=2))
    assert balanced.history["known"][0] != plain.history["known"][0]
    ramp = train(tiny(tmp_path / "ramp", ddc_schedule="ramp", ddc_ramp_start=2, ddc_ramp_steps=2, steps=5))
    assert list(ramp.history["ddc_weight"]) == [0.0, 0.0, 5.0, 10.0, 10.0]
    assert ramp.history["ddc"].isna().tolist() == [True, True, False, False, False]


def test_resume_refuses_a_different_config(tmp_path):
    train(tiny(tmp_path, steps=2))
    with pytest.raises(ValueError, match="different config"):
        train(tiny(tmp_path, steps=2, lr=0.5))


def test_nan_loss_stops_with_a_message_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    import mattinglib.build as build
    import mattinglib.train as engine

    real = build.build_criterion

    class PoisonAtStep5(torch.nn.Module):
        def __init__(self, criterion):
            super().__init__()
            self.criterion, self.weights = criterion, criterion.weights
        calls = 0

        def forward(self, pred, batch, weights=None):
            losses = self.criterion(pred, batch, weights)
            PoisonAtStep5.calls += 1
            if PoisonAtStep5.calls == 6:  # step 5, one past the checkpoint of step 4
                losses["total"] = losses["total"] * float("nan")
            return losses

    monkeypatch.setattr(engine, "build_criterion", lambda config: PoisonAtStep5(real(config)))
    cfg = tiny(tmp_path, steps=8)
    with pytest.raises(TrainingDiverged, match=r"step 5.*checkpoint .*\(step 4\) is kept"):
        train(cfg)
    state = torch.load(Path(cfg.out_dir) / "checkpoint.pt", weights_only=False)
    assert state["step"] == 4  # the last good checkpoint is untouched


def _train_command(out_dir: Path, steps: int) -> list[str]:
    values = TINY | {"out_dir": str(out_dir), "steps": steps, "checkpoint_every": 3, "eval_every": 100,
                     "train_length": 40}
    return [sys.executable, "-m", "mattinglib", "train", "--set"] + [f"{k}={json.dumps(v)}" for k, v in values.items()]


def test_sigkill_then_rerun_resumes_and_ends_with_the_same_numbers(tmp_path):
    steps = 30
    reference = subprocess.run(_train_command(tmp_path / "straight", steps), capture_output=True, text=True)
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "killed"
    proc = subprocess.Popen(_train_command(out, steps), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = out / "checkpoint.pt"
    deadline = time.time() + 120
    while time.time() < deadline:  # wait for a checkpoint past the first, then kill hard
        if checkpoint.exists() and torch.load(checkpoint, weights_only=False)["step"] >= 6:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(checkpoint, weights_only=False)["step"]
    assert 6 <= killed_at < steps, "the run finished before it could be killed; make it longer"

    resumed = subprocess.run(_train_command(out, steps), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    straight = pd.read_csv(tmp_path / "straight" / "history.csv")
    again = pd.read_csv(out / "history.csv")
    pd.testing.assert_frame_equal(straight, again)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(checkpoint, weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_load_model_round_trip_and_bad_file(tmp_path):
    result = train(tiny(tmp_path, steps=2))
    model = load_model(Path(result.out_dir) / "checkpoint.pt")
    x = torch.rand(1, 3, 20, 28)
    assert torch.equal(model(x), result.model.eval()(x))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="garbage.pt"):
        load_model(garbage)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_model(tmp_path / "missing.pt")


def test_ddp_two_processes_gloo_match_one_process(tmp_path):
    """torchrun, 2 CPU processes with gloo: fine supervision (equal-sized per-rank means) gives the
    single-process result up to float rounding."""
    values = TINY | {"supervision": "fine", "steps": 4, "eval_every": 100, "checkpoint_every": 100}
    single = train(TrainConfig.from_dict(values | {"out_dir": str(tmp_path / "single")}))
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
               "-m", "mattinglib", "train", "--set"]
    command += [f"{k}={json.dumps(v)}" for k, v in (values | {"out_dir": str(tmp_path / "ddp")}).items()]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = pd.read_csv(tmp_path / "ddp" / "history.csv")
    # Rank 0 logs its own half-batch loss; the weights after the all-reduce are what must agree.
    a = single.model.state_dict()
    b = torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=False)["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
    assert len(ddp) == 4


# ---- imperfect alpha labels and the public datasets' layouts -------------------------------

def test_imperfect_alpha_labels_reach_fine_supervision_only(tmp_path):
    from mattinglib.build import build_datasets

    exact_train, exact_test = build_datasets(tiny(tmp_path))
    quantised_train, quantised_test = build_datasets(tiny(tmp_path, alpha_label="quantised"))
    exact, quantised = exact_train[0], quantised_train[0]
    torch.testing.assert_close(exact["image"], quantised["image"])  # same crop, same composite
    torch.testing.assert_close(exact["trimap"], quantised["trimap"])  # labels come from the exact matte
    assert not torch.equal(exact["alpha"], quantised["alpha"])
    assert set(torch.unique(quantised["alpha"]).tolist()) <= {0.0, 1 / 3, 2 / 3, 1.0} | {
        float(torch.tensor(v, dtype=torch.float32)) for v in (1 / 3, 2 / 3)}
    torch.testing.assert_close(exact_test[0]["alpha"], quantised_test[0]["alpha"])  # scored on the exact matte
    result = train(tiny(tmp_path, supervision="fine", alpha_label="combined", steps=2, eval_every=2))
    assert result.history["l1"].notna().all()
    with pytest.raises(ValueError, match="alpha_label"):
        tiny(tmp_path, alpha_label="sloppy")


@pytest.mark.parametrize("layout,folder", [("am2k", "AM-2K"), ("p3m10k", "P3M-10K")])
def test_public_layouts_train_from_alphas_and_hold_out_validation(tmp_path, layout, folder):
    from mattinglib.data.folders import write_example_tree
    from mattinglib.build import build_datasets, build_validation_set

    write_example_tree(tmp_path / "data" / folder, layout, n_train=4, n_validation=2, size=56)
    config = tiny(tmp_path, dataset="folder", folder_layout=layout, data_root=str(tmp_path / "data"),
                  label="trimap-release", steps=2, eval_every=2)
    train_set, test_set = build_datasets(config)
    # A quarter of the training folder is our validation split; the test set is the official validation split.
    assert len(train_set) == 3 and len(build_validation_set(config)) == 1 and len(test_set) == 2
    assert set(torch.unique(train_set[0]["trimap"]).tolist()) <= {0.0, 0.5, 1.0}
    result = train(config)
    assert len(result.evaluations) == 1  # scored on the official validation split (our test set)


def test_missing_data_root_names_the_dataset_and_the_variable(tmp_path, monkeypatch):
    from mattinglib.build import build_datasets

    monkeypatch.delenv("MATTINGLIB_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match=r"dataset 'folder'.*MATTINGLIB_DATA is not set"):
        build_datasets(tiny(tmp_path, dataset="folder", folder_layout="am2k"))


# ---- data-path optimisations: the same numbers with them and without --------------------------

@pytest.fixture(scope="module", autouse=True)
def _after_a_first_evaluation(tmp_path_factory):
    """Score a network once before this module's trainings.

    Measured: in a process that has never run :func:`mattinglib.evaluate.evaluate`, a training
    that scores itself midway ends with weights a few float32 ulps (~1e-9) off those of the same
    training run after any evaluation, in the same process or another (somewhere in PyTorch's
    CPU kernels; no setting of ours changes). The study trains in worker processes that never
    evaluate, so its runs are not touched; the bit-for-bit comparisons here would depend on
    which test ran first without this.
    """
    from mattinglib.build import build_datasets, build_model_for
    from mattinglib.evaluate import evaluate

    config = tiny(tmp_path_factory.mktemp("first-evaluation"))
    evaluate(build_model_for(config), build_datasets(config)[1], "whole")


def _outcome(config: TrainConfig) -> tuple:
    result = train(config)
    return result.history, result.evaluations, result.model.state_dict()


def _assert_bit_identical(first: tuple, second: tuple) -> None:
    for a, b in zip(first[:2], second[:2]):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert first[2].keys() == second[2].keys()
    assert all(torch.equal(first[2][k], second[2][k]) for k in first[2])


@pytest.mark.parametrize("changes", [{}, {"label": "mask", "supervision": "known+dc"}, {"num_workers": 2}],
                         ids=["trimap", "relabelled", "workers"])
def test_synthetic_item_cache_changes_no_number(tmp_path, monkeypatch, changes):
    from mattinglib.data.synthetic import dataset as synthetic

    # Four items in batches of four: every step after the first reads all of them from the cache.
    config = tiny(tmp_path, train_length=4, **changes)
    cached = _outcome(config.replace(out_dir=str(tmp_path / "cached")))
    monkeypatch.setattr(synthetic, "ITEM_CACHE_BYTES", 0)
    remade = _outcome(config.replace(out_dir=str(tmp_path / "remade")))
    _assert_bit_identical(cached, remade)


def test_synthetic_item_store_changes_no_number(tmp_path, monkeypatch):
    from mattinglib.data.synthetic import dataset as synthetic

    # The first run fills the store, a later one reads every item from it (memory cache off, so
    # every step reads the store), a third never sees it: the same numbers, bit for bit.
    monkeypatch.setenv("MATTINGLIB_ITEM_STORE", str(tmp_path / "store"))
    config = tiny(tmp_path, train_length=4)
    filling = _outcome(config.replace(out_dir=str(tmp_path / "filling")))
    assert len(list((tmp_path / "store").glob("*/*.item"))) == 4
    monkeypatch.setattr(synthetic, "ITEM_CACHE_BYTES", 1)  # nothing fits: read from the store every time
    reading = _outcome(config.replace(out_dir=str(tmp_path / "reading")))
    monkeypatch.setenv("MATTINGLIB_ITEM_STORE", "off")
    monkeypatch.setattr(synthetic, "ITEM_CACHE_BYTES", 0)
    without = _outcome(config.replace(out_dir=str(tmp_path / "without")))
    _assert_bit_identical(filling, reading)
    _assert_bit_identical(filling, without)


def test_realfg_reuse_of_scene_preparation_changes_no_number(tmp_path, monkeypatch, alphamatting_root):
    from mattinglib.data import realfg

    monkeypatch.setenv("MATTINGLIB_DATA", str(alphamatting_root.parent))
    config = tiny(tmp_path, dataset="realfg", in_channels=4, image_size=64, crop_size=48, train_length=8, steps=4,
                  eval_every=4, checkpoint_every=4)
    reused = _outcome(config.replace(out_dir=str(tmp_path / "reused")))
    monkeypatch.setattr(realfg, "REUSE_PREPARED", False)
    remade = _outcome(config.replace(out_dir=str(tmp_path / "remade")))
    _assert_bit_identical(reused, remade)


def test_an_export_of_the_same_weights_is_the_same_bytes(tmp_path):
    # torch.save given a path names the archive's inner folder after the (random, temporary) file.
    from mattinglib.checkpoints import export_model

    result = train(tiny(tmp_path, steps=2))
    checkpoint = Path(result.out_dir) / "checkpoint.pt"
    first = export_model(checkpoint, tmp_path / "a" / "net.pt").read_bytes()
    second = export_model(checkpoint, tmp_path / "b" / "net.pt").read_bytes()
    assert first == second
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(load_model(tmp_path / "a" / "net.pt")(x), load_model(checkpoint)(x))
