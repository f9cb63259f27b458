"""``python -m mattinglib.bench models``: throughput of the networks and of whole training steps.

Per model: its parameter count, training steps per second of the network alone and of whole
known + DDC training steps with data (synthetic composites and neighbours, evaluation
excluded), and the seconds of one inference, each with its ratio against the first model; then
the inference time per megapixel in PyTorch and, for the same network exported to ONNX
(:mod:`mattinglib.onnx_export`), in ONNX Runtime, with their ratio. Times are taken in this
process with ``--threads`` torch threads (ONNX Runtime: as many intra-op threads).
"""
from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn as nn

from ..config import TrainConfig
from ..train import param_groups, train_step
from .record import write_report


def measure_throughput(model: nn.Module, size: tuple[int, int] = (128, 128), batch: int = 8,
                       steps: int = 5, train: bool = False, warmup: int = 1, seed: int = 0) -> float:
    """Images per second of ``model`` on random input, on the model's device.

    Parameters
    ----------
    model : nn.Module
        A network mapping (B, C, H, W) in [0, 1] to alpha (B, 1, H, W); ``C`` is read from its
        ``in_channels`` attribute (3 when it has none).
    size : (int, int)
        Input height and width in pixels.
    batch : int
        Images per step.
    steps : int
        Timed steps (>= 1).
    train : bool
        False: forward only, under ``torch.no_grad`` in eval mode. True: the project's training
        step (:func:`mattinglib.train.train_step`: forward, here an L1 loss to a random target
        instead of a matting loss, backward, AdamW at lr 1e-4, no clipping), in train mode, on
        a deep copy of the model so that the caller's weights are left untouched.
    warmup : int
        Untimed steps run first (allocator and kernel-selection warm-up).
    seed : int
        Seed of the random input and target.

    Returns
    -------
    float
        ``batch * steps / seconds`` in images per second (steps per second = this / batch).
    """
    if steps < 1 or batch < 1 or warmup < 0:
        raise ValueError(f"steps and batch must be >= 1 and warmup >= 0; got steps={steps}, "
                         f"batch={batch}, warmup={warmup}")
    height, width = size
    in_channels = getattr(model, "in_channels", 3)
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, in_channels, height, width, generator=generator).to(device)

    if not train:
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                for _ in range(warmup):
                    model(image)
                start = time.perf_counter()
                for _ in range(steps):
                    model(image)
                elapsed = time.perf_counter() - start
        finally:
            model.train(was_training)
        return batch * steps / elapsed

    trained = copy.deepcopy(model).train()
    # The input's 4th channel (when the network takes one) is given as the trimap: model_input
    # puts it back behind the image.
    samples = {"image": image[:, :3], "trimap": image[:, 3:] if in_channels == 4 else None,
               "alpha": torch.rand(batch, 1, height, width, generator=generator).to(device)}
    config = TrainConfig(supervision="fine", in_channels=in_channels, lr=1e-4, warmup_steps=0, grad_clip=0.0)
    optimizer = torch.optim.AdamW(param_groups(trained, config), lr=config.lr)
    criterion = _L1ToTarget()
    for step in range(warmup):
        train_step(trained, optimizer, criterion, samples, config, step)
    start = time.perf_counter()
    for step in range(warmup, warmup + steps):
        train_step(trained, optimizer, criterion, samples, config, step)
    elapsed = time.perf_counter() - start
    return batch * steps / elapsed


class _L1ToTarget:
    """Mean |pred - alpha|, in the criterion's form: a loss that costs next to nothing, so that
    :func:`measure_throughput` times the network."""

    weights: dict = {}

    def __call__(self, pred: torch.Tensor, batch: dict, weights: dict | None = None) -> dict[str, torch.Tensor]:
        return {"total": (pred - batch["alpha"]).abs().mean()}


def add_models_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", nargs="+", default=["unet:16", "unet:32", "vitmatte-tiny"],
                        help="NAME or unet:WIDTH; the first is the baseline of the ratios")
    parser.add_argument("--crop", type=int, default=96, help="training crop side (px)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per model")
    parser.add_argument("--image", type=int, nargs=2, default=[600, 800], metavar=("H", "W"),
                        help="inference image size (px)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-onnx", action="store_true", help="leave out the ONNX Runtime column")
    parser.add_argument("--json", help="also write the numbers here")


