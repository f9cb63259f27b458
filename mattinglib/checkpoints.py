"""A run's checkpoint file: writing it, reading its step, loading and exporting its network.

:func:`mattinglib.train.train` writes ``out_dir/checkpoint.pt`` (:func:`save_checkpoint`: the
network, the optimiser, the history, the evaluations, the config and the RNG state, so that a
run resumes exactly); :func:`load_model` gives back the trained network in eval mode, with
one-line errors for a file that is not such a checkpoint; :func:`export_model` writes the
network alone, in float32 or float16, for others to use. The predictors and user commands
load networks from here, without importing the training loop.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .atomic import atomic_path
from .build import build_model_for
from .config import TrainConfig

#: The file name of a run's checkpoint in its ``out_dir``.
CHECKPOINT = "checkpoint.pt"


def save_atomically(state: dict, path: str | Path) -> None:
    """``torch.save(state)`` to ``path`` atomically, the same bytes for the same ``state``.

    Saved through an open file, not a path: given a path, torch names the archive's inner
    folder after the file, here a random temporary name, so equal weights gave other bytes
    at every export (and ``make study`` a changed tree).
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        torch.save(state, stream)


def save_checkpoint(path: Path, model, optimizer, step: int, history: list, evaluations: list,
                     config: TrainConfig) -> None:
    state = {"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "history": history, "evaluations": evaluations, "config": config.to_dict(),
             "torch_rng": torch.get_rng_state()}
    save_atomically(state, path)


def checkpoint_step(checkpoint: str | Path) -> int | None:
    """The step a checkpoint written by :func:`train` was saved at; None when there is none."""
    path = Path(checkpoint)
    if not path.is_file():
        return None
    return int(torch.load(path, map_location="cpu", weights_only=False)["step"])


def describe_model(config: dict | None) -> str:
    """``"unet (width 8, 3 input channels)"`` for a config dict; a placeholder without one."""
    if not isinstance(config, dict):
        return "a model of unknown kind"
    width = config.get("model_width")
    parts = ["default width" if width is None else f"width {width}", f"{config.get('in_channels', 3)} input channels"]
    return f"{config.get('model', '?')} ({', '.join(parts)})"


def weights_mismatch(model: torch.nn.Module, weights: dict) -> str:
    """How a state dict differs from a model's ('' when it fits): counts and a first example."""
    ours = model.state_dict()
    if not isinstance(weights, dict):
        return f"it holds a {type(weights).__name__}, not a state dict"
    missing = [k for k in ours if k not in weights]
    unexpected = [k for k in weights if k not in ours]
    shapes = [k for k in ours if k in weights and hasattr(weights[k], "shape")
              and tuple(weights[k].shape) != tuple(ours[k].shape)]
    parts = []
    if missing:
        parts.append(f"{len(missing)} of the model's {len(ours)} weights missing (e.g. {missing[0]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unknown entries (e.g. {unexpected[0]})")
    if shapes:
        k = shapes[0]
        parts.append(f"{len(shapes)} weights of other shape (e.g. {k}: {tuple(weights[k].shape)} in the file, "
                     f"{tuple(ours[k].shape)} in the model)")
    return ", ".join(parts)


def load_model(checkpoint: str | Path, device: str = "cpu") -> torch.nn.Module:
    """The trained network stored in a checkpoint written by :func:`train` (eval mode)."""
    path = Path(checkpoint)
    if not path.is_file():
        what = "is a folder, not a checkpoint file" if path.is_dir() else "no such checkpoint file"
        raise FileNotFoundError(f"{path}: {what}; give the checkpoint.pt that train wrote in its out_dir")
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # torch raises pickle, zip and runtime errors alike for a bad file
        raise ValueError(f"{path}: not a readable torch checkpoint ({error}); "
                         "give the checkpoint.pt that train wrote in its out_dir") from error
    if not isinstance(state, dict) or not {"config", "model"} <= set(state):
        raise ValueError(f"{path}: not a mattinglib checkpoint (no 'config' and 'model' entries); give the "
                         "checkpoint.pt that train wrote (a released ViT file is a backbone_checkpoint for train)")
    # The stored weights replace any initialisation: do not reload the run's init checkpoints.
    try:
        config = TrainConfig.from_dict(state["config"]).replace(init_checkpoint=None, backbone_checkpoint=None)
    except (KeyError, TypeError, ValueError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        raise ValueError(f"{path}: its stored config is not valid for this version of mattinglib ({message}); "
                         "use the version that wrote it, or retrain") from error
    model = build_model_for(config)
    # A half-precision export (export_model(..., precision="float16")) computes in float32.
    weights = state["model"]
    if isinstance(weights, dict):
        weights = {k: v.float() if isinstance(v, torch.Tensor) and v.dtype == torch.float16 else v
                   for k, v in weights.items()}
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise ValueError(f"{path}: its weights do not fit {describe_model(state['config'])}, the model of its own "
                         f"config: {weights_mismatch(model, state['model'])}; the file was altered or written "
                         "by another version: retrain") from error
    return model.to(device).eval()


#: Precisions :func:`export_model` writes weights in.
EXPORT_PRECISIONS = ("float32", "float16")


def export_model(checkpoint: str | Path, target: str | Path, precision: str = "float32") -> Path:
    """Write a run's trained network alone (weights, config, step), for others to use.

    A training checkpoint also holds the optimiser's state, the history and the RNG state (to
    resume); the exported file keeps what :func:`load_model` needs, about a third of the size.
    ``precision="float16"`` stores the learned weights in half precision (half the size again;
    BatchNorm statistics stay float32): :func:`load_model` turns them back into float32 and
    the network computes in float32, so predictions differ from the float32 file's only by
    the weights' rounding (relative 2**-11). Written atomically; returns ``target``.
    """
    if precision not in EXPORT_PRECISIONS:
        raise ValueError(f"precision must be one of {EXPORT_PRECISIONS}; got {precision!r}")
    load_model(checkpoint)  # the same checks (and messages) as any use of the file
    state = torch.load(Path(checkpoint), map_location="cpu", weights_only=False)
    weights = state["model"]
    if precision == "float16":
        learned = {name for name, _ in load_model(checkpoint).named_parameters()}
        weights = {k: v.half() if k in learned and v.dtype == torch.float32 else v for k, v in weights.items()}
    exported = {"step": state["step"], "model": weights, "config": state["config"]}
    save_atomically(exported | ({"precision": precision} if precision != "float32" else {}), target)
    return Path(target)


__all__ = ["CHECKPOINT", "EXPORT_PRECISIONS", "save_atomically", "save_checkpoint", "checkpoint_step", "describe_model",
           "weights_mismatch", "load_model", "export_model"]
