"""ONNX export (mattinglib.onnx_export): the exported graph against PyTorch at two image sizes, and predict --onnx."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mattinglib.__main__ import main
from mattinglib.config import TrainConfig
from mattinglib.evaluate import predict_alpha
from mattinglib.models import build_model
from mattinglib.onnx_export import check_image, export_onnx, onnx_network
from mattinglib.train import load_model


@pytest.fixture(scope="module", params=[3, 4])
def checkpoint(request, tmp_path_factory):
    """A small U-Net saved the way train's export writes it: {"step", "model", "config"}."""
    in_channels = request.param
    config = TrainConfig(model="unet", model_width=8, in_channels=in_channels)
    model = build_model("unet", in_channels=in_channels, width=8, seed=0)
    path = tmp_path_factory.mktemp(f"onnx{in_channels}") / "net.pt"
    torch.save({"step": 0, "model": model.state_dict(), "config": config.to_dict()}, path)
    return path


def test_export_matches_pytorch_at_two_sizes(checkpoint, tmp_path):
    target = tmp_path / "net.onnx"
    diff = export_onnx(checkpoint, target)
    assert target.is_file() and diff < 1e-4
    model, network = load_model(checkpoint), onnx_network(target)
    assert network.in_channels == model.in_channels and network.size_multiple == model.size_multiple
    image, trimap = check_image()
    # 387 x 509 needs padding inside the graph; 128 x 160 (multiples of 16) needs none.
    for height, width in ((387, 509), (128, 160)):
        ours = predict_alpha(network, image[:height, :width], trimap[:height, :width])
        theirs = predict_alpha(model, image[:height, :width], trimap[:height, :width])
        assert ours.shape == (height, width)
        assert np.abs(ours - theirs).max() < 1e-4


def test_predict_onnx_on_the_command_line(checkpoint, tmp_path, capsys):
    from PIL import Image

    image, trimap = check_image(96, 120)
    (tmp_path / "in").mkdir()
    (tmp_path / "tri").mkdir()
    Image.fromarray((image * 255).round().astype(np.uint8)).save(tmp_path / "in" / "a.png")
    Image.fromarray(np.select([trimap == 0, trimap == 1], [0, 255], 128).astype(np.uint8)).save(tmp_path / "tri" / "a.png")
    assert main(["export", "--checkpoint", str(checkpoint), "--onnx", str(tmp_path / "net.onnx")]) == 0
    assert "max |diff|" in capsys.readouterr().out
    assert main(["predict", "--onnx", str(tmp_path / "net.onnx"), "--input", str(tmp_path / "in"),
                 "--trimaps", str(tmp_path / "tri"), "--output", str(tmp_path / "onnx")]) == 0
    assert main(["predict", "--checkpoint", str(checkpoint), "--input", str(tmp_path / "in"),
                 "--trimaps", str(tmp_path / "tri"), "--output", str(tmp_path / "torch")]) == 0
    out = capsys.readouterr().out
    assert "onnx:" in out and "s per megapixel" in out
    a = np.asarray(Image.open(tmp_path / "onnx" / "a.png"), dtype=int)
    b = np.asarray(Image.open(tmp_path / "torch" / "a.png"), dtype=int)
    assert np.abs(a - b).max() <= 1  # 8-bit rounding of alphas within 1e-4
    assert main(["predict", "--checkpoint", str(checkpoint), "--onnx", str(tmp_path / "net.onnx"),
                 "--input", str(tmp_path / "in"), "--output", str(tmp_path / "x")]) == 2
