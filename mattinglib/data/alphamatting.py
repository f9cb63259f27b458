"""The alphamatting.com training set (27 real scenes, low resolution) as a dataset.

Rhemann et al., "A Perceptually Motivated Online Benchmark for Image Matting", CVPR 2009.
The files are distributed by the benchmark for research use; this library never ships
them. It reads them from a root folder laid out as the benchmark's three zips extract::

    ROOT/input_training_lowres/GT01.png ... GT27.png        RGB photographs
    ROOT/gt_training_lowres/GT01.png ... GT27.png           true alpha, RGB with R = G = B
    ROOT/trimap_training_lowres/Trimap1/GT01.png ...         palette PNGs, 0 / 128 / 255
    ROOT/trimap_training_lowres/Trimap2/GT01.png ...         (Trimap2: wider unknown band)

``ROOT`` defaults to ``$MATTINGLIB_DATA/alphamatting-lowres``.

Integrity. ``alphamatting_sha256.json`` (beside this module) lists the SHA-256 of every one
of the 108 files, computed from a copy of the extracted files. We do not have the zips
themselves, so what a download can be checked against honestly is each extracted file, not
the archive: after extraction every file named in the manifest must be present with that
hash, or the download is refused and nothing is moved into ``ROOT``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

from mattinglib.data.transforms import SeededDataset, Transform, make_sample
from mattinglib.environment import DATA_ENV, data_root_from_env
from mattinglib.io import check_same_size, read_alpha, read_image, read_trimap

#: The benchmark's own download site; one zip per top-level folder of the layout.
BASE_URL = "http://www.alphamatting.com/datasets/zip/"
FOLDERS = ("input_training_lowres", "gt_training_lowres", "trimap_training_lowres")
TRIMAPS = ("Trimap1", "Trimap2")
MANIFEST_PATH = Path(__file__).with_name("alphamatting_sha256.json")
SUBFOLDER = "alphamatting-lowres"

LAYOUT_HELP = (
    "expected layout: ROOT/input_training_lowres/GTxx.png, ROOT/gt_training_lowres/GTxx.png, "
    "ROOT/trimap_training_lowres/Trimap1/GTxx.png and .../Trimap2/GTxx.png (xx = 01..27)")

# Tests replace this with a function that serves local zips; the library never calls the
# network anywhere else.
urlopen = urllib.request.urlopen


def data_root(explicit: str | os.PathLike | None = None, needed_by: str | None = None) -> Path:
    """The folder that holds the datasets: ``explicit`` when given, else ``$MATTINGLIB_DATA``.

    Configs, notebooks and the CLI all come through here (the variable itself is read by
    :mod:`mattinglib.environment`).

    Raises
    ------
    FileNotFoundError
        Neither is given; the message names ``needed_by`` (what asked for the data).
    """
    if explicit:
        return Path(explicit)
    base = data_root_from_env()
    if base is None:
        who = f"{needed_by}: no data root given and" if needed_by else "no data root given and"
        raise FileNotFoundError(
            f"{who} {DATA_ENV} is not set: pass data_root=... or set {DATA_ENV} to the folder that holds the "
            f"datasets (e.g. {SUBFOLDER}/: {LAYOUT_HELP})")
    return base


def default_root() -> Path:
    """Return ``$MATTINGLIB_DATA/alphamatting-lowres`` (see :func:`data_root`)."""
    return data_root(needed_by="the alphamatting.com scenes") / SUBFOLDER


def sha256_of(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_manifest() -> dict[str, str]:
    """The shipped per-file SHA-256 manifest: relative path to hash."""
    with open(MANIFEST_PATH) as stream:
        return json.load(stream)["files"]


def verify_files(root: str | os.PathLike, manifest: dict[str, str]) -> list[str]:
    """Return the manifest paths that are missing under ``root`` or have another hash."""
    root = Path(root)
    return [relative for relative, expected in manifest.items()
            if not (root / relative).is_file() or sha256_of(root / relative) != expected]


def _find_extracted_folder(extracted: Path, expected: list[str]) -> Path | None:
    """Find the folder inside an extracted zip that holds all ``expected`` relative paths.

    We do not know whether a zip stores ``GT01.png`` at its top level or under a folder
    (``input_training_lowres/GT01.png``, or any other prefix), so every folder is tried.
    """
    for folder in [extracted, *sorted(p for p in extracted.rglob("*") if p.is_dir())]:
        if all((folder / relative).is_file() for relative in expected):
            return folder
    return None


def download_files(root: str | os.PathLike) -> None:
    """Download the three zips, verify every file and move each folder into ``root``.

    Folders already present under ``root`` that pass the manifest are kept and not
    downloaded again. Each zip is downloaded and extracted inside a temporary folder in
    ``root``; its folder is moved into place (``os.replace``) only after every one of its
    files matched the manifest, so an interrupted or failed download leaves no partial
    folder behind.

    Raises
    ------
    RuntimeError
        The download failed (no network, HTTP error, bad zip) or a file fails verification;
        the message says where to put the files by hand instead.
    ValueError
        A folder already under ``root`` fails the manifest (it is left untouched).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest()
    for folder in FOLDERS:
        part = {relative: digest for relative, digest in manifest.items() if relative.startswith(folder + "/")}
        target = root / folder
        if target.exists():
            bad = verify_files(root, part)
            if bad:
                raise ValueError(
                    f"{target} exists but {len(bad)} of its files are missing or differ from the manifest "
                    f"(first: {bad[0]}); remove the folder to download it again")
            continue
        url = BASE_URL + folder + ".zip"
        with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as scratch:
            scratch = Path(scratch)
            archive = scratch / (folder + ".zip")
            try:
                with urlopen(url) as response, open(archive, "wb") as stream:
                    shutil.copyfileobj(response, stream)
                with zipfile.ZipFile(archive) as zipped:
                    for member in zipped.namelist():
                        # Refuse members that would land outside the scratch folder.
                        if member.startswith(("/", "\\")) or ".." in Path(member).parts:
                            raise zipfile.BadZipFile(f"unsafe member path {member!r}")
                    zipped.extractall(scratch / "extracted")
            except (OSError, zipfile.BadZipFile) as error:
                raise RuntimeError(
                    f"could not download or extract {url} ({error}). Without a network, download "
                    f"{', '.join(BASE_URL + f + '.zip' for f in FOLDERS)} elsewhere and extract them into "
                    f"{root} ({LAYOUT_HELP}), or set {DATA_ENV} to a folder that holds {SUBFOLDER}/"
                ) from error
            inside = [relative[len(folder) + 1:] for relative in part]
            found = _find_extracted_folder(scratch / "extracted", inside)
            if found is None:
                raise RuntimeError(f"{url}: the zip does not contain the expected files ({LAYOUT_HELP})")
            staged = scratch / "staged"
            staged.mkdir()
            os.replace(found, staged / folder)
            bad = verify_files(staged, part)
            if bad:
                raise RuntimeError(
                    f"{url}: {len(bad)} extracted files do not match the SHA-256 manifest (first: {bad[0]}); "
                    f"nothing was moved into {root}")
            os.replace(staged / folder, target)


