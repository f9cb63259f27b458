"""Command line: ``python -m mattinglib matte | train | evaluate | predict | bench``.

Examples
--------
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
traceback instead. An unexpected failure (a bug) exits with status 1. ``matte`` and ``predict``
skip the images they cannot use, name each on stderr, write the others, and exit with 2 if they
skipped any. Warnings of mattinglib (a JPEG trimap snapped, a classical method that returned the
trimap) are one line each on stderr, ``mattinglib: warning: FILE: ...``.
"""
from __future__ import annotations

import argparse
import difflib
import re
import sys
import warnings
from pathlib import Path

#: The exit status of bad input (argparse's for a bad command line); 1 is an unexpected failure.
EXIT_BAD_INPUT = 2


class CLIError(Exception):
    """Bad input found by the command line itself: its one-line message, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors in the one-line form of every other error."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"mattinglib: error: {message}; see {self.prog} --help\n")


def _parse_assignments(pairs: list[str]) -> dict:
    """``["steps=100", "lr=1e-3", "out_dir=runs/x"]`` -> dict; values are JSON when they parse."""
    import json

    values = {}
    for pair in pairs:
        if "=" not in pair:
            raise CLIError(f"--set: expected KEY=VALUE pairs, got {pair!r}; e.g. --set steps=500 lr=1e-3")
        key, text = pair.split("=", 1)
        try:
            values[key] = json.loads(text)
        except json.JSONDecodeError:
            values[key] = text
    return values


def _one_line(text: str) -> str:
    """A message on one line; for an error re-raised from a DataLoader worker, the original one."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Caught ") and "DataLoader worker" in lines[0]:
        return re.sub(r"^[\w.]*(Error|Exception|Problem): ", "", lines[-1])
    return " ".join(lines)


def _build_config(values: dict, sources: dict[str, str], config_file: str | None):
    """``TrainConfig.from_dict(values)``, its errors as one line naming where the key came from.

    ``sources`` maps a key to where it was given (``--set KEY=VALUE``, ``--out-dir``); the
    other keys come from ``config_file``.
    """
    import dataclasses

    from .config import TrainConfig

    def source_of(key: str) -> str:
        return sources.get(key) or config_file or "config"

    try:
        return TrainConfig.from_dict(values)
    except KeyError as error:
        known = [f.name for f in dataclasses.fields(TrainConfig)]
        unknown = [k for k in values if k not in known]
        if not unknown:
            raise
        hints, all_close = [], True
        for key in unknown:
            close = difflib.get_close_matches(key, known, 1)
            all_close &= bool(close)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        where = ", ".join(dict.fromkeys(source_of(k) for k in unknown))
        keys = ("see the fields of TrainConfig in mattinglib/config.py" if all_close
                else f"the keys are: {', '.join(known)}")
        raise CLIError(f"{where}: unknown config key {', '.join(hints)}; fix the name ({keys})") from error
    except (TypeError, ValueError) as error:
        message = re.sub(r"<class '(\w+)'>", r"\1", _one_line(str(error)))
        quoted = re.match(r"config key '(\w+)'", message)
        named = [quoted.group(1)] if quoted else re.findall(r"[a-z_]+", message)
        given = [k for k in named if k in values]
        if not given:
            raise CLIError(f"{config_file or 'config'}: {message}; change the config") from error
        key = given[0]
        where = source_of(key)
        fix = (f"fix {key!r} in {where} or override it with --set {key}=VALUE" if where == config_file
               else f"give {key} another value")
        raise CLIError(f"{where}: {message}; {fix}") from error


def _read_config_file(path: str) -> dict:
    from .io import read_json_object

    try:
        return read_json_object(path, "config file")
    except FileNotFoundError as error:
        raise CLIError(f"{error}; give a JSON file of TrainConfig keys (python -m mattinglib.study "
                       "--profile NAME --show-config > FILE writes one)") from error


