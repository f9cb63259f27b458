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

Errors. Bad input (a missing or malformed file, an unknown config key, a bad value, a folder
that holds another run) is reported in one line on stderr, ``mattinglib: error: FILE: what is
wrong; what to do``, with exit status 2; ``--debug`` (before the command) shows the full
traceback instead. An unexpected failure (a bug) exits with status 1. ``predict`` skips the
images it cannot use, names each on stderr, writes the others, and exits with 2 if it skipped any.
"""
from __future__ import annotations

import argparse
import difflib
import re
import sys
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
    try:
        result = train(cfg)
    except TrainingDiverged as error:
        raise CLIError(f"{cfg.out_dir}: {_one_line(str(error))}") from error
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
        raise CLIError("give exactly one of --checkpoint or --baseline; see python -m mattinglib evaluate --help")
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
    from tqdm.auto import tqdm

    from .predict import predict_folder

    skipped = []

    def on_skip(problem) -> None:
        skipped.extend(problem.paths)
        tqdm.write(f"mattinglib: error: {_one_line(str(problem))} (skipped)", file=sys.stderr)

    # --debug stops at the first unusable image, with its traceback, instead of skipping it.
    written = predict_folder(args.checkpoint, args.input, args.output, trimap_dir=args.trimaps,
                             on_skip=None if args.debug else on_skip, progress=sys.stderr.isatty())
    print(f"wrote {len(written)} alpha mattes to {args.output}"
          + (f"; skipped {len(skipped)} image(s), named on stderr" if skipped else ""))
    return EXIT_BAD_INPUT if skipped else 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m mattinglib", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    debug_help = "show the full traceback of an error instead of one line (predict then stops at its first bad image)"
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
    add_debug(p)
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
        return int(args.func(args) or 0)
    except Exception as error:
        if args.debug:
            raise
        status, text = _report(error)
        print(f"mattinglib: error: {text}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
