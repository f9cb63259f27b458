"""The on-disk store of synthetic items: what it keeps, what it refuses, and how it is keyed."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mattinglib.data import SyntheticMattingDataset
from mattinglib.data.synthetic import dataset as synthetic
from mattinglib.data.synthetic import store as item_store
from mattinglib.environment import item_store_dir


def _dataset(root, **changes) -> SyntheticMattingDataset:
    options = dict(size=32, length=6, seed=3, split="train", trimap_width=(2, 5), store=root)
    return SyntheticMattingDataset(**(options | changes))


def _bits(sample: dict) -> dict:
    return {k: (v.view(torch.int32) if torch.is_tensor(v) and v.dtype == torch.float32 else v)
            for k, v in sample.items()}


def _assert_same_items(first: list[dict], second: list[dict]) -> None:
    for a, b in zip(first, second, strict=True):
        assert list(a) == list(b)
        for key in a:
            if torch.is_tensor(a[key]):
                assert a[key].dtype == b[key].dtype and torch.equal(_bits(a)[key], _bits(b)[key]), key
            else:
                assert a[key] == b[key], key


def test_items_read_back_from_the_store_are_the_items_made(tmp_path):
    made = [_dataset(tmp_path)[i] for i in range(6)]         # fills the store
    files = sorted(tmp_path.glob("*/*.item"))
    assert len(files) == 6 and (files[0].parent / "settings.json").is_file()
    reader = _dataset(tmp_path)                                 # a later run: a new object, empty memory
    read = [reader[i] for i in range(6)]
    _assert_same_items(made, read)
    _assert_same_items(made, [_dataset(None)[i] for i in range(6)])
    # fresh tensors every time: changing one leaves the next read alone
    read[0]["image"].zero_()
    _assert_same_items(made[:1], [_dataset(tmp_path)[0]])


def test_the_store_is_keyed_by_everything_an_item_depends_on(tmp_path):
    base = _dataset(tmp_path).store.folder.name
    for changes in ({"seed": 4}, {"size": 33}, {"trimap_width": (2, 6)}, {"split": "test"},
                    {"hair_probability": 0.5},
                    {"photos": [np.full((40, 40, 3), 0.5, np.float32), np.zeros((40, 40, 3), np.float32)]}):
        assert _dataset(tmp_path, **changes).store.folder.name != base, changes
    assert _dataset(tmp_path).store.folder.name == base
    assert _dataset(tmp_path, resample_per_epoch=True).store is None


def test_a_damaged_item_file_is_made_again(tmp_path):
    expected = _dataset(None)[2]
    _dataset(tmp_path)[2]
    (path,) = tmp_path.glob("*/2.item")
    path.write_bytes(path.read_bytes()[:200])                    # truncated
    _assert_same_items([expected], [_dataset(tmp_path)[2]])
    path.write_bytes(b"not an item")
    _assert_same_items([expected], [_dataset(tmp_path)[2]])


def test_the_store_stops_adding_items_past_its_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(item_store, "STORE_BUDGET_BYTES", 1)
    expected = [_dataset(None)[i] for i in range(3)]
    _assert_same_items(expected, [_dataset(tmp_path)[i] for i in range(3)])
    assert not list(tmp_path.glob("*/*.item"))


def test_switching_the_store_off(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic, "STORE_ENABLED", False)
    _dataset(tmp_path)[0]
    assert not list(tmp_path.glob("*/*.item"))
    for value in ("0", "off", "OFF"):
        monkeypatch.setenv("MATTINGLIB_ITEM_STORE", value)
        assert item_store_dir() is None
    monkeypatch.setenv("MATTINGLIB_ITEM_STORE", str(tmp_path / "elsewhere"))
    assert item_store_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("MATTINGLIB_ITEM_STORE")
    monkeypatch.setenv("MATTINGLIB_CACHE", str(tmp_path / "cache"))
    assert item_store_dir() == tmp_path / "cache" / "synthetic-items"


@pytest.mark.parametrize("value", [3.5, object()])
def test_an_entry_it_cannot_write_is_left_out(tmp_path, value):
    store = item_store.ItemStore(tmp_path, "digest")
    assert not store.put(0, {"image": torch.zeros(1), "odd": value})
    assert store.get(0) is None
