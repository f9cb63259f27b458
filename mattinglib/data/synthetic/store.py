"""A folder of synthetic items on disk, shared by every run (and process) that draws the same items.

A synthetic item before its transform is a pure function of the dataset's settings, the photo
pool, the item's seed words and the code that draws it. The ``cpu`` study trains dozens of
runs on the same 2,000 items (every arm and learning rate of a tuning search uses the tuning
seed), and each run used to make all of them again in its first epoch, at about 3 ms per 96 px
item: a third of the first epoch's step time. An :class:`ItemStore` keeps the packed items
(:func:`~mattinglib.data.synthetic.dataset.SyntheticMattingDataset` packs them for its memory
cache) as one file each (their raw bytes behind a short JSON header), so the first run of a data set writes them and
every later run reads them (a fraction of a millisecond an item from the page cache).

The store's folder is named by a digest of everything an item depends on (:func:`store_digest`):
the dataset's settings, the photographs' pixels, the source of the modules that draw an item,
and the numpy and torch versions (their generators and resampling). A change to any of them
opens a new folder; nothing is ever read from a folder made under other settings. Files are
written atomically (a temporary file renamed into place), so two runs writing the same item
side by side, or a run killed mid-write, leave either no file or a whole one; a file that
cannot be read is made again. The numbers a run computes are the same with the store and
without it (tests/test_synthetic_store.py trains both ways and compares bit for bit).

Where: ``$MATTINGLIB_ITEM_STORE`` (``0`` or ``off`` switches it off), default
``$MATTINGLIB_CACHE/synthetic-items`` (:func:`mattinglib.environment.item_store_dir`). The
store stops adding items once its root holds :data:`STORE_BUDGET_BYTES`; deleting the folder
is always safe.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from mattinglib.atomic import atomic_path, atomic_write_text

#: Disk budget of a store's root folder, all digests together (bytes). 2,000 items of 96 px
#: take about 0.7 GB. Items past the budget are made as before, just not kept.
STORE_BUDGET_BYTES = 8 * 2 ** 30

#: The modules whose code draws an item (their source is part of the digest).
_ITEM_CODE = ("data/synthetic/compositing.py", "data/synthetic/crops.py", "data/synthetic/layers.py",
              "data/synthetic/shapes.py", "data/synthetic/dataset.py", "data/transforms.py", "labels")

_PACKAGE = Path(__file__).resolve().parents[2]


def _code_digest() -> str:
    digest = hashlib.sha256()
    for name in _ITEM_CODE:
        path = _PACKAGE / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.relative_to(_PACKAGE).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def store_digest(settings: dict, photos) -> str:
    """The folder name of the items drawn under ``settings`` from ``photos``.

    Parameters
    ----------
    settings : dict
        JSON-serialisable settings that decide an item (size, seed, split, trimap widths, ...).
    photos : sequence of Photo
        The split's photographs, in order; their names and pixels enter the digest.

    Returns
    -------
    str
        24 hexadecimal digits.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(settings, sort_keys=True, default=repr).encode())
    for photo in photos:
        pixels = np.ascontiguousarray(photo.pixels)
        digest.update(f"{photo.name}|{pixels.dtype}|{pixels.shape}".encode())
        digest.update(pixels.tobytes())
    digest.update(f"numpy {np.__version__} torch {torch.__version__}".encode())
    digest.update(_code_digest().encode())
    return digest.hexdigest()[:24]


def _folder_bytes(root: Path) -> int:
    total = 0
    for folder in (root.iterdir() if root.is_dir() else ()):
        if folder.is_dir():
            with os.scandir(folder) as entries:
                total += sum(entry.stat().st_size for entry in entries if entry.is_file())
    return total


