"""Loading released ViT checkpoints (DINO / timm naming) into :class:`~mattinglib.models.vit.ViTBackbone`.

:func:`load_backbone_checkpoint` reads a ``torch.save`` file, finds the state dict inside the
wrappers that releases put around it, strips name prefixes, drops the class token, resizes the
position embedding to the backbone's grid and zero-widens the patch embedding to extra input
channels; :class:`CheckpointReport` says what was loaded, missing, unexpected and adapted.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .vit import ViTBackbone, resize_pos_embed


@dataclass
class CheckpointReport:
    """What :func:`load_backbone_checkpoint` did.

    Attributes
    ----------
    loaded : list of str
        Our backbone parameters that received a tensor from the checkpoint.
    missing : list of str
        Our backbone parameters the checkpoint had nothing for (they keep their initial value;
        the relative-position tables, for instance, which DINO does not have).
    unexpected : list of str
        Checkpoint entries that were not used (class token, classifier head, ...).
    adapted : list of str
        Loaded entries that were transformed to fit: position embedding resized, patch
        embedding widened to more input channels.
    """

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)


# Wrappers that released checkpoints put around the state dict, and prefixes on its names.
_CHECKPOINT_WRAPPERS = ("state_dict", "model", "teacher", "module")
_NAME_PREFIXES = ("module.", "backbone.", "encoder.")


def _extract_state_dict(obj: object, path: Path) -> dict[str, torch.Tensor]:
    """Find the name -> tensor mapping inside a loaded checkpoint object."""
    def is_state_dict(candidate: object) -> bool:
        return (isinstance(candidate, dict) and bool(candidate)
                and all(isinstance(v, torch.Tensor) for v in candidate.values()))

    # Unwrap at most a few levels ({"teacher": {...}}, {"model": {"state_dict": ...}}).
    for _ in range(4):
        if is_state_dict(obj):
            break
        inner = None
        if isinstance(obj, dict):
            inner = next((obj[key] for key in _CHECKPOINT_WRAPPERS if isinstance(obj.get(key), dict)), None)
        if inner is None:
            keys = f" with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, dict) else ""
            raise ValueError(f"{path} does not hold a state dict (a mapping of parameter names to "
                             f"tensors); found {type(obj).__name__}{keys}")
        obj = inner
    else:
        raise ValueError(f"{path}: no state dict found within four levels of nesting")
    state = {}
    for name, tensor in obj.items():
        for prefix in _NAME_PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
        state[name] = tensor
    return state


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict of a released ``torch.save`` file, unwrapped and with prefixes stripped.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Not a torch checkpoint, or no state dict inside (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for files that are not checkpoints
        raise ValueError(f"{path} is not a readable torch checkpoint: {error}") from error
    return _extract_state_dict(obj, path)


def _pos_embed_grid_of(pos_embed: torch.Tensor, path: Path) -> tuple[torch.Tensor, tuple[int, int]]:
    """Strip a class-token row from a (1, [1 +] g * g, D) position embedding; return it and g x g."""
    tokens = pos_embed.shape[1]
    for extra in (0, 1):
        side = math.isqrt(tokens - extra)
        if side * side == tokens - extra and side > 0:
            return pos_embed[:, extra:], (side, side)
    raise ValueError(f"{path}: pos_embed has {tokens} tokens, neither a square grid nor a square "
                     "grid plus a class token")


def load_backbone_checkpoint(model: nn.Module, path: str | os.PathLike) -> CheckpointReport:
    """Load a ViT checkpoint in DINO / timm naming into a model's ViT backbone.

    Parameters
    ----------
    model : nn.Module
        A :class:`ViTBackbone`, or a model with one as its ``backbone`` attribute (ViTMatte).
    path : str or PathLike
        A ``torch.save`` file holding a state dict (possibly wrapped in ``{"state_dict": ...}``,
        ``{"model": ...}`` or ``{"teacher": ...}``, names possibly prefixed by ``module.`` or
        ``backbone.``) in timm / DINO naming, e.g. DINO's ViT-S/16.

    Returns
    -------
    CheckpointReport
        Loaded, missing, unexpected and adapted names.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not a torch checkpoint, holds no state dict, or its shapes do not fit the
        backbone (a different width or patch size).

    Notes
    -----
    - The class token is dropped (our backbone has none) and reported as unexpected, as is the
      classifier ``head`` when present.
    - The position embedding is resized (bicubic) from the checkpoint's grid to ours.
    - When the backbone takes more input channels than the checkpoint (4 = RGB + trimap), the
      patch embedding's extra input channels are set to zero, so that the loaded backbone
      computes exactly what the checkpoint did on the RGB channels.
    """
    path = Path(path)
    backbone = model if isinstance(model, ViTBackbone) else getattr(model, "backbone", None)
    if not isinstance(backbone, ViTBackbone):
        raise ValueError(f"{type(model).__name__} is neither a ViTBackbone nor has one as .backbone")
    checkpoint = read_state_dict(path)

    ours = backbone.state_dict()
    report = CheckpointReport()
    new_state = {}
    for name, tensor in checkpoint.items():
        if name not in ours:
            report.unexpected.append(name)
            continue
        target_shape = ours[name].shape
        if name == "pos_embed":
            grid_tokens, grid = _pos_embed_grid_of(tensor, path)
            tensor = resize_pos_embed(grid_tokens.float(), grid, backbone.pos_embed_grid)
            if grid != backbone.pos_embed_grid or grid_tokens.shape[1] != checkpoint[name].shape[1]:
                report.adapted.append(f"pos_embed: {tuple(checkpoint[name].shape)} -> {tuple(tensor.shape)}")
        elif name == "patch_embed.proj.weight" and tensor.ndim == 4 and tensor.shape[1] < target_shape[1] \
                and tensor.shape[0] == target_shape[0] and tensor.shape[2:] == target_shape[2:]:
            extra = target_shape[1] - tensor.shape[1]
            zeros = torch.zeros(tensor.shape[0], extra, *tensor.shape[2:], dtype=tensor.dtype)
            tensor = torch.cat([tensor, zeros], dim=1)
            report.adapted.append(f"patch_embed.proj.weight: {extra} extra input channel(s) set to zero")
        if tensor.shape != target_shape:
            raise ValueError(f"{path}: {name} has shape {tuple(checkpoint[name].shape)} but the backbone "
                             f"needs {tuple(target_shape)} (a different ViT width, depth or patch size?)")
        new_state[name] = tensor.to(ours[name].dtype)
        report.loaded.append(name)
    if not new_state:
        raise ValueError(f"{path}: no entry matches the backbone's parameter names (expected timm / "
                         f"DINO naming such as 'blocks.0.attn.qkv.weight'); found e.g. {sorted(checkpoint)[:5]}")
    report.missing = [name for name in ours if name not in new_state]
    backbone.load_state_dict(new_state, strict=False)
    return report
