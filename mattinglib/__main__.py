"""Command line: ``python -m mattinglib matte | trimap | train | config | evaluate | predict | bench``.

Examples
--------
Trimaps from your object masks (an unknown band of 10 px on each side of the boundary)::

    python -m mattinglib trimap --masks masks/ --output trimaps/ --band 10

Alpha mattes for a folder of your own photos and their trimaps, with no training (the DDC
loss as a per-image prior; ``--method closed-form | knn`` for classical matting)::

    python -m mattinglib matte --images photos/ --trimaps trimaps/ --output alphas/

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

Alpha mattes for a folder of your own photos from a trained network::

    python -m mattinglib predict --checkpoint runs/ddc/checkpoint.pt --input photos/ --output alphas/

Score a method on your own images with their true alphas::

    python -m mattinglib evaluate --method ddc-prior --images photos/ --alphas true_alphas/ --trimaps trimaps/

Errors. Bad input (a missing or malformed file, an unknown config key, a bad value, a folder
that holds another run) is reported in one line on stderr, ``mattinglib: error: FILE: what is
wrong; what to do``, with exit status 2; ``--debug`` (before the command) shows the full
traceback instead. An unexpected failure (a bug) exits with status 1. ``matte``, ``predict`` and
``trimap`` skip the files they cannot use, name each on stderr, write the others, and exit with 2
if they skipped any. Warnings of mattinglib (a JPEG trimap snapped, a classical method that returned the
trimap) are one line each on stderr, ``mattinglib: warning: FILE: ...``.
"""
from __future__ import annotations

import argparse
import sys
import textwrap
import warnings
from pathlib import Path

from .cli_errors import EXIT_BAD_INPUT, CLIError, one_line
from .cli_train import run_train_command as _cmd_train


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors in the one-line form of every other error."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"mattinglib: error: {message}; see {self.prog} --help\n")


def _evaluation_predictor(args):
    """The predictor ``evaluate`` scores: exactly one of --checkpoint, --baseline, --method."""
    if args.method is not None:
        if args.baseline is not None:
            raise CLIError("give one of --method or --baseline, not both; see python -m mattinglib evaluate --help")
        if (args.method == "network") != (args.checkpoint is not None):
            raise CLIError("--method network needs --checkpoint PT (a checkpoint.pt written by train)"
                           if args.checkpoint is None else
                           f"--checkpoint is used by --method network only, not {args.method}; leave it out")
        from .matte import matte_predictor

        return matte_predictor(args.method, args.checkpoint, progress=sys.stderr.isatty())
    if (args.checkpoint is None) == (args.baseline is None):
        raise CLIError("give exactly one of --checkpoint, --baseline or --method; see python -m mattinglib "
                       "evaluate --help")
    if args.checkpoint:
        from .checkpoints import load_model

        return load_model(args.checkpoint)
    from .baselines import baseline_predictor

    return baseline_predictor(args.baseline)


def _evaluation_set(args):
    """(dataset, "" or " of FOLDER") that ``evaluate`` scores: a named set, or the user's own folders."""
    folders = {"--images": args.images, "--alphas": args.alphas, "--trimaps": args.trimaps}
    if any(folders.values()):
        lacking = [flag for flag, value in folders.items() if not value]
        if lacking:
            raise CLIError(f"scoring your own folders needs {', '.join(lacking)} too: --images DIR --alphas DIR "
                           "--trimaps DIR (true alphas and trimaps of the same stems)")
        if args.dataset is not None:
            raise CLIError(f"give --dataset {args.dataset} or --images/--alphas/--trimaps, not both")
        from .predict import user_scoring_set

        return user_scoring_set(args.images, args.alphas, args.trimaps), f" of {args.images}"
    from .build import build_eval_set

    name = args.dataset or "test"
    return build_eval_set(name, data_root=args.data_root, trimap=args.trimap, checkpoint=args.checkpoint), ""