class ItemStore:
    """Packed synthetic items on disk, one ``<index>.item`` file per item, under ``root/<digest>/``.

    Parameters
    ----------
    root : str or PathLike
        The store's root folder (shared by every digest).
    digest : str
        :func:`store_digest` of the items' settings.
    settings : dict, optional
        Written once as ``settings.json`` beside the items, so a person can tell folders apart.
    """

    def __init__(self, root: str | os.PathLike, digest: str, settings: dict | None = None):
        self.root = Path(root)
        self.folder = self.root / digest
        self._settings = settings
        self._room: int | None = None   # bytes this process may still add, measured on first write

    def __repr__(self) -> str:
        return f"ItemStore({str(self.folder)!r})"

    def _path(self, index: int) -> Path:
        return self.folder / f"{index}.item"

    def get(self, index: int) -> dict | None:
        """The packed entry of item ``index``, or None when it is not stored (or not readable)."""
        try:
            with open(self._path(index), "rb") as file:
                data = bytearray(file.read())   # writable, so tensors made from it need no copy
            return _decode_file(data)
        except (OSError, ValueError, TypeError):
            # Missing, or damaged by something other than our atomic writes: the caller remakes it.
            return None

    def put(self, index: int, entry: dict) -> bool:
        """Store the packed entry of item ``index``; False when it is not storable or over budget."""
        data = _encode(entry)
        if data is None:
            return False
        size = len(data)
        if self._room is None:
            self._room = STORE_BUDGET_BYTES - _folder_bytes(self.root)
        if size > self._room:
            return False
        self._room -= size
        if not self.folder.is_dir():
            self.folder.mkdir(parents=True, exist_ok=True)
            if self._settings is not None:
                atomic_write_text(self.folder / "settings.json",
                                  json.dumps(self._settings, indent=1, sort_keys=True, default=repr) + "\n")
        try:
            with atomic_path(self._path(index)) as tmp:
                tmp.write_bytes(data)
        except OSError:
            return False    # a full disk or a read-only cache: the run goes on without the store
        return True


# A packed entry (see dataset._pack) maps a key to a (uint8 codes, scale) pair, a tensor or a string.
# An item file is MAGIC, the header's length (8 bytes, little-endian), a JSON header listing each key
# with its kind, dtype, shape and byte offset, then the raw arrays: a read is one read() and views
# into it (np.load of an .npz took ten times as long, mostly in zipfile).

MAGIC = b"mattinglib-item-1\n"


def _encode(entry: dict) -> bytes | None:
    header, blobs, offset = [], [], 0
    for key, value in entry.items():
        if isinstance(value, tuple):
            array, kind, extra = np.ascontiguousarray(value[0]), "codes", float(value[1])
        elif torch.is_tensor(value):
            array, kind, extra = np.ascontiguousarray(value.numpy()), "tensor", None
        elif isinstance(value, str):
            array, kind, extra = np.frombuffer(value.encode(), dtype=np.uint8), "str", None
        else:
            return None
        header.append([key, kind, array.dtype.str, list(array.shape), offset, array.nbytes, extra])
        blobs.append(array.tobytes())
        offset += array.nbytes
    text = json.dumps(header).encode()
    return b"".join([MAGIC, len(text).to_bytes(8, "little"), text, *blobs])


def _decode_file(data: bytearray) -> dict:
    if not data.startswith(MAGIC):
        raise ValueError("not an item file")
    start = len(MAGIC) + 8
    length = int.from_bytes(data[len(MAGIC):start], "little")
    header = json.loads(bytes(data[start:start + length]))
    body = memoryview(data)[start + length:]
    entry = {}
    for key, kind, dtype, shape, offset, nbytes, extra in header:
        if offset + nbytes > len(body):
            raise ValueError("truncated item file")
        array = np.frombuffer(body[offset:offset + nbytes], dtype=np.dtype(dtype)).reshape(shape)
        if kind == "codes":
            entry[key] = (array, extra)
        elif kind == "tensor":
            entry[key] = torch.from_numpy(array)
        else:
            entry[key] = array.tobytes().decode()
    return entry
