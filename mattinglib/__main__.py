"""Command line: ``python -m mattinglib train | evaluate | predict | bench``.

Examples
--------
Train the default trimap-only run (known + 10 DDC) and write it to runs/ddc::

    python -m mattinglib train --set supervision=known+ddc steps=3000 out_dir=runs/ddc

The paper's own set-up (ViTMatte-S on AM-2K under $MATTINGLIB_DATA/AM-2K, on a GPU), from the
study's ``paper`` profile::

    python -m mattinglib.study --profile paper --show-config > paper.json
    python -m mattinglib train --config paper.json --set backbone_checkpoint=dino_deitsmall16_pretrain.pth \\
        out_dir=runs/paper-ddc

Score it on the 27 real alphamatting.com scenes with the unknown-region protocol::

    python -m mattinglib evaluate --checkpoint runs/ddc/checkpoint.pt --dataset alphamatting \\
        --protocol unknown --csv runs/ddc/alphamatting.csv

Alpha mattes for a folder of your own photos::

    python -m mattinglib predict --checkpoint runs/ddc/checkpoint.pt --input photos/ --output alphas/
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _parse_assignments(pairs: list[str]) -> dict:
    """``["steps=100", "lr=1e-3", "out_dir=runs/x"]`` -> dict; values are JSON when they parse."""
    values = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"--set takes key=value pairs, got {pair!r}")
        key, text = pair.split("=", 1)
        try:
            values[key] = json.loads(text)
        except json.JSONDecodeError:
            values[key] = text
    return values


def _cmd_train(args) -> int:
    from .config import TrainConfig
    from .train import train

    values = json.loads(Path(args.config).read_text()) if args.config else {}
    values |= _parse_assignments(args.set)
    result = train(TrainConfig.from_dict(values))
    print(f"{result.steps_per_second:.2f} training steps/s (median, data included)")
    if not result.evaluations.empty:
        print(result.evaluations.tail(1).to_string(index=False))
    return 0


def _cmd_evaluate(args) -> int:
    from .baselines import baseline_predictor
    from .evaluate import evaluate
    from .build import build_eval_set
    from .train import load_model

    if (args.checkpoint is None) == (args.baseline is None):
        raise SystemExit("give exactly one of --checkpoint or --baseline")
    predictor = load_model(args.checkpoint) if args.checkpoint else baseline_predictor(args.baseline)
    dataset = build_eval_set(args.dataset, data_root=args.data_root, trimap=args.trimap,
                             checkpoint=args.checkpoint)
    result = evaluate(predictor, dataset, args.protocol, progress=True)
    print(result.per_image.to_string(index=False))
    print(f"\nmean ({args.protocol} protocol, {len(dataset)} images)")
    print(result.mean.to_string())
    if args.csv:
        from .atomic import atomic_path
        with atomic_path(args.csv) as tmp:
            result.per_image.to_csv(tmp, index=False)
    return 0


def _cmd_predict(args) -> int:
    from .predict import predict_folder

    written = predict_folder(args.checkpoint, args.input, args.output, trimap_dir=args.trimaps)
    print(f"wrote {len(written)} alpha mattes to {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mattinglib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train (or resume) a run from a config",
                       description="Train a matting network. Every key of mattinglib.config.TrainConfig "
                                   "can be set; unknown keys are an error. Rerunning the same command "
                                   "resumes from out_dir/checkpoint.pt.")
    p.add_argument("--config", help="JSON file of TrainConfig keys (a study profile's: "
                                    "python -m mattinglib.study --profile NAME --show-config > FILE); --set overrides")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override config keys, e.g. --set supervision=fine steps=500 'trimap_width=[3,12]'")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="score a checkpoint or a classical baseline",
                       description="Score a trained network (--checkpoint) or a classical method given the "
                                   "test trimap (--baseline) on a dataset, per image and on average.")
    p.add_argument("--checkpoint", help="checkpoint.pt written by train")
    p.add_argument("--baseline", choices=["closed-form", "knn", "large-kernel", "trimap"])
    p.add_argument("--dataset", default="test", choices=["test", "alphamatting"],
                   help="'test': the held-out set of the checkpoint's own config; 'alphamatting': the 27 real scenes")
    p.add_argument("--data-root", help="data root (default: $MATTINGLIB_DATA)")
    p.add_argument("--trimap", default="Trimap1", choices=["Trimap1", "Trimap2"],
                   help="which alphamatting.com trimap scores the unknown region")
    p.add_argument("--protocol", default="whole", choices=["whole", "unknown"])
    p.add_argument("--csv", help="write the per-image table here")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="write alpha mattes for a folder of images",
                       description="Predict an 8-bit alpha PNG for every image of a folder.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="folder of images (png, jpg)")
    p.add_argument("--output", required=True, help="folder for <stem>.png alpha mattes")
    p.add_argument("--trimaps", help="folder of trimaps (<stem>.png), needed by trimap-conditioned models")
    p.set_defaults(func=_cmd_predict)

    # Listed for --help; main() hands "bench ..." to mattinglib.bench's own parser.
    sub.add_parser("bench", help="benchmarks: python -m mattinglib bench ddc (see bench --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        from . import bench
        bench.main(argv[1:])
        return 0
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
