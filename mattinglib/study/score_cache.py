"""Scores kept beside what they score, so that a rerun of a notebook does not predict again.

Any edit of the library reruns every notebook (:mod:`mattinglib.study.provenance`); the
trainings are reused from their run folders (:func:`mattinglib.study.grid.run_dir`), and the
scores from here. A predictor's scores on one evaluation set under one protocol are stored as
one JSON file, ``<folder>/<key>.json``: a network's in ``<run_dir>/scores/``, a classical
method's in the folder its caller names. The key is the SHA-256 of

- **what predicts**: the network's weights (:func:`weights_digest`: every tensor of its state
  dict) and class, or the classical method's name;
- **the evaluation set**: every item's image, trimap, alpha and name (:func:`dataset_digest`);
- **the scoring code**: the sources of the modules that scoring imports, found statically
  (:func:`scoring_code_digest`: :mod:`mattinglib.evaluate` and what it imports, with the
  network's module and all of ``mattinglib/models/``, or the classical method's module);
- **the protocol**, and **the computation's settings**: the scoring thread count and the
  thread variables of the environment, the core count and the versions of the packages that
  compute (floating-point sums may differ with any of them).

So editing the training loop, the data loaders of other sets or a notebook keeps every score,
and editing the metrics, a network's forward pass or the tiling rescores. The file holds every
image's row with each column's dtype; read back, it gives a frame equal to the one scored, so
:attr:`mattinglib.evaluate.Evaluation.mean` comes out bit for bit the same (JSON floats round
trip exactly). It is written atomically and carries a checksum of its content: a file that
cannot be read, does not parse, names another key or fails its checksum is scored again, with
one line on stderr.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mattinglib.atomic import atomic_write_text
from mattinglib.environment import thread_variables
from mattinglib.evaluate import Evaluation, evaluate_protocols
from mattinglib.versions import PACKAGE_DIR, code_digest, imported_files, package_files, package_versions

#: Sub-folder of a run folder that holds its scores.
SCORES_FOLDER = "scores"
#: Version of the file layout: files of another layout are scored again.
FORMAT = 1
#: Modules every score depends on (the prediction path, the metrics, the tiling).
SCORING_MODULES = ("mattinglib.evaluate",)
#: Packages whose versions join the key (they compute the predictions and the metrics).
SCORING_PACKAGES = ("torch", "numpy", "scipy", "scikit-image", "pymatting", "numba")
#: The items' entries that :func:`mattinglib.evaluate.evaluate` reads (besides ``name``).
SCORED_ARRAYS = ("image", "trimap", "alpha")


def weights_digest(model: torch.nn.Module) -> str:
    """Hex SHA-256 over the name, dtype, shape and bytes of every tensor of the network's state
    dict (parameters and buffers), in state-dict order, and its class."""
    digest = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    for name, value in model.state_dict().items():
        if not isinstance(value, torch.Tensor):  # a module's extra state
            digest.update(f"\0{name}: {value!r}".encode())
            continue
        tensor = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"\0{name}|{tensor.dtype}|{tuple(value.shape)}\0".encode())
        # As bytes: numpy has no bfloat16.
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def dataset_digest(dataset) -> str:
    """Hex SHA-256 of what scoring reads of an evaluation set: its length and each item's name
    (or position, as :func:`~mattinglib.evaluate.evaluate` names an unnamed item) and the dtype,
    shape and bytes of its :data:`SCORED_ARRAYS`.

    Reads every item once (a set drawn on the fly is drawn here too): take it once per set
    and call, not once per run.
    """
    digest = hashlib.sha256(f"items {len(dataset)}".encode())
    for index in range(len(dataset)):
        sample = dataset[index]
        digest.update(f"\0item {index}: {sample.get('name', str(index))!r}".encode())
        for entry in SCORED_ARRAYS:
            if entry not in sample:
                digest.update(f"\0{entry}: absent".encode())
                continue
            array = np.ascontiguousarray(np.asarray(sample[entry]))
            digest.update(f"\0{entry}|{array.dtype.str}|{array.shape}\0".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


def scoring_code_digest(modules: tuple[str, ...]) -> str:
    """:func:`mattinglib.versions.code_digest` of the files that importing :data:`SCORING_MODULES`
    and ``modules`` runs (:func:`mattinglib.versions.imported_files`); names outside the package
    (a network class defined elsewhere) are left out."""
    package = PACKAGE_DIR.name
    inside = tuple(name for name in modules if name == package or name.startswith(package + "."))
    return code_digest(files=imported_files(SCORING_MODULES + inside))


def network_scoring_code(model: torch.nn.Module) -> str:
    """:func:`scoring_code_digest` for a network: its own module and every one of ``models/``."""
    models = tuple(f"{PACKAGE_DIR.name}.{path[:-3].replace('/', '.')}".removesuffix(".__init__")
                   for path in package_files() if path.startswith("models/"))
    return scoring_code_digest((type(model).__module__,) + models)


def compute_settings() -> dict:
    """What besides code, weights and data may move a floating-point result: torch's thread
    count now, the thread variables of the environment, the core count, the package versions."""
    return {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "environment": thread_variables(),
            "packages": package_versions(SCORING_PACKAGES)}


class ScoreCache:
    """The stored scores of one predictor, one JSON file per (evaluation set, protocol).

    Parameters
    ----------
    folder : path
        Where its files go (created when the first is written).
    scorer : dict
        What predicts, JSON-serialisable: ``{"weights": weights_digest(model), ...}`` or
        ``{"method": "closed-form"}``.
    code : str
        :func:`scoring_code_digest` of the code that scores it.
    compute : dict, optional
        :func:`compute_settings`, taken now when not given.
    """

    def __init__(self, folder: str | os.PathLike, scorer: dict, code: str, compute: dict | None = None):
        self.folder = Path(folder)
        self.scorer, self.code = scorer, code
        self.compute = compute_settings() if compute is None else compute

    def parts(self, set_digest: str, protocol: str) -> dict:
        """The parts the key of (set, protocol) hashes."""
        return {"format": FORMAT, "scorer": self.scorer, "eval_set": set_digest, "protocol": protocol,
                "scoring_code": self.code, "compute": self.compute}

    def path(self, set_digest: str, protocol: str) -> Path:
        """The file of (set, protocol): ``folder/<key>.json``."""
        text = json.dumps(self.parts(set_digest, protocol), sort_keys=True)
        return self.folder / f"{hashlib.sha256(text.encode()).hexdigest()}.json"

    def load(self, set_digest: str, protocol: str) -> Evaluation | None:
        """The stored scores, or None when there are none or the file is not trusted."""
        path = self.path(set_digest, protocol)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if record.get("parts") != json.loads(json.dumps(self.parts(set_digest, protocol))):
                raise ValueError("it names another key")
            if record.get("checksum") != _checksum(record["scores"]):
                raise ValueError("its checksum does not match its scores")
            return Evaluation(protocol=protocol, per_image=_frame(record["scores"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            print(f"score cache: {path} not used ({type(error).__name__}: {error}); scoring again",
                  file=sys.stderr, flush=True)
            return None

    def store(self, set_digest: str, evaluation: Evaluation) -> None:
        """Write ``evaluation`` atomically; a failure (a read-only folder) is said, not raised."""
        path = self.path(set_digest, evaluation.protocol)
        scores = _columns(evaluation.per_image)
        record = {"parts": self.parts(set_digest, evaluation.protocol), "checksum": _checksum(scores),
                  "scores": scores}
        try:
            atomic_write_text(path, json.dumps(record, indent=1) + "\n")
        except (OSError, TypeError, ValueError) as error:
            print(f"score cache: could not write {path} ({type(error).__name__}: {error})", file=sys.stderr,
                  flush=True)


def evaluate_cached(predictor, dataset, protocols: tuple[str, ...], cache: ScoreCache | None = None,
                    set_digest: str | None = None) -> dict[str, Evaluation]:
    """:func:`mattinglib.evaluate.evaluate_protocols`, taking each protocol's scores from
    ``cache`` where it holds them and storing the others.

    Parameters
    ----------
    predictor : nn.Module or callable
        As for :func:`~mattinglib.evaluate.evaluate`; called only when a protocol's scores are
        missing, and then once per image for all the missing protocols.
    dataset : sequence of sample dicts
    protocols : tuple of {"whole", "unknown"}
    cache : ScoreCache, optional
        None: no cache, every protocol is scored.
    set_digest : str, optional
        :func:`dataset_digest` of ``dataset`` (taken here when not given).

    Returns
    -------
    dict of str to Evaluation
        Protocol -> scores, in the order of ``protocols``.
    """
    protocols = tuple(dict.fromkeys(protocols))
    if cache is None:
        return evaluate_protocols(predictor, dataset, protocols)
    set_digest = dataset_digest(dataset) if set_digest is None else set_digest
    found = {protocol: cache.load(set_digest, protocol) for protocol in protocols}
    missing = tuple(protocol for protocol, evaluation in found.items() if evaluation is None)
    if missing:
        for protocol, evaluation in evaluate_protocols(predictor, dataset, missing).items():
            if len(evaluation.per_image):  # an empty set has no scores to keep
                cache.store(set_digest, evaluation)
            found[protocol] = evaluation
    return {protocol: found[protocol] for protocol in protocols}


def _columns(frame: pd.DataFrame) -> dict:
    """A frame as JSON-ready columns with their dtypes (Python floats: JSON keeps every bit)."""
    return {"columns": [str(column) for column in frame.columns], "dtypes": [str(dtype) for dtype in frame.dtypes],
            "values": [frame[column].tolist() for column in frame.columns]}


def _frame(scores: dict) -> pd.DataFrame:
    """The frame :func:`_columns` describes, with the same columns, dtypes and index."""
    columns, dtypes, values = scores["columns"], scores["dtypes"], scores["values"]
    if not len(columns) == len(dtypes) == len(values) or len({len(column) for column in values}) > 1:
        raise ValueError("its columns differ in length")
    return pd.DataFrame({name: np.array(column, dtype=dtype) for name, dtype, column in zip(columns, dtypes, values)},
                        columns=columns)


def _checksum(scores: dict) -> str:
    return hashlib.sha256(json.dumps(scores, sort_keys=True).encode()).hexdigest()
