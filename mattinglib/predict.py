"""Prediction: alpha mattes for a folder of a user's images."""
from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from .evaluate import predict_alpha
from .io import IMAGE_EXTENSIONS, read_image, read_trimap, write_alpha_png
from .train import load_model


def predict_folder(checkpoint: str | Path, input_dir: str | Path, output_dir: str | Path,
                   trimap_dir: str | Path | None = None, device: str = "cpu") -> list[Path]:
    """Write ``output_dir/<stem>.png`` (8-bit alpha) for every image in ``input_dir``.

    Parameters
    ----------
    checkpoint : path
        ``checkpoint.pt`` written by :func:`mattinglib.train.train`.
    input_dir : path
        Folder of RGB images (see :func:`mattinglib.io.read_image` for grey / RGBA / 16-bit).
    trimap_dir : path, optional
        Folder of ``<stem>.png`` trimaps; required only by trimap-conditioned (4-channel) models.

    Returns
    -------
    list of Path
        The alpha files written (each atomically), in sorted input order.
    """
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if not input_dir.is_dir():
        raise FileNotFoundError(f"input folder {input_dir} does not exist")
    images = sorted(p for p in input_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        raise ValueError(f"input folder {input_dir} holds no image ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    model = load_model(checkpoint, device)
    output_dir.mkdir(parents=True, exist_ok=True)
    if getattr(model, "in_channels", 3) == 4 and trimap_dir is None:
        raise ValueError(f"{checkpoint} is a trimap-conditioned model: pass a folder of trimaps")
    written = []
    for path in tqdm(images, desc="predict"):
        image = read_image(path)
        trimap = None
        if trimap_dir is not None:
            trimap = read_trimap(Path(trimap_dir) / f"{path.stem}.png")
            if trimap.shape != image.shape[:2]:
                raise ValueError(f"trimap {Path(trimap_dir) / (path.stem + '.png')} is {trimap.shape}, "
                                 f"image {path} is {image.shape[:2]}")
        target = output_dir / f"{path.stem}.png"
        write_alpha_png(target, predict_alpha(model, image, trimap))
        written.append(target)
    return written
