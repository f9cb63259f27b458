"""Folders of a user's images: checking them, and one loop that writes an alpha for each.

A folder of one's own photos often holds a few files that cannot be used: a file that is not
an image, an image without its trimap, a trimap of another size. :func:`check_input_folder`
checks the whole folder first (file headers only, which is cheap) and reports every such
problem at once; :func:`run_folder` then, with ``on_skip``, writes the images that are fine
and skips the others, naming each, instead of stopping at the first. Both
:func:`predict_folder` (a trained network) and :func:`mattinglib.matte.matte_folder` (no
training) go through :func:`run_folder`. :func:`user_scoring_set` checks folders of images,
alphas and trimaps the same way, to score a method on them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from .evaluate import predict_alpha
from .io import IMAGE_EXTENSIONS, check_same_size, read_alpha, read_image, read_trimap, write_alpha_png
from .tiling import DEFAULT_TILE_PIXELS
from .checkpoints import load_model

#: At most this many file names are listed in one message (the count is always given).
LISTED_NAMES = 10

#: ``alpha_of(image, trimap)``: image (H, W, 3) float32 in [0, 1], trimap (H, W) in {0, 0.5, 1}
#: or None, to alpha (H, W) in [0, 1].
AlphaFunction = Callable[[np.ndarray, "np.ndarray | None"], np.ndarray]


class InputProblem(ValueError):
    """Input files that cannot be predicted; ``paths`` are the images concerned."""

    def __init__(self, message: str, paths: list[Path]):
        super().__init__(message)
        self.paths = list(paths)


def _names(paths: list[Path]) -> str:
    shown = ", ".join(p.name for p in paths[:LISTED_NAMES])
    return shown + (f" and {len(paths) - LISTED_NAMES} more" if len(paths) > LISTED_NAMES else "")


def _header_size(path: Path) -> tuple[int, int]:
    """(H, W) from a file's header (no pixel is decoded); ValueError naming the file if none."""
    try:
        with Image.open(path) as im:
            width, height = im.size
    except UnidentifiedImageError as error:
        raise ValueError(f"{path}: cannot decode: not an image file Pillow can read; "
                         "save it as PNG or JPEG, or move it out of the folder") from error
    except OSError as error:
        raise ValueError(f"{path}: cannot read ({error}); save it again or move it out of the folder") from error
    return height, width


def list_folder_images(folder: str | Path, what: str = "input") -> list[Path]:
    """The image files of a folder (extensions :data:`~mattinglib.io.IMAGE_EXTENSIONS`), sorted.

    Raises
    ------
    FileNotFoundError
        No such folder.
    ValueError
        The folder holds no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such {what} folder; give the folder that holds your images")
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        raise ValueError(f"{folder}: {what} folder holds no image ({', '.join(sorted(IMAGE_EXTENSIONS))}); "
                         "give the folder that holds your images")
    return images


def stem_index(folder: Path) -> dict[str, list[Path]]:
    """File stem to the image files of ``folder`` with that stem (``a.png``, ``a.jpg``...)."""
    index: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            index.setdefault(path.stem, []).append(path)
    return index


def _companion_problems(images: dict[Path, tuple[int, int]], folder: Path, what: str,
                        problems: list[InputProblem]) -> None:
    """Check each image's ``what`` ("trimap", "alpha matte") in ``folder``: there, one, readable, same size."""
    index = stem_index(folder)
    missing: list[Path] = []
    for path, size in images.items():
        found = index.get(path.stem, [])
        if not found:
            missing.append(path)
            continue
        if len(found) > 1:
            problems.append(InputProblem(
                f"{folder}: {len(found)} files could be the {what} of {path.name}: "
                f"{', '.join(p.name for p in found)}; keep one", [path]))
            continue
        try:
            companion_size = _header_size(found[0])
        except ValueError as error:
            problems.append(InputProblem(f"{error} (the {what} of {path.name})", [path]))
            continue
        if companion_size != size:
            problems.append(InputProblem(
                f"{found[0]}: {what} is {companion_size[0]}x{companion_size[1]} (HxW) but its image {path} is "
                f"{size[0]}x{size[1]}; give each image a {what} of its own size", [path]))
    if missing:
        problems.insert(0, InputProblem(
            f"{folder}: no {what} for {len(missing)} image(s) of {missing[0].parent}: {_names(missing)}; "
            f"add {folder}/<stem>.png for each", missing))