class AlphaMattingDataset(SeededDataset):
    """The 27 alphamatting.com training scenes, with one of their two trimaps.

    Parameters
    ----------
    root : str or PathLike, optional
        Folder with the layout of the module docstring; default
        ``$MATTINGLIB_DATA/alphamatting-lowres``.
    trimap : {"Trimap1", "Trimap2"}
        Which trimap the samples carry (Trimap2 has the wider unknown band).
    scenes : sequence of str, optional
        Scene names (``"GT01"``...) to use, in this order; default all 27.
    download : bool
        Download the missing folders from the benchmark's site (:func:`download_files`).
    transform : callable ``(sample, rng) -> sample``, optional
    seed, epoch : int
        See :class:`~mattinglib.data.transforms.SeededDataset`.

    Notes
    -----
    A sample is ``{"image": (3, H, W), "trimap": (1, H, W), "alpha": (1, H, W), "name": "GTxx"}``,
    float32, H x W from about 490 x 800 to 800 x 719 before any transform.
    """

    def __init__(self, root: str | os.PathLike | None = None, trimap: str = "Trimap1",
                 scenes: Sequence[str] | None = None, download: bool = False,
                 transform: Transform | None = None, seed: int = 0, epoch: int = 0):
        super().__init__(seed=seed, epoch=epoch)
        if trimap not in TRIMAPS:
            raise ValueError(f"trimap must be one of {TRIMAPS}; got {trimap!r}")
        self.root = Path(root) if root is not None else default_root()
        self.trimap = trimap
        self.transform = transform
        all_scenes = sorted({Path(p).stem for p in load_manifest() if p.startswith(FOLDERS[0] + "/")})
        if scenes is None:
            scenes = all_scenes
        unknown = [name for name in scenes if name not in all_scenes]
        if unknown:
            raise ValueError(f"unknown scene names {unknown}; the scenes are {all_scenes[0]}..{all_scenes[-1]}")
        self.scene_names = list(scenes)

        if download:
            download_files(self.root)
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"{self.root}: dataset root does not exist; {LAYOUT_HELP}. Pass download=True, or put the "
                f"files there, or set {DATA_ENV} to the folder that holds {SUBFOLDER}/")
        missing = [str(path) for name in self.scene_names for path in self._paths(name).values()
                   if not path.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{self.root}: {len(missing)} dataset files are missing (first: {missing[0]}); {LAYOUT_HELP}")

    def _paths(self, name: str) -> dict[str, Path]:
        return {
            "image": self.root / "input_training_lowres" / f"{name}.png",
            "alpha": self.root / "gt_training_lowres" / f"{name}.png",
            "trimap": self.root / "trimap_training_lowres" / self.trimap / f"{name}.png",
        }

    def __len__(self) -> int:
        return len(self.scene_names)

    def read_scene(self, name: str) -> dict:
        """Read one scene as numpy arrays (no transform).

        Returns
        -------
        dict
            ``"image"`` (H, W, 3), ``"alpha"`` (H, W), ``"trimap"`` (H, W), float32.
        """
        paths = self._paths(name)
        arrays = {"image": read_image(paths["image"]), "alpha": read_alpha(paths["alpha"]),
                  "trimap": read_trimap(paths["trimap"])}
        check_same_size({str(paths[key]): value for key, value in arrays.items()})
        return arrays

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} scenes")
        name = self.scene_names[index]
        arrays = self.read_scene(name)
        sample = make_sample(name, arrays["image"], arrays["trimap"], arrays["alpha"])
        if self.transform is not None:
            sample = self.transform(sample, self.sample_rng(index))
        return sample


def open_alphamatting(data_root: str | os.PathLike | None = None, download: bool = False,
                      **options) -> AlphaMattingDataset | None:
    """The real scenes if they can be had, else ``None`` with the reason printed.

    For notebooks that have a synthetic fallback: they narrate what is missing instead of
    failing. ``data_root`` is the folder holding ``alphamatting-lowres/`` (default
    ``$MATTINGLIB_DATA``); ``download=True`` fetches the scenes when they are absent;
    ``options`` go to :class:`AlphaMattingDataset`.
    """
    try:
        root = Path(data_root) / SUBFOLDER if data_root is not None else default_root()
        return AlphaMattingDataset(root, download=download, **options)
    except (FileNotFoundError, OSError) as error:
        print(f"The alphamatting.com scenes are not available ({error}). The parts that need them are "
              f"skipped; set {DATA_ENV} (or DATA_ROOT) to a folder holding {SUBFOLDER}/, or allow the "
              "download (DOWNLOAD = True).")
        return None
