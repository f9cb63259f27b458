"""Metrics: pinned to the golden values of the public reference implementations."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from mattinglib.metrics import UNKNOWN_KEYS, WHOLE_KEYS, matting_metrics

PROTOCOLS = {"whole": "whole_image", "unknown": "unknown_region"}


def _read_levels(path) -> np.ndarray:
    a = np.asarray(Image.open(path))
    return a[..., 0] if a.ndim == 3 else a


@pytest.fixture(scope="module")
def golden_metrics(golden_dir):
    return json.loads((golden_dir / "metrics" / "expected.json").read_text())


def _golden_case(golden_dir, case):
    d = golden_dir / "metrics"
    gt = _read_levels(d / f"{case}_gt.png").astype(np.float64) / 255
    pred = _read_levels(d / f"{case}_pred.png").astype(np.float64) / 255
    trimap = _read_levels(d / f"{case}_trimap.png")
    return pred, gt, trimap


@pytest.mark.parametrize("region", ["whole", "unknown"])
def test_every_golden_value_is_reproduced(golden_dir, golden_metrics, region):
    assert len(golden_metrics) >= 29
    failures = []
    for case, expected in golden_metrics.items():
        pred, gt, trimap = _golden_case(golden_dir, case)
        got = matting_metrics(pred, gt, trimap, region=region)
        want = expected[PROTOCOLS[region]]
        assert set(got) == set(want), case
        for key, value in want.items():
            if value == 0:
                ok = abs(got[key]) <= 1e-9
            else:
                ok = abs(got[key] - value) <= 1e-6 * abs(value)
            if not ok:
                failures.append(f"{case} {region} {key}: got {got[key]!r}, want {value!r}")
    assert not failures, "\n".join(failures)


def test_trimap_encodings_agree(golden_dir):
    pred, gt, trimap = _golden_case(golden_dir, "GT04_blur")
    levels = np.select([trimap == 0, trimap == 255], [0.0, 1.0], 0.5)
    for region in PROTOCOLS:
        assert matting_metrics(pred, gt, trimap, region) == matting_metrics(pred, gt, levels, region)


def _toy(seed=0, shape=(60, 80)):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    gt = np.clip((xx - shape[1] / 2) / 6 + 0.5, 0, 1)
    trimap = np.select([gt == 0, gt == 1], [0, 255], 128).astype(np.uint8)
    pred = np.clip(gt + rng.normal(0, 0.05, shape), 0, 1)
    return pred, gt, trimap


def test_keys_and_perfect_prediction():
    _, gt, trimap = _toy()
    whole = matting_metrics(gt, gt, trimap, "whole")
    unknown = matting_metrics(gt, gt, trimap, "unknown")
    assert tuple(whole) == WHOLE_KEYS and tuple(unknown) == UNKNOWN_KEYS
    assert all(v == 0 for v in whole.values()) and all(v == 0 for v in unknown.values())


def test_sad_counts_thousands_of_pixels():
    gt = np.zeros((100, 100))
    pred = np.full((100, 100), 0.5)
    trimap = np.zeros((100, 100), np.uint8)
    trimap[:, :40] = 128
    m = matting_metrics(pred, gt, trimap, "whole")
    assert m["sad"] == pytest.approx(5.0) and m["mad"] == pytest.approx(0.5) and m["mse"] == pytest.approx(0.25)
    assert m["sad_bg"] == pytest.approx(3.0) and m["sad_fg"] == 0
    u = matting_metrics(pred, gt, trimap, "unknown")
    assert u["sad"] == pytest.approx(2.0) and u["mse"] == pytest.approx(0.25)


def test_worse_prediction_scores_worse():
    pred, gt, trimap = _toy()
    worse = np.clip(gt + 3 * (pred - gt), 0, 1)
    for region in PROTOCOLS:
        a, b = matting_metrics(pred, gt, trimap, region), matting_metrics(worse, gt, trimap, region)
        assert all(b[k] > a[k] for k in ("sad", "mse", "grad")), region


@pytest.mark.parametrize("bad, message", [
    (dict(pred=np.zeros((4, 4, 1))), "shape"),
    (dict(pred=np.full((4, 4), 2.0)), r"\[0, 1\]"),
    (dict(pred=np.full((4, 4), np.nan)), "NaN"),
    (dict(gt=np.zeros((4, 5))), "does not match"),
    (dict(trimap=np.zeros((5, 4))), "trimap shape"),
    (dict(region="edges"), "region"),
])
def test_bad_input_is_refused(bad, message):
    args = dict(pred=np.zeros((4, 4)), gt=np.zeros((4, 4)), trimap=np.zeros((4, 4)), region="whole") | bad
    with pytest.raises(ValueError, match=message):
        matting_metrics(**args)