def check_input_folder(images: list[Path], output_dir: Path | None, trimap_dir: Path | None,
                       alpha_dir: Path | None = None) -> list[InputProblem]:
    """Every problem of the inputs that file names and headers show, before any image is read.

    Parameters
    ----------
    images : list of Path
        The image files.
    output_dir : Path or None
        Where ``<stem>.png`` outputs go (named in the message about two images of one stem);
        None when nothing is written (scoring).
    trimap_dir, alpha_dir : Path or None
        Folders where every image needs its trimap / alpha matte (any image extension, same
        stem, same size); None: not needed.

    Returns
    -------
    list of InputProblem
        Images without a trimap (or alpha) are reported together, in one problem each; unreadable
        headers, files of another size, several candidate files and images sharing a stem one by one.
    """
    problems: list[InputProblem] = []
    by_stem: dict[str, Path] = {}
    sizes: dict[Path, tuple[int, int]] = {}
    for path in images:
        if path.stem in by_stem:
            clash = (f"both would write {output_dir / (path.stem + '.png')}" if output_dir is not None
                     else "both would be scored against the same files")
            problems.append(InputProblem(
                f"{path}: shares the stem {path.stem!r} with {by_stem[path.stem].name}, and {clash}; "
                "rename one of them", [path]))
            continue
        by_stem[path.stem] = path
        try:
            sizes[path] = _header_size(path)
        except ValueError as error:
            problems.append(InputProblem(str(error), [path]))
    # Listed in this order: missing alphas, then missing trimaps, then the rest.
    for folder, what in ((trimap_dir, "trimap"), (alpha_dir, "alpha matte")):
        if folder is not None:
            _companion_problems(sizes, Path(folder), what, problems)
    return problems


@dataclass
class FolderResult:
    """What :func:`run_folder` wrote, and how long the method took.

    Attributes
    ----------
    written : list of Path
        The alpha files written (each atomically), in sorted input order.
    images : list of Path
        The image of each written file (same order).
    seconds : list of float
        Seconds the method took on each of them (reading and writing the files excluded).
    megapixels : list of float
        Their sizes, in millions of pixels.
    fallbacks : list of Path
        Images for which a classical method returned the trimap as alpha (no known foreground
        or background), each also named in a
        :class:`~mattinglib.baselines.TrimapAsAlphaWarning`.
    """

    written: list[Path] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    megapixels: list[float] = field(default_factory=list)
    fallbacks: list[Path] = field(default_factory=list)

    @property
    def seconds_per_megapixel(self) -> float:
        """Total seconds over total megapixels (NaN when nothing was written)."""
        total = sum(self.megapixels)
        return sum(self.seconds) / total if total else float("nan")


def _raise_or_report(problems: list[InputProblem], on_skip: Callable[[InputProblem], None] | None) -> set[Path]:
    """Without ``on_skip``, raise every problem in one; with it, report each. Returns the images to skip."""
    if problems and on_skip is None:
        raise InputProblem(" | ".join(str(p) for p in problems), [p for problem in problems for p in problem.paths])
    for problem in problems:
        on_skip(problem)
    return {path for problem in problems for path in problem.paths}


