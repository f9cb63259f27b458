"""A trained network as an ONNX model, and ONNX Runtime as a way to run it.

``python -m mattinglib export --checkpoint F --onnx OUT`` writes the network of a checkpoint
(:func:`mattinglib.checkpoints.load_model`) as ONNX (:func:`export_onnx`), with a dynamic batch,
height and width, and checks it at once against the PyTorch network on a real photograph
(``skimage.data.astronaut()``, cropped to 509 x 387 so that the padding is exercised).
``python -m mattinglib predict --onnx OUT`` runs it with ONNX Runtime on the CPU
(:func:`onnx_network`), through the same tiling as the PyTorch network.

The graph holds the whole forward pass: the input is the image in [0, 1] (and the trimap as
a fourth channel for trimap-conditioned models), float32 (B, C, H, W), any H and W; inside
it the RGB channels are normalised, the input is padded on the bottom and right to a multiple
of ``size_multiple`` by edge replication (ONNX ``Pad``, mode ``edge``, the amounts computed
from the input's shape in the graph), and the output, alpha (B, 1, H, W) through a sigmoid,
is cropped back. The network's ``in_channels`` and ``size_multiple`` are stored in the
model's metadata.

Needs ``onnx`` and ``onnxruntime`` (dependencies of the project, pinned in pyproject.toml), imported
only here, so that the rest of the library loads without them. The export uses torch's TorchScript exporter (``dynamo=False``), which needs
neither ``onnxscript`` nor the dynamo exporter.

Tiling and GroupNorm: an image larger than the tile limit is run in tiles as with PyTorch,
but each tile is normalised by its own GroupNorm statistics (the graph computes them; the
whole image's statistics, :class:`mattinglib.tiling.WholeImageGroupNorm`, need the PyTorch
modules). Large images then differ from the whole-image prediction more than with PyTorch;
``--tile-pixels 0`` runs them in one piece.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

#: What to run when onnx / onnxruntime are missing.
INSTALL_HINT = "pip install onnx==1.23.2 onnxruntime==1.32.0 (or make install)"

#: The ONNX operator set written.
OPSET = 17


class OnnxNotInstalled(ImportError, ValueError):
    """onnx or onnxruntime is missing (a ValueError too: the command line reports it in one line, status 2)."""


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise OnnxNotInstalled(f"{module} is not installed: the ONNX export and runtime need it; "
                               f"{INSTALL_HINT}") from error


def check_image(height: int = 387, width: int = 509) -> tuple[np.ndarray, np.ndarray]:
    """A real photograph (skimage's astronaut, cropped) and a three-level trimap of it, float32.

    The trimap is the image's brightness cut into three levels: not a matting trimap, but a
    fourth channel with the values the networks see, to compare two runtimes on.
    """
    from skimage import data

    image = data.astronaut()[:height, :width].astype(np.float32) / 255.0
    grey = image.mean(-1)
    trimap = np.where(grey < 0.3, 0.0, np.where(grey > 0.6, 1.0, 0.5)).astype(np.float32)
    return image, trimap


def _input_batch(image: np.ndarray, trimap: np.ndarray, in_channels: int) -> np.ndarray:
    planes = [image.transpose(2, 0, 1)] + ([trimap[None]] if in_channels == 4 else [])
    return np.ascontiguousarray(np.concatenate(planes)[None], dtype=np.float32)


def export_onnx(checkpoint: str | Path, target: str | Path, opset: int = OPSET) -> float:
    """Write the network of ``checkpoint`` as ONNX to ``target`` (atomically); returns the check's max |diff|.

    The example input of the trace is 100 x 130 (not a multiple of 16 or 14), so the padding
    is traced as computed from the shape, not left out. The written model is then run by ONNX
    Runtime on :func:`check_image` and compared with the PyTorch network.

    Raises
    ------
    OnnxNotInstalled
        onnx or onnxruntime missing (an ImportError whose message says how to install them).
    ValueError
        The check failed: ONNX Runtime's alpha differs from PyTorch's by more than 1e-4.
    """
    onnx = _require("onnx")
    _require("onnxruntime")
    from .atomic import atomic_path
    from .checkpoints import load_model

    model = load_model(checkpoint)
    in_channels, multiple = int(model.in_channels), int(getattr(model, "size_multiple", 1))
    example = torch.rand(1, in_channels, 100, 130, generator=torch.Generator().manual_seed(0))
    target = Path(target)
    with atomic_path(target) as tmp:
        import warnings

        with warnings.catch_warnings():  # the tracer's notes on Python ifs over shapes, and the exporter's deprecation
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (example,), str(tmp), dynamo=False, opset_version=opset,
                              input_names=["image"], output_names=["alpha"],
                              dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"},
                                            "alpha": {0: "batch", 2: "height", 3: "width"}})
        proto = onnx.load(str(tmp))
        for key, value in (("in_channels", in_channels), ("size_multiple", multiple),
                           ("mattinglib_checkpoint", Path(checkpoint).name)):
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, str(value)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        diff = compare_with_torch(model, tmp)
        if not diff <= 1e-4:
            raise ValueError(f"{checkpoint}: the ONNX model's alpha differs from PyTorch's by {diff:.2e} on the "
                             "check image (more than 1e-4); nothing written")
    return diff


def compare_with_torch(model: torch.nn.Module, onnx_file: str | Path, image: np.ndarray | None = None,
                       trimap: np.ndarray | None = None) -> float:
    """Max |alpha(ONNX Runtime) - alpha(PyTorch)| on one image (default :func:`check_image`), whole."""
    if image is None:
        image, trimap = check_image()
    x = _input_batch(image, trimap, int(model.in_channels))
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(x)).numpy()
    got = onnx_network(onnx_file)(torch.from_numpy(x)).numpy()
    return float(np.abs(got - expected).max())


class OnnxNetwork:
    """An ONNX Runtime session that behaves as a network for :func:`mattinglib.evaluate.predict_alpha`.

    Called with a float32 (B, C, H, W) tensor, returns the (B, 1, H, W) alpha tensor; has the
    ``in_channels`` and ``size_multiple`` stored at export (:func:`mattinglib.tiling.run_tiled`
    aligns its tiles to the latter).
    """

    def __init__(self, path: str | Path, threads: int | None = None):
        ort = _require("onnxruntime")
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such ONNX file; write one with python -m mattinglib export "
                                    "--checkpoint PT --onnx FILE")
        options = ort.SessionOptions()
        if threads is not None:  # None: ONNX Runtime's own choice (every core)
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own error types for a bad file
            raise ValueError(f"{path}: not a readable ONNX model ({error}); write one with python -m mattinglib "
                             "export") from error
        meta = self.session.get_modelmeta().custom_metadata_map
        if "in_channels" not in meta:
            raise ValueError(f"{path}: an ONNX model without mattinglib's metadata (in_channels); write it with "
                             "python -m mattinglib export")
        self.in_channels = int(meta["in_channels"])
        self.size_multiple = int(meta.get("size_multiple", 1))
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {self.input_name: array})[0])


def onnx_network(path: str | Path, threads: int | None = None) -> OnnxNetwork:
    """The ONNX model at ``path`` as a network (:class:`OnnxNetwork`), with ``threads`` intra-op threads."""
    return OnnxNetwork(path, threads)
