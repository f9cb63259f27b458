"""The three scales of every experiment: ``smoke``, ``cpu`` and ``paper``.

A profile's settings as a config file for ``python -m mattinglib train --config FILE``::

    python -m mattinglib.study --profile paper --show-config > paper.json

Same code, parameters only: each network notebook builds its runs from
:func:`base_config` of its ``PROFILE`` and changes only what its experiment is about.

``smoke``
    Seconds; run by the tests (tiny images, a width-8 U-Net, a handful of steps).
``cpu``
    The default, what ``results/`` shows: a width-16 U-Net (0.23 M parameters) on 64 px crops
    of 96 px synthetic composites, 600 steps of batch 8, ~2 min per run on 2 cores.
``paper``
    SPEC.md's set-up: ViTMatte-S from a DINO ViT-S/16 checkpoint, AM-2K with trimaps drawn
    from its alphas the way the public release draws them, 512 px crops, batch 32, 5,625
    iterations, AdamW 5e-4 with layer decay 0.65, lambda = 10, on a GPU; real-foreground
    composites for scoring at 640 px.
"""
from __future__ import annotations

from mattinglib.config import TrainConfig

#: Settings shared by every run of a profile (the rest are TrainConfig's defaults).
BASES: dict[str, dict] = {
    "smoke": dict(image_size=56, crop_size=48, model_width=8, steps=4, batch_size=2, warmup_steps=1,
                  train_length=16, test_length=3, kernel_size=5, topk=5, ddc_weight=1.0,
                  checkpoint_every=2, eval_every=10 ** 6, threads=2),
    "cpu": dict(image_size=96, crop_size=64, model_width=16, steps=600, batch_size=8, warmup_steps=60,
                train_length=2000, test_length=50, ddc_weight=1.0,
                checkpoint_every=200, eval_every=10 ** 6, threads=2),
    "paper": dict(dataset="folder", folder_layout="am2k", label="trimap-release", model="vitmatte-s",
                  image_size=640, crop_size=512, steps=5625, batch_size=32, lr=5e-4, weight_decay=0.1, layer_decay=0.65,
                  warmup_steps=250, lr_milestones=(0.6, 0.9), lr_factors=(0.1, 0.05), flip=False,
                  ddc_weight=10.0, test_length=200, device="cuda", num_workers=8, threads=2,
                  checkpoint_every=500, eval_every=10 ** 6),
}


#: The profiles, in order of scale.
PROFILES = tuple(BASES)


def base_config(profile: str, **changes) -> TrainConfig:
    """The shared config of ``profile``, with ``changes`` (data root, checkpoint, ...) applied.

    Raises
    ------
    ValueError
        ``profile`` is not one of :data:`PROFILES`.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}; got {profile!r}")
    return TrainConfig.from_dict(BASES[profile] | {"progress": False} | changes)


def profile_seeds(profile: str, seeds: list[int]) -> list[int]:
    """The seeds a profile runs: the first one only at ``smoke``, all of them otherwise."""
    return list(seeds[:1]) if profile == "smoke" else list(seeds)