def _check_init_checkpoint(cfg) -> None:
    """Refuse an ``init_checkpoint`` of another model in one line naming both models."""
    import torch

    from .build import build_model_for
    from .train import describe_model, weights_mismatch

    path = Path(cfg.init_checkpoint)
    if not path.is_file():
        raise CLIError(f"{path}: no such file (init_checkpoint); give the checkpoint.pt of an earlier run, "
                       "or leave init_checkpoint out")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises pickle, zip and runtime errors alike for a bad file
        raise CLIError(f"{path}: not a readable torch checkpoint ({_one_line(str(error))}); init_checkpoint "
                       "takes a checkpoint.pt written by train") from error
    stored = state.get("config") if isinstance(state, dict) else None
    weights = state["model"] if isinstance(state, dict) and "model" in state else state
    model = build_model_for(cfg.replace(init_checkpoint=None, backbone_checkpoint=None))
    mismatch = weights_mismatch(model, weights)
    if mismatch:
        whose = "from its stored config" if isinstance(stored, dict) else "no config stored with it"
        raise CLIError(f"{path}: init_checkpoint holds {describe_model(stored)} ({whose}) but the config trains "
                       f"{describe_model(cfg.to_dict())}: {mismatch}; give a checkpoint of the same model, or set "
                       "model / model_width / in_channels to its (a released ViT file is a backbone_checkpoint)")


def _check_training_folder(root: Path) -> None:
    """A user's ``images/ trimaps/`` tree: every image without its trimap, listed at once."""
    from .io import IMAGE_EXTENSIONS

    images = root / "images"
    if not images.is_dir():
        raise CLIError(f"{images}: no such folder; a folder dataset holds images/ and trimaps/ "
                       "(and alphas/ for fine supervision) under data_root")
    trimaps = root / "trimaps"
    if not trimaps.is_dir():
        return  # the dataset says what it needs then (alphas/ may stand in)

    def stems(folder: Path) -> dict[str, Path]:
        return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS}

    have = stems(trimaps)
    missing = [path.name for stem, path in stems(images).items() if stem not in have]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise CLIError(f"{trimaps}: no trimap for {len(missing)} image(s) of {images}: {shown}; add "
                       f"{trimaps}/<stem>.png for each, or move those images out")


def _check_train_inputs(cfg) -> None:
    """What can be checked before a run starts (and writes its config.json)."""
    if cfg.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise CLIError(f"device {cfg.device!r}: no CUDA device is available here; set device=cpu "
                           "or run on a machine with a GPU")
    if cfg.dataset != "synthetic" and cfg.data_root:
        root = Path(cfg.data_root)
        if not root.is_dir():
            raise CLIError(f"{root}: no such data folder (data_root); give the folder that holds the data "
                           f"of dataset {cfg.dataset!r}")
        if cfg.dataset == "folder" and cfg.folder_layout == "generic":
            _check_training_folder(root)
    if cfg.init_checkpoint:
        _check_init_checkpoint(cfg)


