"""The score cache: a rerun reads every score back bit for bit, and anything scoring depends on
misses it; one prediction pass feeds every protocol; one code digest for the whole project."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import mattinglib.baselines as baselines
from mattinglib import evaluate as evaluate_module
from mattinglib import versions
from mattinglib.bench import record
from mattinglib.config import TrainConfig
from mattinglib.evaluate import evaluate, evaluate_protocols
from mattinglib.models import CompactUNet
from mattinglib.study import grid, provenance, score_cache
from mattinglib.study.grid import run_dir, run_grid, score_baselines
from mattinglib.study.score_cache import ScoreCache, dataset_digest, evaluate_cached, weights_digest

#: The smallest grid that trains (as in test_grid.py): two steps of a width-8 U-Net.
TINY = TrainConfig(image_size=56, crop_size=48, train_length=8, test_length=2, model_width=8, batch_size=2,
                   steps=2, warmup_steps=1, kernel_size=5, topk=5, threads=1)
VARIANTS = {"known": {"supervision": "known"}, "fine": {"supervision": "fine"}}


@pytest.fixture(scope="module", autouse=True)
def fixed_scoring_code():
    """Pin the scoring-code digests the grids take to their first values: an edit of
    mattinglib/*.py while these tests run (a developer saving a file) would otherwise, rightly,
    miss the cache the tests expect to hit. That the key follows the code is tested below."""
    networks, methods = {}, {}
    network_code, method_code = grid.network_scoring_code, grid.scoring_code_digest
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grid, "network_scoring_code", lambda model: networks.setdefault(type(model), network_code(model)))
        patch.setattr(grid, "scoring_code_digest", lambda modules: methods.setdefault(modules, method_code(modules)))
        yield


def _samples(count: int = 3, size: int = 16, seed: int = 0) -> list[dict]:
    """Sample dicts as the evaluation sets give them, with grey pixels in every trimap."""
    rng = np.random.default_rng(seed)
    samples = []
    for index in range(count):
        alpha = rng.random((size, size)).astype(np.float32)
        trimap = np.where(alpha > 0.7, 1.0, np.where(alpha < 0.3, 0.0, 0.5)).astype(np.float32)
        samples.append({"image": torch.from_numpy(rng.random((3, size, size)).astype(np.float32)),
                        "alpha": torch.from_numpy(alpha)[None], "trimap": torch.from_numpy(trimap)[None],
                        "name": f"s{index}"})
    return samples


def _network(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return CompactUNet(in_channels=3, width=8).eval()


class Counting:
    """A predictor that counts its calls (the trimap, smoothed: grey values to score)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, image, trimap):
        self.calls += 1
        return np.clip(np.asarray(trimap, dtype=np.float64) * 0.9 + image.mean(axis=2) * 0.1, 0, 1)


# ----------------------------------------------------------------------------- one prediction, every protocol

@pytest.mark.parametrize("make", [_network, lambda: Counting()], ids=["network", "classical"])
def test_one_prediction_pass_scores_every_protocol_as_one_pass_each_would(make):
    samples = _samples()
    together = evaluate_protocols(make(), samples, ("whole", "unknown"))
    assert list(together) == ["whole", "unknown"]
    for protocol, evaluation in together.items():
        alone = evaluate(make(), samples, protocol)
        assert evaluation.protocol == protocol
        pd.testing.assert_frame_equal(evaluation.per_image, alone.per_image, check_exact=True)
        pd.testing.assert_series_equal(evaluation.mean, alone.mean, check_exact=True)
    predictor = Counting()
    evaluate_protocols(predictor, samples, ("whole", "unknown", "whole"))
    assert predictor.calls == len(samples)  # once per image, not per image and protocol
    with pytest.raises(ValueError, match="no protocol"):
        evaluate_protocols(predictor, samples, ())


# ----------------------------------------------------------------------------- the cache itself

def test_the_cache_gives_back_what_was_scored_and_misses_on_any_change(tmp_path):
    samples, model = _samples(), _network()
    cache = ScoreCache(tmp_path, {"weights": weights_digest(model)}, "code-a")
    first = evaluate_cached(model, samples, ("whole", "unknown"), cache)
    assert len(list(tmp_path.glob("*.json"))) == 2

    calls = []
    real_predict = evaluate_module.predict_alpha

    def counting_predict(*args, **kwargs):
        calls.append(1)
        return real_predict(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluate_module, "predict_alpha", counting_predict)
        again = evaluate_cached(model, samples, ("unknown", "whole"), cache)
        assert not calls
        assert list(again) == ["unknown", "whole"]
        for protocol in ("whole", "unknown"):
            pd.testing.assert_frame_equal(again[protocol].per_image, first[protocol].per_image, check_exact=True)
            assert again[protocol].mean.to_dict() == first[protocol].mean.to_dict()

        # Other weights: one step of noise on one tensor.
        changed = _network()
        with torch.no_grad():
            next(changed.parameters()).add_(1e-6)
        assert weights_digest(changed) != weights_digest(model)
        evaluate_cached(changed, samples, ("whole",), ScoreCache(tmp_path, {"weights": weights_digest(changed)},
                                                                 "code-a"))
        assert len(calls) == len(samples)
        # Another set: one pixel of one image.
        other = _samples()
        other[1]["image"][0, 2, 3] += 0.5
        assert dataset_digest(other) != dataset_digest(samples)
        evaluate_cached(model, other, ("whole",), cache)
        assert len(calls) == 2 * len(samples)
        # Other scoring code.
        evaluate_cached(model, samples, ("whole",), ScoreCache(tmp_path, cache.scorer, "code-b"))
        assert len(calls) == 3 * len(samples)
        # Another thread count (floating-point sums may differ).
        evaluate_cached(model, samples, ("whole",), ScoreCache(tmp_path, cache.scorer, "code-a",
                                                               cache.compute | {"torch_threads": 99}))
        assert len(calls) == 4 * len(samples)
        # Renamed items are another set too.
        renamed = _samples()
        renamed[0]["name"] = "another"
        assert dataset_digest(renamed) != dataset_digest(samples)


def test_a_corrupted_or_altered_file_is_scored_again(tmp_path, capsys):
    samples = _samples()
    cache = ScoreCache(tmp_path, {"method": "counting"}, "code-a")
    digest = dataset_digest(samples)
    first = evaluate_cached(Counting(), samples, ("whole",), cache, digest)["whole"]
    path = cache.path(digest, "whole")
    good = path.read_text()

    for damage in (good[: len(good) // 2],                                                 # cut short
                   good.replace(repr(float(first.per_image["sad"][0])), repr(float(first.per_image["sad"][0]) + 1)),  # altered
                   json.dumps(json.loads(good) | {"parts": {"format": 1}}),                # another key
                   "[]"):                                                                  # not a record
        assert damage != good
        path.write_text(damage)
        predictor = Counting()
        again = evaluate_cached(predictor, samples, ("whole",), cache, digest)["whole"]
        assert predictor.calls == len(samples)
        pd.testing.assert_frame_equal(again.per_image, first.per_image, check_exact=True)
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "not used" in error and path.name in error
        assert path.read_text() == good  # written again


def test_scoring_code_follows_the_imports_of_scoring_not_the_training_loop():
    files = versions.imported_files(["mattinglib.evaluate"])
    assert {"evaluate.py", "metrics.py", "tiling.py", "baselines.py", "__init__.py"} <= set(files)
    assert "train.py" not in files and not any(path.startswith("study/") for path in files)
    network = versions.imported_files(["mattinglib.models.unet"])
    assert {"models/__init__.py", "models/unet.py", "models/common.py"} <= set(network)
    assert score_cache.network_scoring_code(_network()) != score_cache.scoring_code_digest(())
    with pytest.raises(ValueError, match="no such module"):
        versions.imported_files(["mattinglib.no_such_module"])


def test_imported_files_follow_every_form_of_import(tmp_path):
    package = tmp_path / "mattinglib"
    (package / "sub").mkdir(parents=True)
    sources = {"__init__.py": "", "root.py": "import mattinglib.a\nfrom . import b\nfrom .sub import c\n",
               "a.py": "def f():\n    from mattinglib.sub.d import x\n", "b.py": "", "unused.py": "",
               "sub/__init__.py": "", "sub/c.py": "from ..b import y\n", "sub/d.py": "x = 1\n"}
    for name, text in sources.items():
        (package / name).write_text(text)
    files = versions.imported_files(["mattinglib.root"], package)
    assert files == ["__init__.py", "a.py", "b.py", "root.py", "sub/__init__.py", "sub/c.py", "sub/d.py"]


# ----------------------------------------------------------------------------- run_grid and score_baselines

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished two-run grid with its scores, scored on a shared set and the runs' own."""
    root = tmp_path_factory.mktemp("runs")
    sets = {"shared": _samples(2, 24)}
    first = run_grid(TINY, VARIANTS, [0], root, eval_sets=sets, progress=False, per_image=True)
    own = run_grid(TINY, VARIANTS, [0], root, progress=False, per_image=True)
    return root, sets, first, own


def _counting_predictions(monkeypatch) -> list:
    calls = []
    real = score_cache.evaluate_protocols

    def counting(predictor, dataset, protocols, *args, **kwargs):
        calls.append((len(dataset), protocols))
        return real(predictor, dataset, protocols, *args, **kwargs)

    monkeypatch.setattr(score_cache, "evaluate_protocols", counting)
    real_predict = evaluate_module.predict_alpha
    monkeypatch.setattr(evaluate_module, "predict_alpha",
                        lambda *args, **kwargs: calls.append("predict") or real_predict(*args, **kwargs))
    return calls


def test_a_second_grid_over_finished_runs_reads_its_scores_and_predicts_nothing(trained, monkeypatch):
    root, sets, first, own = trained
    for config_changes in VARIANTS.values():
        scores = run_dir(root, TINY.replace(**config_changes, seed=0, progress=False)) / "scores"
        assert len(list(scores.glob("*.json"))) == 2 * 2  # (shared, own) sets x protocols
    calls = _counting_predictions(monkeypatch)
    again = run_grid(TINY, VARIANTS, [0], root, eval_sets=sets, progress=False, per_image=True)
    again_own = run_grid(TINY, VARIANTS, [0], root, progress=False, per_image=True)
    assert calls == []
    for before, after in ((first, again), (own, again_own)):
        pd.testing.assert_frame_equal(before.runs, after.runs, check_exact=True)
        pd.testing.assert_frame_equal(before.images, after.images, check_exact=True)
    # The cached means are those of scoring each protocol on its own, as the grid did before.
    model = grid.load_model(run_dir(root, TINY.replace(supervision="fine", seed=0, progress=False)) / "checkpoint.pt")
    torch.set_num_threads(TINY.threads)
    for protocol in ("whole", "unknown"):
        row = again.runs[(again.runs["variant"] == "fine") & (again.runs["protocol"] == protocol)].iloc[0]
        expected = evaluate(model, sets["shared"], protocol).mean
        assert {name: row[name] for name in expected.index} == expected.to_dict()


def test_other_weights_or_scoring_code_rescore_the_grid(trained, monkeypatch):
    root, sets, first, _ = trained
    calls = _counting_predictions(monkeypatch)
    monkeypatch.setattr(grid, "network_scoring_code", lambda model: "edited scoring code")
    again = run_grid(TINY, VARIANTS, [0], root, eval_sets=sets, progress=False)
    assert [call for call in calls if call != "predict"] == [(2, ("whole", "unknown"))] * 2  # one pass per run
    pd.testing.assert_frame_equal(again, first.runs, check_exact=True)
    calls.clear()
    monkeypatch.setattr(grid, "weights_digest", lambda model: "retrained")
    run_grid(TINY, {"known": VARIANTS["known"]}, [0], root, eval_sets=sets, progress=False)
    assert [call for call in calls if call != "predict"] == [(2, ("whole", "unknown"))]


def test_baseline_scores_are_cached_in_the_folder_given(tmp_path, monkeypatch):
    made = []

    def counting(method):
        predictor = Counting()
        made.append(predictor)
        return predictor

    monkeypatch.setattr(baselines, "baseline_predictor", counting)
    sets = {"a": _samples(3), "b": _samples(2, seed=1)}
    methods = {"floor": "trimap", "solver": "closed-form"}
    first = score_baselines(sets, methods=methods, runs_root=tmp_path)
    assert sum(p.calls for p in made) == 2 * (3 + 2)  # each method, each image once
    assert len(list((tmp_path / "baselines").glob("*.json"))) == 2 * 2 * 2
    made.clear()
    again = score_baselines(sets, methods=methods, runs_root=tmp_path)
    assert sum(p.calls for p in made) == 0
    pd.testing.assert_frame_equal(first.runs, again.runs, check_exact=True)
    pd.testing.assert_frame_equal(first.images, again.images, check_exact=True)
    # Without a folder nothing is kept, and the numbers are the same.
    plain = score_baselines(sets, methods=methods)
    assert sum(p.calls for p in made) == 2 * (3 + 2)
    pd.testing.assert_frame_equal(first.runs, plain.runs, check_exact=True)
    # Another method (the key is the method, not the row's name) misses.
    made.clear()
    score_baselines(sets, methods={"floor": "knn"}, runs_root=tmp_path)
    assert sum(p.calls for p in made) == 3 + 2


# ----------------------------------------------------------------------------- one code digest

def test_the_study_and_the_benchmarks_take_one_code_digest():
    assert provenance.code_version() == versions.code_digest()
    assert record.code_digest() == versions.code_digest(exclude=("study",)) != versions.code_digest()
    files = versions.file_digests()
    assert "evaluate.py" in files and "study/grid.py" in files
    assert "study/grid.py" not in versions.file_digests(exclude=("study",))
    changed = dict(files, **{"evaluate.py": "0" * 64, "new.py": "1" * 64})
    del changed["train.py"]
    assert versions.changed_files(files, changed) == ["evaluate.py", "new.py", "train.py"]
    assert versions.package_versions(["numpy", "no-such-distribution"]) == {
        "numpy": np.__version__, "no-such-distribution": None}
