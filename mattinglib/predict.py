"""Prediction: alpha mattes for a folder of a user's images.

A folder of one's own photos often holds a few files that cannot be used: a file that is not
an image, an image without its trimap, a trimap of another size. :func:`predict_folder`
checks the whole folder first (file headers only, which is cheap) and reports every such
problem at once; with ``on_skip`` it then predicts the images that are fine and skips the
others, naming each, instead of stopping at the first.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from .evaluate import predict_alpha
from .io import IMAGE_EXTENSIONS, read_image, read_trimap, write_alpha_png
from .train import load_model

#: At most this many file names are listed in one message (the count is always given).
LISTED_NAMES = 10


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


def check_input_folder(images: list[Path], output_dir: Path, trimap_dir: Path | None) -> list[InputProblem]:
    """Every problem of the inputs that file names and headers show, before any prediction.

    Images without a trimap are reported together, in one problem; unreadable headers, trimaps
    of another size and images sharing a stem (they would write the same output) one by one.
    """
    problems: list[InputProblem] = []
    by_stem: dict[str, Path] = {}
    missing: list[Path] = []
    for path in images:
        if path.stem in by_stem:
            problems.append(InputProblem(
                f"{path}: shares the stem {path.stem!r} with {by_stem[path.stem].name}, and both would write "
                f"{output_dir / (path.stem + '.png')}; rename one of them", [path]))
            continue
        by_stem[path.stem] = path
        try:
            size = _header_size(path)
        except ValueError as error:
            problems.append(InputProblem(str(error), [path]))
            continue
        if trimap_dir is None:
            continue
        trimap = trimap_dir / f"{path.stem}.png"
        if not trimap.is_file():
            missing.append(path)
            continue
        try:
            trimap_size = _header_size(trimap)
        except ValueError as error:
            problems.append(InputProblem(f"{error} (the trimap of {path.name})", [path]))
            continue
        if trimap_size != size:
            problems.append(InputProblem(
                f"{trimap}: trimap is {trimap_size[0]}x{trimap_size[1]} (HxW) but its image {path} is "
                f"{size[0]}x{size[1]}; give each image a trimap of its own size", [path]))
    if missing:
        problems.insert(0, InputProblem(
            f"{trimap_dir}: no trimap for {len(missing)} image(s) of {missing[0].parent}: {_names(missing)}; "
            f"add {trimap_dir}/<stem>.png for each", missing))
    return problems


def predict_folder(checkpoint: str | Path, input_dir: str | Path, output_dir: str | Path,
                   trimap_dir: str | Path | None = None, device: str = "cpu",
                   on_skip: Callable[[InputProblem], None] | None = None, progress: bool = True) -> list[Path]:
    """Write ``output_dir/<stem>.png`` (8-bit alpha) for every image in ``input_dir``.

    Parameters
    ----------
    checkpoint : path
        ``checkpoint.pt`` written by :func:`mattinglib.train.train`.
    input_dir : path
        Folder of RGB images (see :func:`mattinglib.io.read_image` for grey / RGBA / 16-bit).
    trimap_dir : path, optional
        Folder of ``<stem>.png`` trimaps; required only by trimap-conditioned (4-channel) models.
        When given, every image needs its trimap, of its size.
    on_skip : callable, optional
        Called with an :class:`InputProblem` (a ``ValueError`` whose one-line message names the
        file and what to do, and whose ``paths`` are the images skipped) for each problem;
        those images are skipped and the others predicted. Without it, the problems that the
        check of the folder finds are raised together, before any prediction, and a file that
        fails to decode afterwards raises.
    progress : bool
        Show a progress bar.

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
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if not input_dir.is_dir():
        raise FileNotFoundError(f"{input_dir}: no such input folder; give the folder that holds your images")
    images = sorted(p for p in input_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        raise ValueError(f"{input_dir}: input folder holds no image ({', '.join(sorted(IMAGE_EXTENSIONS))}); "
                         "give the folder that holds your images")
    if trimap_dir is not None:
        trimap_dir = Path(trimap_dir)
        if not trimap_dir.is_dir():
            raise FileNotFoundError(f"{trimap_dir}: no such trimap folder; give the folder of <stem>.png trimaps")
    model = load_model(checkpoint, device)
    if getattr(model, "in_channels", 3) == 4 and trimap_dir is None:
        raise ValueError(f"{checkpoint}: a trimap-conditioned model (4 input channels); pass a folder of "
                         "trimaps (CLI --trimaps FOLDER)")

    problems = check_input_folder(images, output_dir, trimap_dir)
    if problems and on_skip is None:
        raise InputProblem(" | ".join(str(p) for p in problems), [p for problem in problems for p in problem.paths])
    for problem in problems:
        on_skip(problem)
    skipped = {path for problem in problems for path in problem.paths}

    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in tqdm([p for p in images if p not in skipped], desc="predict", disable=not progress):
        try:
            image = read_image(path)
            trimap = None
            if trimap_dir is not None:
                trimap_path = trimap_dir / f"{path.stem}.png"
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
        target = output_dir / f"{path.stem}.png"
        write_alpha_png(target, predict_alpha(model, image, trimap))
        written.append(target)
    return written