def _cmd_train(args) -> int:
    from .environment import torchrun_ranks
    from .train import TrainingDiverged, discard_run, train

    values = _read_config_file(args.config) if args.config else {}
    if args.own_images is not None:
        # A user's own folder: the study's real-image regime as defaults (mattinglib.own_images),
        # under the config file and --set, with the thread count chosen from what is free.
        from .own_images import own_images_config

        out_dir = args.out_dir or values.get("out_dir") or str(Path(args.own_images) / "run")
        values = own_images_config(args.own_images, out_dir,
                                   trimaps_at_prediction=not args.image_only).to_dict() | values
    elif args.image_only:
        raise CLIError("--image-only goes with --own-images DIR; for another dataset set in_channels=3")
    assigned = _parse_assignments(args.set)
    sources = {}
    for pair in args.set:
        sources[pair.split("=", 1)[0]] = f"--set {pair}"
    values |= assigned
    if args.out_dir is not None:
        values["out_dir"], sources["out_dir"] = args.out_dir, "--out-dir"
    cfg = _build_config(values, sources, args.config)
    _check_train_inputs(cfg)
    if args.restart:
        removed = discard_run(cfg.out_dir)
        if torchrun_ranks()[0] == 0:
            print(f"mattinglib: --restart: removed {', '.join(p.name for p in removed)} from {cfg.out_dir}"
                  if removed else f"mattinglib: --restart: {cfg.out_dir} held no run; starting fresh",
                  file=sys.stderr)
    if args.own_images is not None and torchrun_ranks()[0] == 0:
        from .own_images import estimate_training_time

        seconds = estimate_training_time(cfg)
        print(f"mattinglib: {cfg.steps} steps of batch {cfg.batch_size} ({cfg.crop_size} px crops, "
              f"{cfg.in_channels} input channels, {cfg.supervision}, lambda {cfg.ddc_weight:g}, {cfg.threads} "
              f"thread(s)): about {seconds / 60:.1f} min on this machine now; a {cfg.holdout_fraction:.0%} share "
              f"of the images is held out and scored every {cfg.eval_every} steps", file=sys.stderr)
    try:
        result = train(cfg)
    except TrainingDiverged as error:
        raise CLIError(f"{cfg.out_dir}: {_one_line(str(error))}") from error
    print(f"{result.steps_per_second:.2f} training steps/s (median, data included)")
    if not result.evaluations.empty:
        print(result.evaluations.tail(1).to_string(index=False))
    return 0


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
        from .train import load_model

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
        tqdm.write(f"mattinglib: error: {_one_line(str(problem))} (skipped)", file=sys.stderr)

    return skipped, on_skip


def _cmd_predict(args) -> int:
    from .predict import predict_folder

    skipped, on_skip = _skip_reporter()
    # --debug stops at the first unusable image, with its traceback, instead of skipping it.
    written = predict_folder(args.checkpoint, args.input, args.output, trimap_dir=args.trimaps,
                             on_skip=None if args.debug else on_skip, progress=sys.stderr.isatty())
    print(f"wrote {len(written)} alpha mattes to {args.output}"
          + (f"; skipped {len(skipped)} image(s), named on stderr" if skipped else ""))
    return EXIT_BAD_INPUT if skipped else 0


