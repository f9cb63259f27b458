"""One pilot run of a network on the real-image track, scored on the validation and held-out scenes.

A measurement, not part of the study: which encoder of the pretrained family earns its place
(README, "Networks on an ImageNet-pretrained encoder"). The run is the real-image track's `cpu`
configuration (trimap as input) with the model, supervision, steps and learning rate given, one
torch thread, seed 0; the scores are the unknown-region SAD on the six validation scenes and the
five held-out scenes at full size, Trimap1. Needs the scenes under $MATTINGLIB_DATA.

    python scripts/pilot_pretrained.py efficientnet-lite0-unet known+ddc 600 5e-4 runs/pilots [scratch]

``scratch``: the same network with ``pretrained=False`` (the ablation).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from mattinglib.evaluate import evaluate
from mattinglib.study.evalsets import real_scene_sets
from mattinglib.study.profiles import real_track_config
from mattinglib.train import train


def main(model: str, supervision: str, steps: int, lr: float, out: Path, scratch: bool = False) -> dict:
    config = real_track_config("cpu", "trimap-input", model=model, model_width=16 if model == "unet" else None,
                               supervision=supervision, steps=steps, lr=lr, warmup_steps=steps // 10,
                               eval_every=10 ** 9, checkpoint_every=200, threads=1,
                               pretrained=False if scratch else None,
                               out_dir=str(out / f"{model}-{supervision}-{steps}-{lr:g}{'-scratch' if scratch else ''}"))
    start = time.time()
    result = train(config)
    row = {"model": model, "pretrained": not scratch, "supervision": supervision, "steps": steps, "lr": lr,
           "train_s": round(time.time() - start), "steps_per_s": round(result.steps_per_second, 2)}
    for split in ("validation", "test"):
        for name, scenes in real_scene_sets(split=split, trimaps=("Trimap1",)).items():
            sad = evaluate(result.model, scenes, "unknown").per_image["sad"]
            row[name] = round(float(sad.mean()), 2)
            row[f"{name}, per scene"] = [round(float(v), 1) for v in sad]
    print(json.dumps(row))
    return row


if __name__ == "__main__":
    model, supervision, steps, lr, out = sys.argv[1:6]
    main(model, supervision, int(steps), float(lr), Path(out), scratch=sys.argv[6:] == ["scratch"])
