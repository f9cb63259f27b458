"""Profiles: the same experiment at three scales, parameters only."""
import json

import pytest

from mattinglib.config import TrainConfig
from mattinglib.study.__main__ import main as study_main
from mattinglib.study.profiles import BASES, PROFILES, base_config, profile_seeds
from mattinglib.train import train


def test_the_profiles_in_order_of_scale():
    assert PROFILES == ("smoke", "cpu", "gpu", "paper")


@pytest.mark.parametrize("profile", PROFILES)
def test_a_profile_sets_its_own_values_not_the_defaults(profile):
    config, defaults = base_config(profile), TrainConfig()
    for key, value in BASES[profile].items():
        expected = tuple(value) if isinstance(value, list) else value
        assert getattr(config, key) == expected, key
    # It changes the scale: image, crop, steps or model differ from TrainConfig's defaults.
    assert any(getattr(config, key) != getattr(defaults, key) for key in ("image_size", "crop_size", "steps", "model"))
    assert config.progress is False  # notebooks print their own progress


def test_paper_profile_is_specs_set_up():
    paper = base_config("paper")
    assert (paper.model, paper.crop_size, paper.batch_size, paper.steps) == ("vitmatte-s", 512, 32, 5625)
    assert (paper.lr, paper.weight_decay, paper.layer_decay, paper.warmup_steps) == (5e-4, 0.1, 0.65, 250)
    assert (paper.ddc_weight, paper.supervision, paper.label, paper.folder_layout) == (
        10.0, "known+ddc", "trimap-release", "am2k")


def test_changes_apply_and_unknown_profiles_or_keys_raise():
    assert base_config("cpu", steps=7).steps == 7
    with pytest.raises(ValueError, match="profile must be one of"):
        base_config("laptop")
    with pytest.raises(KeyError, match="stepz"):
        base_config("cpu", stepz=3)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_real_track_trains_a_network_with_pretrained_weights_at_every_profile(profile):
    from mattinglib.models import PRETRAINED_ENCODER_OF
    from mattinglib.study.profiles import PRETRAINED_TRACK, pretrained_track_config, real_track_config

    config = pretrained_track_config(profile, "trimap-input")
    # An ImageNet-pretrained encoder, or (paper) ViTMatte-S from its self-supervised checkpoint.
    assert config.model in PRETRAINED_ENCODER_OF or config.model == "vitmatte-s"
    assert config.pretrained is not False and config.model_width is None or config.model == "vitmatte-s"
    # Only the network and its schedule differ from the track's from-scratch config; changes come last.
    scratch = real_track_config(profile, "trimap-input")
    differing = {key for key in config.to_dict() if getattr(config, key) != getattr(scratch, key)}
    assert differing <= set(PRETRAINED_TRACK[profile])
    assert pretrained_track_config(profile, "image-only", steps=3).steps == 3
    with pytest.raises(ValueError, match="profile must be one of"):
        pretrained_track_config("laptop", "image-only")


def test_smoke_runs_one_seed_others_all():
    assert profile_seeds("smoke", [0, 1, 2]) == [0]
    assert profile_seeds("cpu", [0, 1, 2]) == [0, 1, 2]


def test_show_config_gives_a_file_that_train_reads_back(capsys, tmp_path):
    assert study_main(["--profile", "smoke", "--show-config"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert TrainConfig.from_dict(values) == base_config("smoke").replace(progress=True)
    result = train(TrainConfig.from_dict(values | {"out_dir": str(tmp_path / "run"), "threads": 1}))
    assert len(result.history) == 1 and result.history["step"].iloc[-1] == BASES["smoke"]["steps"]