def _cmd_matte(args) -> int:
    from .matte import DEFAULT_METHOD, matte_folder

    method = args.method or ("network" if args.checkpoint else DEFAULT_METHOD)
    if method == "network" and args.checkpoint is None:
        raise CLIError("--method network needs --checkpoint PT (a checkpoint.pt written by train); or choose "
                       "ddc-prior, closed-form or knn, which need no training")
    if method != "network" and args.checkpoint is not None:
        raise CLIError(f"--checkpoint is used by --method network only, not {method}; leave it out or give "
                       "--method network")
    skipped, on_skip = _skip_reporter()
    result = matte_folder(args.images, args.trimaps, args.output, method, checkpoint=args.checkpoint,
                          device=args.device, on_skip=None if args.debug else on_skip,
                          progress=sys.stderr.isatty())
    print(f"wrote {len(result.written)} alpha mattes to {args.output}"
          + (f"; skipped {len(skipped)} image(s), named on stderr" if skipped else ""))
    if result.fallbacks:
        print(f"{method} returned the trimap as alpha for {len(result.fallbacks)} image(s) without known "
              "foreground or background, named on stderr")
    if result.written:
        print(f"{method}: {result.seconds_per_megapixel:.3g} s per megapixel ({len(result.written)} image(s), "
              f"{sum(result.megapixels):.2f} MP in {sum(result.seconds):.1f} s; reading and writing excluded)")
    return EXIT_BAD_INPUT if skipped else 0


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

            tqdm.write(f"mattinglib: warning: {_one_line(str(message))}", file=sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    return show


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m mattinglib", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    debug_help = ("show the full traceback of an error instead of one line (matte and predict then stop at "
                  "their first bad image)")
    parser.add_argument("--debug", action="store_true", help=debug_help)
    sub = parser.add_subparsers(dest="command", required=True)

    def add_debug(p):  # also accepted after the command; SUPPRESS keeps the global flag's value
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)

    p = sub.add_parser("train", help="train (or resume) a run from a config",
                       description="Train a matting network. Every key of mattinglib.config.TrainConfig "
                                   "can be set; unknown keys are an error. Rerunning the same command "
                                   "resumes from out_dir/checkpoint.pt. A folder holding a checkpoint of a "
                                   "run with another config is refused (use --out-dir NEW or --restart); "
                                   "one whose run never wrote a checkpoint takes the new config.")
    p.add_argument("--config", help="JSON file of TrainConfig keys (a study profile's: "
                                    "python -m mattinglib.study --profile NAME --show-config > FILE); --set overrides")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override config keys, e.g. --set supervision=fine steps=500 'trimap_width=[3,12]'")
    p.add_argument("--out-dir", help="the run folder (the config's out_dir); overrides --config and --set")
    p.add_argument("--restart", action="store_true",
                   help="discard the run in out_dir (its checkpoint, history and config) and start fresh")
    p.add_argument("--own-images", metavar="DIR",
                   help="train on your own folder DIR (images/, trimaps/, alphas/ optional) with the defaults of "
                        "mattinglib.own_images: the trimap as a 4th input channel, known + DDC, 600 steps of "
                        "128 px crops, a fifth of the images held out and scored; prints a time estimate first. "
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
                                   "skipped, the others written; the exit status is then 2.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="folder of images (png, jpg)")
    p.add_argument("--output", required=True, help="folder for <stem>.png alpha mattes")
    p.add_argument("--trimaps", help="folder of trimaps (<stem>.png), needed by trimap-conditioned models")
    add_debug(p)
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("matte", help="alpha mattes for images and their trimaps, with no training",
                       description="Write an 8-bit alpha PNG for every image of a folder from its trimap, "
                                   "with no training: ddc-prior (the default) optimises the known loss + "
                                   "DDC for each image; closed-form and knn are classical matting; "
                                   "network uses a checkpoint of train. The folder is checked first; "
                                   "images that cannot be used are named on stderr and skipped, the "
                                   "others written; the exit status is then 2. Ends with the method's "
                                   "time per megapixel.")
    p.add_argument("--images", required=True, help="folder of images (png, jpg)")
    p.add_argument("--trimaps", required=True,
                   help="folder of trimaps, <stem>.png (0 background, 128 unknown, 255 foreground)")
    p.add_argument("--output", required=True, help="folder for <stem>.png alpha mattes")
    p.add_argument("--method", choices=list(_matte_methods()),
                   help="ddc-prior (default), closed-form, knn, or network (default when --checkpoint is given)")
    p.add_argument("--checkpoint", help="checkpoint.pt written by train (--method network)")
    p.add_argument("--device", default="cpu", help="where the network runs (--method network)")
    add_debug(p)
    p.set_defaults(func=_cmd_matte)

    # Listed for --help; main() hands "bench ..." to mattinglib.bench's own parser.
    sub.add_parser("bench", help="benchmarks: python -m mattinglib bench ddc (see bench --help)")
    return parser


def _report(error: Exception) -> tuple[int, str]:
    """(exit status, one-line message) of an error that reached the command line."""
    if isinstance(error, CLIError):
        return EXIT_BAD_INPUT, _one_line(str(error))
    if isinstance(error, OSError) and error.filename is not None and str(error).startswith("[Errno"):
        # Raised by Python itself (open, mkdir): "[Errno 2] No such file ...: 'x'" -> "x: No such file ..."
        text = f"{error.filename}: {error.strerror}"
    else:
        text = _one_line(str(error))
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
