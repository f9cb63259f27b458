"""``python -m mattinglib train``: a run's config from a file, ``--set`` and ``--own-images``, checked
before the run starts, each problem in one line naming where the bad value came from."""
from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path

from .cli_errors import CLIError, one_line


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
        message = re.sub(r"<class '(\w+)'>", r"\1", one_line(str(error)))
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
    from .checkpoints import describe_model, weights_mismatch

    path = Path(cfg.init_checkpoint)
    if not path.is_file():
        raise CLIError(f"{path}: no such file (init_checkpoint); give the checkpoint.pt of an earlier run, "
                       "or leave init_checkpoint out")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises pickle, zip and runtime errors alike for a bad file
        raise CLIError(f"{path}: not a readable torch checkpoint ({one_line(str(error))}); init_checkpoint "
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
        if cfg.own_folder:
            _check_training_folder(root)
    if cfg.init_checkpoint:
        _check_init_checkpoint(cfg)


def run_train_command(args) -> int:
    from .environment import torchrun_ranks
    from .train import TrainingDiverged, discard_run, train

    values = _read_config_file(args.config) if args.config else {}
    if args.own_images is not None:
        # A user's own folder: the study's pretrained real-image network as defaults (mattinglib.own_images),
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
        from .models import PRETRAINED_ENCODER_OF
        from .own_images import estimate_training_time

        seconds = estimate_training_time(cfg)
        encoder = PRETRAINED_ENCODER_OF.get(cfg.model)
        start = (f"from {encoder}'s ImageNet weights" if encoder and cfg.pretrained is not False else
                 "from random weights")
        print(f"mattinglib: {cfg.model}, {start}: {cfg.steps} steps of batch {cfg.batch_size} "
              f"({cfg.crop_size} px crops, "
              f"{cfg.in_channels} input channels, {cfg.supervision}, lambda {cfg.ddc_weight:g}, {cfg.threads} "
              f"thread(s)): about {seconds / 60:.1f} min on this machine now; a {cfg.holdout_fraction:.0%} share "
              f"of the images is held out and scored every {cfg.eval_every} steps", file=sys.stderr)
    try:
        result = train(cfg)
    except TrainingDiverged as error:
        raise CLIError(f"{cfg.out_dir}: {one_line(str(error))}") from error
    print(f"{result.steps_per_second:.2f} training steps/s (median, data included)")
    if not result.evaluations.empty:
        print(result.evaluations.tail(1).to_string(index=False))
    return 0