def run_folder(images: list[Path], output_dir: str | Path, alpha_of: AlphaFunction, trimap_dir: str | Path | None = None,
               on_skip: Callable[[InputProblem], None] | None = None, progress: bool = True,
               description: str = "predict") -> FolderResult:
    """Check ``images`` (:func:`check_input_folder`), then write ``output_dir/<stem>.png`` for each.

    Parameters
    ----------
    images : list of Path
        The image files (:func:`list_folder_images`).
    output_dir : path
        Created if missing.
    alpha_of : callable ``(image, trimap) -> alpha``
        Image (H, W, 3) float32 in [0, 1]; trimap (H, W) in {0, 0.5, 1}, None without
        ``trimap_dir``; alpha (H, W) in [0, 1]. Called inside
        :func:`mattinglib.baselines.for_image`, so a classical method names the image when it
        returns the trimap.
    trimap_dir : path, optional
        Folder of ``<stem>.*`` trimaps; when given, every image needs its trimap, of its size.
    on_skip : callable, optional
        Called with an :class:`InputProblem` (a ``ValueError`` whose one-line message names the
        file and what to do, and whose ``paths`` are the images skipped) for each problem;
        those images are skipped and the others written. Without it, the problems that the
        check of the folder finds are raised together, before any image is processed, and a
        file that fails to decode afterwards raises.
    progress : bool
        Show a progress bar over the images (stderr).
    description : str
        The progress bar's label.

    Returns
    -------
    FolderResult
    """
    from .baselines import for_image  # imports pymatting; only the loop needs it

    output_dir = Path(output_dir)
    trimap_dir = Path(trimap_dir) if trimap_dir is not None else None
    skipped = _raise_or_report(check_input_folder(images, output_dir, trimap_dir), on_skip)
    trimaps = stem_index(trimap_dir) if trimap_dir is not None else {}

    output_dir.mkdir(parents=True, exist_ok=True)
    result = FolderResult()
    for path in tqdm([p for p in images if p not in skipped], desc=description, disable=not progress, unit="image"):
        try:
            image = read_image(path)
            trimap = None
            if trimap_dir is not None:
                trimap_path = trimaps[path.stem][0]
                trimap = read_trimap(trimap_path)
                if trimap.shape != image.shape[:2]:
                    raise ValueError(f"{trimap_path}: trimap is {trimap.shape[0]}x{trimap.shape[1]} (HxW) but its "
                                     f"image {path} is {image.shape[0]}x{image.shape[1]}; give each image a "
                                     "trimap of its own size")
        except (ValueError, OSError) as error:  # io's readers name the file in their message
            if on_skip is None:
                raise
            on_skip(InputProblem(str(error), [path]))
            continue
        start = time.perf_counter()
        with for_image(str(path)) as notes:
            alpha = alpha_of(image, trimap)
        seconds = time.perf_counter() - start
        target = output_dir / f"{path.stem}.png"
        write_alpha_png(target, alpha)
        result.written.append(target)
        result.images.append(path)
        result.seconds.append(seconds)
        result.megapixels.append(image.shape[0] * image.shape[1] / 1e6)
        if notes:
            result.fallbacks.append(path)
    return result


def predict_folder(checkpoint: str | Path, input_dir: str | Path, output_dir: str | Path,
                   trimap_dir: str | Path | None = None, device: str = "cpu",
                   on_skip: Callable[[InputProblem], None] | None = None, progress: bool = True,
                   max_tile_pixels: int | None = DEFAULT_TILE_PIXELS) -> list[Path]:
    """Write ``output_dir/<stem>.png`` (8-bit alpha) for every image in ``input_dir``.

    Parameters
    ----------
    checkpoint : path
        ``checkpoint.pt`` written by :func:`mattinglib.train.train`, or an ONNX file written by
        :func:`mattinglib.onnx_export.export_onnx` (``.onnx``: run with ONNX Runtime on the CPU).
    input_dir : path
        Folder of RGB images (see :func:`mattinglib.io.read_image` for grey / RGBA / 16-bit).
    trimap_dir : path, optional
        Folder of ``<stem>.png`` (or ``.jpg``...) trimaps; required only by trimap-conditioned
        (4-channel) models. When given, every image needs its trimap, of its size.
    on_skip : callable, optional
        As for :func:`run_folder`: called with each :class:`InputProblem`, whose images are
        skipped; without it the problems are raised.
    progress : bool
        Show a progress bar.
    max_tile_pixels : int or None
        Images of more pixels are predicted in overlapping tiles of at most this many
        (:func:`mattinglib.evaluate.predict_alpha`); None: every image in one piece.

    Returns
    -------
    list of Path
        The alpha files written (each atomically), in sorted input order.

    Raises
    ------
    FileNotFoundError
        ``input_dir`` or ``trimap_dir`` does not exist, or the checkpoint.
    ValueError
        No image in ``input_dir``, an unusable checkpoint, a trimap-conditioned model without
        ``trimap_dir``; without ``on_skip``, an unusable image (:class:`InputProblem`).
    """
    return predict_folder_result(checkpoint, input_dir, output_dir, trimap_dir, device, on_skip, progress,
                                 max_tile_pixels).written