def _cmd_evaluate(args) -> int:
    from .evaluate import evaluate

    predictor = _evaluation_predictor(args)
    dataset, where = _evaluation_set(args)
    result = evaluate(predictor, dataset, args.protocol, progress=sys.stderr.isatty())
    print(result.per_image.to_string(index=False))
    print(f"\nmean ({args.protocol} protocol, {len(dataset)} images{where})")
    print(result.mean.to_string())
    if args.csv:
        from .atomic import atomic_path
        with atomic_path(args.csv) as tmp:
            result.per_image.to_csv(tmp, index=False)
    return 0


def _skip_reporter():
    """(list of skipped images, ``on_skip`` that names each problem on stderr and records its images)."""
    from tqdm.auto import tqdm

    skipped = []

    def on_skip(problem) -> None:
        skipped.extend(problem.paths)
        tqdm.write(f"mattinglib: error: {one_line(str(problem))} (skipped)", file=sys.stderr)

    return skipped, on_skip


def _cmd_predict(args) -> int:
    from .default_networks import announce_default
    from .predict import predict_folder_result

    # No --checkpoint / --onnx: the best committed network of the real-image track for this input, named.
    network = args.onnx or args.checkpoint or announce_default(trimap_given=args.trimaps is not None)
    skipped, on_skip = _skip_reporter()
    # --debug stops at the first unusable image, with its traceback, instead of skipping it.
    result = predict_folder_result(network, args.input, args.output, trimap_dir=args.trimaps,
                                   on_skip=None if args.debug else on_skip, progress=sys.stderr.isatty(),
                                   max_tile_pixels=args.tile_pixels)
    print(f"wrote {len(result.written)} alpha mattes to {args.output}"
          + (f"; skipped {len(skipped)} image(s), named on stderr" if skipped else ""))
    _print_speed("onnx" if args.onnx else "network", result)
    return EXIT_BAD_INPUT if skipped else 0


def _print_speed(method: str, result) -> None:
    """The time per megapixel of a FolderResult (matte, predict)."""
    if result.written:
        print(f"{method}: {result.seconds_per_megapixel:.3g} s per megapixel ({len(result.written)} image(s), "
              f"{sum(result.megapixels):.2f} MP in {sum(result.seconds):.1f} s; reading and writing excluded)")


def _cmd_export(args) -> int:
    from .onnx_export import export_onnx

    diff = export_onnx(args.checkpoint, args.onnx)  # onnx missing: a ValueError saying how to install it
    print(f"wrote {args.onnx} (ONNX, dynamic height / width); against PyTorch on a 509 x 387 photo: max |diff| {diff:.2e}")
    return 0


def _cmd_matte(args) -> int:
    from .matte import DEFAULT_METHOD, matte_folder

    method = args.method or ("network" if args.checkpoint else DEFAULT_METHOD)
    if method == "network" and args.checkpoint is None:  # the best committed trimap-input network, named
        from .default_networks import announce_default

        args.checkpoint = announce_default(trimap_given=True)
    elif method != "network" and args.checkpoint is not None:
        raise CLIError(f"--checkpoint is used by --method network only, not {method}; leave it out or give "
                       "--method network")
    skipped, on_skip = _skip_reporter()
    result = matte_folder(args.images, args.trimaps, args.output, method, checkpoint=args.checkpoint,
                          device=args.device, on_skip=None if args.debug else on_skip,
                          progress=sys.stderr.isatty(), max_tile_pixels=args.tile_pixels)
    print(f"wrote {len(result.written)} alpha mattes to {args.output}"
          + (f"; skipped {len(skipped)} image(s), named on stderr" if skipped else ""))
    if result.fallbacks:
        print(f"{method} returned the trimap as alpha for {len(result.fallbacks)} image(s) without known "
              "foreground or background, named on stderr")
    _print_speed(method, result)
    return EXIT_BAD_INPUT if skipped else 0