def run_models(args: argparse.Namespace) -> dict:
    """Parameters, training steps/s (network alone, and whole known+DDC steps with data) and
    inference seconds of each model, with ratios against the first."""
    import tempfile

    from ..models import build_model, count_parameters
    from ..train import train

    torch.set_num_threads(args.threads)
    rows = []
    for spec in args.models:
        name, _, width = spec.partition(":")
        overrides = {"width": int(width)} if width else {}
        model = build_model(name, **overrides)
        network_steps = measure_throughput(model, (args.crop, args.crop), batch=args.batch, steps=args.steps,
                                           train=True) / args.batch
        image = torch.rand(1, 3, *args.image)
        model.eval()
        with torch.no_grad():
            model(image)  # warm-up
            start = time.perf_counter()
            model(image)
            infer = time.perf_counter() - start
        cfg = TrainConfig(model=name, model_width=overrides.get("width"), crop_size=args.crop,
                          image_size=args.crop + 32, batch_size=args.batch, warmup_steps=1, test_length=1,
                          eval_every=10 ** 6, checkpoint_every=10 ** 6, progress=False, threads=args.threads)

        with tempfile.TemporaryDirectory() as tmp:
            train(cfg.replace(steps=3, out_dir=tmp))  # JIT and allocator warm-up
        with tempfile.TemporaryDirectory() as tmp:
            full_steps = train(cfg.replace(steps=args.steps + 2, out_dir=tmp)).steps_per_second
        row = {"model": spec, "parameters": count_parameters(model), "network_steps_per_s": network_steps,
               "train_steps_per_s": full_steps, "inference_s": infer}
        if not args.no_onnx:
            row["onnx_inference_s"] = _onnx_inference_seconds(model, cfg, image, args.threads)
        rows.append(row)
    base = rows[0]
    print(f"threads {args.threads}, batch {args.batch}, crop {args.crop} px, known+DDC steps with data "
          f"(synthetic composites, neighbours, evaluation excluded); inference on {args.image[1]}x{args.image[0]}")
    print(f"{'model':>24} {'params':>10} {'net steps/s':>12} {'train steps/s':>14} {'ratio':>7} "
          f"{'infer (s)':>10} {'ratio':>7}")
    for r in rows:
        print(f"{r['model']:>24} {r['parameters']:>10,} {r['network_steps_per_s']:>12.2f} "
              f"{r['train_steps_per_s']:>14.2f} {r['train_steps_per_s'] / base['train_steps_per_s']:>6.2f}x "
              f"{r['inference_s']:>10.3f} {r['inference_s'] / base['inference_s']:>6.2f}x")
    megapixels = args.image[0] * args.image[1] / 1e6
    if not args.no_onnx:
        print(f"\ninference per megapixel, the same network in PyTorch and in ONNX Runtime ({args.threads} threads)")
        print(f"{'model':>24} {'torch s/MP':>11} {'onnx s/MP':>10} {'onnx x torch':>13}")
        for r in rows:
            print(f"{r['model']:>24} {r['inference_s'] / megapixels:>11.3f} {r['onnx_inference_s'] / megapixels:>10.3f} "
                  f"{r['inference_s'] / r['onnx_inference_s']:>12.2f}x")
    result = {"rows": rows}
    if args.json:
        write_report(args.json, result, "models", args, indent=2)
    return result


def print_report(report: dict) -> None:
    """Print a saved report's rows, one line each (its numbers, without :func:`run_models`'s layout)."""
    for row in report.get("rows", []):
        print("  " + ", ".join(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
                               for key, value in row.items()))


def _onnx_inference_seconds(model, config, image, threads: int) -> float:
    """Seconds of one ONNX Runtime inference of ``model`` (exported through a temporary checkpoint) on ``image``."""
    import tempfile
    from pathlib import Path

    from ..onnx_export import export_onnx, onnx_network

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "model.pt"
        torch.save({"step": 0, "model": model.state_dict(), "config": config.to_dict()}, checkpoint)
        export_onnx(checkpoint, Path(tmp) / "model.onnx")
        network = onnx_network(Path(tmp) / "model.onnx", threads=threads)
        network(image)  # warm-up
        start = time.perf_counter()
        network(image)
        return time.perf_counter() - start
