"""Profiles: the same experiment at three scales, parameters only."""
import pytest

from mattinglib.config import TrainConfig
from mattinglib.profiles import BASES, PROFILES, base_config, profile_seeds


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_is_a_valid_config(profile):
    config = base_config(profile)
    assert isinstance(config, TrainConfig)
    assert all(getattr(config, key) == TrainConfig.from_dict(BASES[profile]).__getattribute__(key)
               for key in BASES[profile])


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


def test_smoke_runs_one_seed_others_all():
    assert profile_seeds("smoke", [0, 1, 2]) == [0]
    assert profile_seeds("cpu", [0, 1, 2]) == [0, 1, 2]