def _cmd_trimap(args) -> int:
    from .make_trimaps import trimap_folder

    skipped, on_skip = _skip_reporter()
    result = trimap_folder(args.output, args.masks, args.alphas, args.band, args.band_fraction, args.label, args.seed,
                           on_skip=None if args.debug else on_skip, progress=sys.stderr.isatty())
    print(result.summary(args.output) + (f"; skipped {len(skipped)} file(s), named on stderr" if skipped else ""))
    return EXIT_BAD_INPUT if skipped else 0


def _cmd_config(args) -> int:
    from .config import format_keys

    print(format_keys(as_json=args.json))
    return 0


def _matte_methods() -> tuple[str, ...]:
    # Imported when the parser is built: matte's import is light (torch, the losses).
    from .matte import METHODS

    return METHODS


def _one_line_warnings(previous):
    """A ``warnings.showwarning`` that prints mattinglib's own warnings as one line on stderr.

    Those (a JPEG trimap snapped, a classical method that returned the trimap) name their file
    already; the usual two-line form with our source line adds nothing. tqdm.write keeps any
    progress bar intact. Warnings from elsewhere go to ``previous``.
    """
    package = Path(__file__).resolve().parent

    def show(message, category, filename, lineno, file=None, line=None):
        if Path(filename).resolve().is_relative_to(package):
            from tqdm.auto import tqdm

            tqdm.write(f"mattinglib: warning: {one_line(str(message))}", file=sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    return show


def build_parser() -> argparse.ArgumentParser:
    from .config import LABELS, TrainConfig, format_supervisions  # light, as matte's import below
    from .make_trimaps import DEFAULT_BAND
    from .tiling import DEFAULT_TILE_PIXELS, tile_pixels  # light: torch alone

    tile_help = (f"larger images go in overlapping tiles of at most N pixels, blended without seams (memory "
                 f"bounded; default {DEFAULT_TILE_PIXELS}; 0: always in one piece)")

    parser = _Parser(prog="python -m mattinglib", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    debug_help = ("show the full traceback of an error instead of one line (matte and predict then stop at "
                  "their first bad image)")
    parser.add_argument("--debug", action="store_true", help=debug_help)
    sub = parser.add_subparsers(dest="command", required=True)

    def add_debug(p):  # also accepted after the command; SUPPRESS keeps the global flag's value
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)

    p = sub.add_parser("train", help="train (or resume) a run from a config",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=format_supervisions(),
                       description=textwrap.fill(
                           "Train a matting network. Every key of mattinglib.config.TrainConfig can be set (python -m "
                           "mattinglib config lists them); unknown keys are an error. Rerunning the same command "
                           "resumes from out_dir/checkpoint.pt. A folder holding a checkpoint of a run with another "
                           "config is refused (use --out-dir NEW or --restart); one whose run never wrote a "
                           "checkpoint takes the new config.", 88))
    p.add_argument("--config", help="JSON file of TrainConfig keys (a study profile's: "
                                    "python -m mattinglib.study --profile NAME --show-config > FILE); --set overrides")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override config keys, e.g. --set supervision=fine steps=500 'trimap_width=[3,12]'")
    p.add_argument("--out-dir", help="the run folder (the config's out_dir); overrides --config and --set")
    p.add_argument("--restart", action="store_true",
                   help="discard the run in out_dir (its checkpoint, history and config) and start fresh")
    p.add_argument("--own-images", metavar="DIR",
                   help="train on your own folder DIR (images/, trimaps/, alphas/ optional) with the defaults of "
                        "mattinglib.own_images: MobileNetV2 U-Net from ImageNet weights, the trimap as a 4th input "
                        "channel, known + DDC, 600 steps of 128 px crops, a fifth of the images held out and scored; "
                        "prints a time estimate first. "
                        "out_dir defaults to DIR/run; --config and --set override")
    p.add_argument("--image-only", action="store_true",
                   help="with --own-images: a network that sees the image alone (no trimap at prediction time)")
    add_debug(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="score a checkpoint, a classical baseline or a matte method",
                       description="Score a trained network (--checkpoint), a classical method given the "
                                   "test trimap (--baseline) or a method of matte (--method, what matte "
                                   "writes: the trimap's known pixels kept) on a dataset, per image and on "
                                   "average. The dataset is a named one (--dataset) or your own folders "
                                   "(--images, --alphas, --trimaps: files of the same stems and sizes; "
                                   "every image without its alpha or trimap is listed at once).")
    p.add_argument("--checkpoint", help="checkpoint.pt written by train")
    p.add_argument("--baseline", choices=["closed-form", "knn", "large-kernel", "trimap"])
    p.add_argument("--method", choices=list(_matte_methods()),
                   help="a method of matte (network: give --checkpoint too)")
    p.add_argument("--dataset", choices=["test", "alphamatting"],
                   help="'test' (the default): the held-out set of the checkpoint's own config; "
                        "'alphamatting': the 27 real scenes")
    p.add_argument("--images", help="your own folder of images (with --alphas and --trimaps)")
    p.add_argument("--alphas", help="folder of the images' true alpha mattes (<stem>.png)")
    p.add_argument("--trimaps", help="folder of the images' trimaps (<stem>.png)")
    p.add_argument("--data-root", help="data root (default: $MATTINGLIB_DATA)")
    p.add_argument("--trimap", default="Trimap1", choices=["Trimap1", "Trimap2"],
                   help="which alphamatting.com trimap scores the unknown region")
    p.add_argument("--protocol", default="whole", choices=["whole", "unknown"])
    p.add_argument("--csv", help="write the per-image table here")
    add_debug(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="write alpha mattes for a folder of images",
                       description="Predict an 8-bit alpha PNG for every image of a folder. The folder is "
                                   "checked first; images that cannot be used are named on stderr and "
                                   "skipped, the others written; the exit status is then 2. Ends with the "
                                   "network's time per megapixel.")
    network = p.add_mutually_exclusive_group()
    network.add_argument("--checkpoint", help="checkpoint.pt written by train (default: the best committed network "
                         "of the real-image track: the trimap-input one with --trimaps, else the image-only one)")
    network.add_argument("--onnx", metavar="FILE", help="instead of --checkpoint: an ONNX model written by export")
    p.add_argument("--input", required=True, help="folder of images (png, jpg)")
    p.add_argument("--output", required=True, help="folder for <stem>.png alpha mattes")
    p.add_argument("--trimaps", help="folder of trimaps (<stem>.png), needed by trimap-conditioned models")
    p.add_argument("--tile-pixels", type=tile_pixels, default=DEFAULT_TILE_PIXELS, metavar="N", help=tile_help)
    add_debug(p)
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("matte", help="alpha mattes for images and their trimaps, with no training",
                       description="Write an 8-bit alpha PNG for every image of a folder from its trimap, "
                                   "with no training: ddc-prior (the default) optimises the known loss + "
                                   "DDC for each image; closed-form and knn are classical matting; "
                                   "network uses a checkpoint of train (without --checkpoint: the best "
                                   "committed trimap-input network, named on stderr). The folder is checked first; "
                                   "images that cannot be used are named on stderr and skipped, the "
                                   "others written; the exit status is then 2. Ends with the method's "
                                   "time per megapixel.")
    p.add_argument("--images", required=True, help="folder of images (png, jpg)")
    p.add_argument("--trimaps", required=True,
                   help="folder of trimaps, <stem>.png (0 background, 128 unknown, 255 foreground)")
    p.add_argument("--output", required=True, help="folder for <stem>.png alpha mattes")
    p.add_argument("--method", choices=list(_matte_methods()),
                   help="ddc-prior (default), closed-form, knn, or network (default when --checkpoint is given)")
    p.add_argument("--checkpoint", help="checkpoint.pt written by train (--method network; default: the best "
                   "committed trimap-input network of the real-image track)")
    p.add_argument("--device", default="cpu", help="where the network runs (--method network)")
    p.add_argument("--tile-pixels", type=tile_pixels, default=DEFAULT_TILE_PIXELS, metavar="N",
                   help=f"--method network: {tile_help}")
    add_debug(p)
    p.set_defaults(func=_cmd_matte)

    p = sub.add_parser("trimap", help="trimaps (0 / 128 / 255 PNG) from your object masks or true alphas",
                       description="A trimap <stem>.png for every mask of --masks (binarised at 0.5; an unknown band "
                                   "along its boundary) or true alpha of --alphas (the study's label generator). "
                                   "Unusable files are named on stderr and skipped; the exit status is then 2.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--masks", help="folder of object masks (white = object; grey or soft masks welcome)")
    source.add_argument("--alphas", help="folder of true alpha mattes: trimaps drawn as the study draws its labels")
    p.add_argument("--output", required=True, help="folder for <stem>.png trimaps (not the input folder)")
    width, (low, high) = p.add_mutually_exclusive_group(), TrainConfig.trimap_width
    width.add_argument("--band", type=int, metavar="PX", help=f"unknown band in px per side (masks: default "
                       f"{DEFAULT_BAND}; alphas: a fixed width instead of one drawn in {low}-{high})")
    width.add_argument("--band-fraction", type=float, metavar="F",
                       help="masks: band per side = F x sqrt(foreground area in px), at least 1 px")
    p.add_argument("--label", default="trimap", choices=LABELS, help="alphas: the label kind drawn (default trimap)")
    p.add_argument("--seed", type=int, default=0, help="alphas: seed of the drawn widths (default 0)")
    add_debug(p)
    p.set_defaults(func=_cmd_trimap)

    p = sub.add_parser("config", help="every training config key: its default, allowed values and meaning")
    p.add_argument("--json", action="store_true", help="print the same as a JSON list")
    add_debug(p)
    p.set_defaults(func=_cmd_config)

    p = sub.add_parser("export", help="write a checkpoint's network as an ONNX model (needs onnx, onnxruntime)",
                       description="Write a checkpoint's network as ONNX (dynamic height and width, padded inside "
                                   "the graph), checked against PyTorch on a photo. predict --onnx FILE runs it.")
    p.add_argument("--checkpoint", required=True, help="checkpoint.pt written by train")
    p.add_argument("--onnx", required=True, metavar="OUT", help="the .onnx file to write")
    add_debug(p)
    p.set_defaults(func=_cmd_export)

    # Listed for --help; main() hands "bench ..." to mattinglib.bench's own parser.
    sub.add_parser("bench", help="benchmarks: python -m mattinglib bench ddc (see bench --help)")
    return parser


def _report(error: Exception) -> tuple[int, str]:
    """(exit status, one-line message) of an error that reached the command line."""
    if isinstance(error, CLIError):
        return EXIT_BAD_INPUT, one_line(str(error))
    if isinstance(error, OSError) and error.filename is not None and str(error).startswith("[Errno"):
        # Raised by Python itself (open, mkdir): "[Errno 2] No such file ...: 'x'" -> "x: No such file ..."
        text = f"{error.filename}: {error.strerror}"
    else:
        text = one_line(str(error))
    if isinstance(error, (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
                          PermissionError, FileExistsError)):
        return EXIT_BAD_INPUT, text
    return 1, (f"unexpected {type(error).__name__}: {text}; rerun with --debug for the traceback "
               "(and report it if the input looks right)")


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv``; returns the exit status (errors are reported, not raised)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        from . import bench
        bench.main(argv[1:])
        return 0
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error (2), already printed
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else EXIT_BAD_INPUT)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(warnings.showwarning)
            return int(args.func(args) or 0)
    except Exception as error:
        if args.debug:
            raise
        status, text = _report(error)
        print(f"mattinglib: error: {text}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