def load_predictor_model(checkpoint: str | Path, device: str = "cpu"):
    """The network of ``checkpoint``: a ``.onnx`` file through ONNX Runtime, else :func:`load_model`."""
    if Path(checkpoint).suffix.lower() == ".onnx":
        from .onnx_export import onnx_network

        if device != "cpu":
            raise ValueError(f"{checkpoint}: an ONNX model runs on the CPU here; leave the device at cpu")
        return onnx_network(checkpoint)
    return load_model(checkpoint, device)


def predict_folder_result(checkpoint: str | Path, input_dir: str | Path, output_dir: str | Path,
                          trimap_dir: str | Path | None = None, device: str = "cpu",
                          on_skip: Callable[[InputProblem], None] | None = None, progress: bool = True,
                          max_tile_pixels: int | None = DEFAULT_TILE_PIXELS) -> FolderResult:
    """:func:`predict_folder`, returning the whole :class:`FolderResult` (seconds and megapixels too)."""
    images = list_folder_images(input_dir, "input")
    if trimap_dir is not None:
        trimap_dir = Path(trimap_dir)
        if not trimap_dir.is_dir():
            raise FileNotFoundError(f"{trimap_dir}: no such trimap folder; give the folder of <stem>.png trimaps")
    model = load_predictor_model(checkpoint, device)
    if getattr(model, "in_channels", 3) == 4 and trimap_dir is None:
        raise ValueError(f"{checkpoint}: a trimap-conditioned model (4 input channels); pass a folder of "
                         "trimaps (CLI --trimaps FOLDER)")

    def alpha_of(image: np.ndarray, trimap: np.ndarray | None) -> np.ndarray:
        return predict_alpha(model, image, trimap, max_tile_pixels=max_tile_pixels)

    return run_folder(images, output_dir, alpha_of, trimap_dir, on_skip=on_skip, progress=progress,
                      description="predict")


class UserScoringSet:
    """A user's folders of images, true alphas and trimaps as an evaluation set.

    Items are the sample dicts :func:`mattinglib.evaluate.evaluate` scores: ``{"image": (3, H,
    W), "alpha": (1, H, W), "trimap": (1, H, W), "name": file name}``, float32. Build it with
    :func:`user_scoring_set`, which checks the folders first.
    """

    def __init__(self, images: list[Path], alphas: dict[str, Path], trimaps: dict[str, Path]):
        self.images, self.alphas, self.trimaps = list(images), alphas, trimaps

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        from .data.transforms import make_sample

        path = self.images[index]
        arrays = {path: read_image(path), self.alphas[path.stem]: read_alpha(self.alphas[path.stem]),
                  self.trimaps[path.stem]: read_trimap(self.trimaps[path.stem])}
        check_same_size({str(p): value for p, value in arrays.items()})
        image, alpha, trimap = arrays.values()
        return make_sample(path.name, image, trimap, alpha)


def user_scoring_set(images_dir: str | Path, alphas_dir: str | Path, trimaps_dir: str | Path) -> UserScoringSet:
    """Check the folders (every problem at once) and return them as a :class:`UserScoringSet`.

    Parameters
    ----------
    images_dir : path
        The images (any of :data:`~mattinglib.io.IMAGE_EXTENSIONS`).
    alphas_dir, trimaps_dir : path
        Each image's true alpha and trimap, same stem (any image extension), same size.

    Raises
    ------
    FileNotFoundError
        A folder does not exist.
    InputProblem
        Images without an alpha or a trimap (all listed), unreadable headers, sizes that differ;
        every problem in one message.
    """
    images = list_folder_images(images_dir, "image")
    folders = {}
    for folder, what in ((alphas_dir, "alpha"), (trimaps_dir, "trimap")):
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such {what} folder; give the folder of <stem>.png {what}s")
        folders[what] = folder
    _raise_or_report(check_input_folder(images, None, folders["trimap"], folders["alpha"]), None)
    first = {what: {stem: paths[0] for stem, paths in stem_index(folder).items()} for what, folder in folders.items()}
    return UserScoringSet(images, first["alpha"], first["trimap"])
