"""Provenance of a study run: the code version, the cache key, the commit and the packages.

A notebook's results are keyed by the notebook file's hash, the injected parameters, the code
version (hash of every ``mattinglib/**/*.py``, :func:`mattinglib.versions.code_digest`), the
profile, which data sets were found under the data root (:func:`datasets_found`: a notebook run
without the real scenes is rerun once they appear) and, for a summary notebook, the results it
reads (:func:`summary_inputs`); ``run.json`` records the key, its parts, a digest of each code
file (:func:`mattinglib.versions.file_digests`), the commit and the package versions, from which
:func:`rerun_reason` tells why a notebook is executed again (which parameters or files changed).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import mattinglib
from mattinglib.versions import changed_files, code_digest

#: Packages whose versions every run.json records.
RECORDED_PACKAGES = ("torch", "numpy", "scipy", "scikit-image", "pymatting", "pandas", "matplotlib",
                     "papermill", "mattinglib")
#: The repository checkout this package lives in (editable install): notebooks run from here.
REPO_ROOT = Path(mattinglib.__file__).resolve().parents[1]
PACKAGE_DIR = Path(mattinglib.__file__).resolve().parent
#: Files of another notebook's results that a summary notebook reads (claims and tables).
SUMMARY_INPUT_PATTERNS = ("claims.json", "*.csv")


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def code_version(package_dir: str | os.PathLike = PACKAGE_DIR) -> str:
    """Hex SHA-256 over the relative paths and bytes of every ``*.py`` file of the package, the
    study included (:func:`mattinglib.versions.code_digest`)."""
    return code_digest(package_dir)


def datasets_found(data_root: str | os.PathLike | None = None) -> dict[str, bool]:
    """Which of the data sets the notebooks read are present under the data root.

    ``data_root`` is a notebook's ``DATA_ROOT`` (relative to the repository root, the
    notebooks' working directory); without it ``$MATTINGLIB_DATA``. The alphamatting.com scenes
    count as found when :class:`~mattinglib.data.alphamatting.AlphaMattingDataset` opens them
    (its own check that every file is there; nothing is downloaded or read); AM-2K and
    P3M-10K (the paper profile) when their folder exists. The synthetic composites need no
    data, and no notebook reads a backgrounds folder by itself (photo folders are passed
    explicitly, as parameters), so neither is listed.

    Returns
    -------
    dict
        Data set name (its folder under the root) -> found, in a fixed order.
    """
    from mattinglib.build import LAYOUT_SUBFOLDERS
    from mattinglib.data.alphamatting import SUBFOLDER, AlphaMattingDataset
    from mattinglib.environment import data_root_from_env

    root = Path(data_root) if data_root else data_root_from_env()
    if root is not None and not root.is_absolute():
        root = REPO_ROOT / root
    found = {SUBFOLDER: False, **{folder: False for folder in LAYOUT_SUBFOLDERS.values()}}
    if root is None:
        return found
    try:
        AlphaMattingDataset(root / SUBFOLDER)
        found[SUBFOLDER] = True
    except (OSError, ValueError):
        pass  # absent or incomplete: the notebooks skip the real scenes
    for folder in LAYOUT_SUBFOLDERS.values():
        found[folder] = (root / folder).is_dir()
    return found


def run_key(notebook: Path, parameters: dict, profile: str, code: str,
            inputs: dict[str, str] | None = None, data: dict[str, bool] | None = None) -> tuple[str, dict]:
    """The cache key of a run and the parts it hashes.

    ``parameters`` must not contain ``OUTPUT_DIR`` (where a run writes is not what it computes).
    ``inputs`` (a summary notebook's, :func:`summary_inputs`) and ``data`` (the data sets found,
    :func:`datasets_found`) join the parts when given.
    """
    parts = {"notebook_sha256": _sha256_file(notebook), "parameters": parameters,
             "code_version": code, "profile": profile}
    if data is not None:
        parts["data"] = data
    if inputs is not None:
        parts["inputs"] = inputs
    text = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest(), parts


def git_state(repo: Path = REPO_ROOT, exclude: Path | None = None) -> dict:
    """``{"sha": HEAD or None, "dirty": bool or None}`` of the repository.

    ``exclude`` (the results folder) is left out of the dirty check: writing results must not
    make the next run's tree look modified.
    """
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    if sha is None:
        return {"sha": None, "dirty": None}
    pathspec = ["--", "."]
    if exclude is not None:
        try:
            pathspec.append(f":(exclude){Path(exclude).resolve().relative_to(repo.resolve()).as_posix()}")
        except ValueError:
            pass  # results outside the repository cannot dirty it
    status = git("status", "--porcelain", *pathspec)
    return {"sha": sha, "dirty": None if status is None else bool(status)}


def display_path(path: str | os.PathLike) -> str:
    """A path relative to the repository root when inside it (what notebooks see as cwd)."""
    path = Path(path).resolve()
    try:
        return path.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.as_posix()


def summary_inputs(results_dir: str | os.PathLike, notebooks: list[Path]) -> dict[str, str]:
    """SHA-256 of every file a summary notebook may read: ``results_dir/<nb>/claims.json`` and
    ``*.csv`` of each of ``notebooks``, by path relative to ``results_dir``.

    Part of a summary notebook's cache key, so it reruns whenever a claim or table it reads
    changed, whichever call of the runner changed it.
    """
    results_dir = Path(results_dir)
    digests = {}
    for notebook in notebooks:
        folder = results_dir / notebook.stem
        for pattern in SUMMARY_INPUT_PATTERNS:
            for path in sorted(folder.glob(pattern)):
                digests[path.relative_to(results_dir).as_posix()] = _sha256_file(path)
    return dict(sorted(digests.items()))


def read_run_json(folder: Path) -> dict | None:
    """The ``run.json`` of a results folder, or None when it is missing or unreadable."""
    try:
        return json.loads((Path(folder) / "run.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def is_cached(final_dir: Path, name: str, key: str) -> bool:
    """Whether ``final_dir`` holds a successful run of notebook ``name`` with cache key ``key``."""
    record = read_run_json(final_dir)
    if record is None or not (final_dir / f"{name}.ipynb").is_file():
        return False
    return record.get("key") == key and record.get("status") == "ok"


#: How many names a reason lists before it says how many more there are.
REASON_NAMES = 6


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:REASON_NAMES])
    return shown + (f" and {len(names) - REASON_NAMES} more" if len(names) > REASON_NAMES else "")


def rerun_reason(record: dict | None, key_parts: dict, code_files: dict[str, str], forced: bool = False) -> str:
    """Why a notebook is executed although ``results/<name>/`` may hold a run of it, in words.

    Parameters
    ----------
    record : dict or None
        Its earlier ``run.json`` (:func:`read_run_json`), None when there is none.
    key_parts : dict
        The parts of the new key (:func:`run_key`).
    code_files : dict of str to str
        The package's files now, relative path -> digest (:func:`mattinglib.versions.file_digests`);
        compared with the earlier run's ``code_files`` to name the files that changed.
    forced : bool
        ``--force`` was given.

    Returns
    -------
    str
        E.g. ``"code changed (mattinglib/train.py, mattinglib/evaluate.py)"``, ``"parameters
        changed (STEPS)"``, ``"notebook changed"``, ``"no earlier run"``, several joined by
        ``"; "``; ``"forced (--force)"`` when nothing changed.
    """
    if record is None:
        return "no earlier run"
    before = record.get("key_parts") or {}
    reasons = []
    if before.get("notebook_sha256") != key_parts.get("notebook_sha256"):
        reasons.append("notebook changed")
    old_parameters, new_parameters = before.get("parameters") or {}, key_parts.get("parameters") or {}
    parameters = sorted(name for name in old_parameters.keys() | new_parameters.keys()
                        if old_parameters.get(name) != new_parameters.get(name))
    if parameters:
        reasons.append(f"parameters changed ({_names(parameters)})")
    if before.get("profile") != key_parts.get("profile") and "PROFILE" not in parameters:
        reasons.append("profile changed")
    if before.get("code_version") != key_parts.get("code_version"):
        old_files = record.get("code_files")
        files = changed_files(old_files, code_files) if isinstance(old_files, dict) else []
        reasons.append(f"code changed ({_names([f'{PACKAGE_DIR.name}/{path}' for path in files])})" if files else
                       "code changed" + ("" if isinstance(old_files, dict) else " (the earlier run recorded no files)"))
    old_data, new_data = before.get("data") or {}, key_parts.get("data") or {}
    data = [f"{name} {'now found' if new_data.get(name) else 'now missing'}"
            for name in sorted(old_data.keys() | new_data.keys()) if old_data.get(name) != new_data.get(name)]
    if data:
        reasons.append(f"data changed ({_names(data)})")
    old_inputs, new_inputs = before.get("inputs") or {}, key_parts.get("inputs") or {}
    inputs = sorted(path for path in old_inputs.keys() | new_inputs.keys() if old_inputs.get(path) != new_inputs.get(path))
    if inputs:
        reasons.append(f"results it reads changed ({_names(inputs)})")
    named = {"notebook_sha256", "parameters", "profile", "code_version", "data", "inputs"}
    reasons += [f"{part} changed" for part in sorted(before.keys() | key_parts.keys())
                if part not in named and before.get(part) != key_parts.get(part)]
    if reasons:
        return "; ".join(reasons)
    if record.get("status") != "ok":
        return "earlier run did not finish"
    return "forced (--force)" if forced else "earlier results incomplete"
