"""Figures (reproducible PNG/PDF bytes, image grids, metric curves) and tables (CSV/Markdown)."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from mattinglib.study.plotting import plot_metric_vs, save_figure, show_images, use_style  # noqa: E402
from mattinglib.study.tables import mean_spread, read_table, to_markdown, write_table  # noqa: E402


def _figure():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0.3, 0.1, 0.2], marker="o", label="SAD ± std")
    ax.set_title("α known + DDC")
    ax.legend()
    return fig


# ----------------------------------------------------------------------------- figures

def test_save_figure_writes_png_and_pdf_with_identical_bytes_each_time(tmp_path):
    fig = _figure()
    first = save_figure(fig, tmp_path / "a" / "curve_w0.5")
    assert [p.name for p in first] == ["curve_w0.5.png", "curve_w0.5.pdf"]
    second = save_figure(fig, tmp_path / "b" / "curve_w0.5", close=True)
    for one, two in zip(first, second):
        assert one.read_bytes() == two.read_bytes(), one.name
    assert first[1].read_bytes().startswith(b"%PDF")
    assert b"CreationDate" not in first[1].read_bytes()
    with Image.open(first[0]) as image:
        assert image.format == "PNG"
        assert round(image.info["dpi"][0]) == 150
        assert "Software" not in image.info
    # Atomic writes leave no temporary files behind.
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["curve_w0.5.pdf", "curve_w0.5.png"]
    assert not plt.fignum_exists(fig.number)


def test_save_figure_keeps_the_figure_open_by_default_and_refuses_a_suffix(tmp_path):
    fig = _figure()
    save_figure(fig, tmp_path / "open")
    assert plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="without a suffix"):
        save_figure(fig, tmp_path / "twice.png")
    plt.close(fig)


def test_show_images_draws_each_kind_and_checks_shapes():
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(3, 8, 10)).astype(np.float32)   # channel-first, as tensors are
    alpha = rng.uniform(size=(1, 8, 10))
    trimap = np.full((8, 10), 0.5)
    trimap[:, :3], trimap[:, 7:] = 0.0, 1.0
    fig = show_images([[("image", image), ("alpha", alpha), ("trimap", trimap)],
                       [("error", alpha[0] - 0.5)]], suptitle="sample")
    visible = [ax for ax in fig.axes if ax.images]   # the colour bar's axes hold no image
    assert [ax.get_title() for ax in visible] == ["image", "alpha", "trimap", "error"]
    assert len(fig.axes) == 2 * 3 + 1   # a 2 x 3 grid (empty panels hidden) and one colour bar
    assert visible[0].images[0].get_array().shape == (8, 10, 3)
    # Inferred colour maps: trimap levels get the trimap map, a signed map the diverging one.
    assert visible[2].images[0].get_cmap().name == "trimap"
    assert visible[3].images[0].get_cmap().name == "RdBu_r"
    limit = np.abs(alpha[0] - 0.5).max()
    assert visible[3].images[0].get_clim() == pytest.approx((-limit, limit))
    plt.close(fig)
    with pytest.raises(ValueError, match="panel 'bad' has shape"):
        show_images([[("bad", np.zeros((2, 2, 2, 2)))]])
    with pytest.raises(ValueError, match="kind 'rainbow'"):
        show_images([[("x", np.zeros((4, 4)), "rainbow")]])


def test_plot_metric_vs_draws_the_mean_and_the_chosen_spread():
    runs = pd.DataFrame({"method": ["a"] * 6 + ["b"] * 3,
                         "weight": [1, 1, 1, 10, 10, 10, 1, 10, 100],
                         "seed": [0, 1, 2, 0, 1, 2, 0, 0, 0],
                         "sad": [1.0, 2.0, 3.0, 4.0, 4.0, 7.0, 5.0, 6.0, 8.0]})
    ax = plot_metric_vs(runs, "weight", "sad", hue="method", spread="std", logx=True)
    line_a = ax.containers[0]
    np.testing.assert_allclose(line_a.lines[0].get_ydata(), [2.0, 5.0])
    # Bar half-lengths are the sample standard deviations (1.0 and sqrt(3)).
    segments = line_a.lines[2][0].get_segments()
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments], [2.0, 2 * math.sqrt(3.0)])
    assert "std" in ax.get_ylabel() and "n = 1-3" in ax.get_ylabel()
    plt.close(ax.figure)

    ax = plot_metric_vs(runs[runs.method == "a"], "weight", "sad", spread="minmax")
    segments = ax.containers[0].lines[2][0].get_segments()
    np.testing.assert_allclose([(s[0, 1], s[1, 1]) for s in segments], [(1.0, 3.0), (4.0, 7.0)])
    assert "min-max" in ax.get_ylabel()
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="columns \\['psnr'\\]"):
        plot_metric_vs(runs, "weight", "psnr")


def test_use_style_sets_the_whitegrid_style():
    use_style()
    assert matplotlib.rcParams["axes.grid"] is True
    assert matplotlib.rcParams["image.interpolation"] == "nearest"
    matplotlib.rcdefaults()


# ----------------------------------------------------------------------------- tables

def test_write_table_round_trips_through_csv_and_markdown(tmp_path):
    table = pd.DataFrame({"method": ["known", "known + 10 DDC", "a|b"],
                          "steps": [1500, 1500, 3],
                          "sad": [0.8812345678, 2.3, float("nan")]})
    csv_path, md_path = write_table(table, tmp_path / "t" / "sad_w0.5", float_format=".3f", caption="SAD.")
    assert (csv_path.name, md_path.name) == ("sad_w0.5.csv", "sad_w0.5.md")
    pd.testing.assert_frame_equal(read_table(csv_path), table)   # full precision
    pd.testing.assert_frame_equal(read_table(tmp_path / "t" / "sad_w0.5"), table)
    markdown = md_path.read_text()
    assert markdown.startswith("SAD.\n\n| method | steps | sad |\n| :--- | ---: | ---: |\n")
    assert "| known | 1500 | 0.881 |" in markdown and "| a\\|b | 3 |  |" in markdown
    parsed = read_table(md_path)
    assert list(parsed["method"]) == list(table["method"])
    np.testing.assert_allclose(parsed["sad"], [0.881, 2.3, np.nan])
    assert parsed["steps"].tolist() == [1500, 1500, 3]


def test_markdown_and_table_errors(tmp_path):
    with pytest.raises(ValueError, match="without a suffix"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "x.csv")
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_table(tmp_path / "missing")
    (tmp_path / "notes.md").write_text("just words\n")
    with pytest.raises(ValueError, match="notes.md: no Markdown table"):
        read_table(tmp_path / "notes.md")
    with pytest.raises(ValueError, match="duplicate column"):
        to_markdown(pd.DataFrame([[1, 2]], columns=["a", "a"]))


def test_mean_spread_summarises_over_seeds():
    runs = pd.DataFrame({"method": ["b", "b", "b", "a"], "seed": [0, 1, 2, 0],
                         "sad": [1.0, 2.0, 3.0, 0.5], "mse": [0.1, 0.1, np.nan, np.nan]})
    summary = mean_spread(runs, "method", ["sad", "mse"], float_format=".3g")
    assert summary.to_dict("records") == [
        {"method": "b", "sad": "2 ± 1 (3)", "mse": "0.1 ± 0 (2)"},
        {"method": "a", "sad": "0.5 (1)", "mse": ""},
    ]
    with pytest.raises(ValueError, match="columns \\['psnr'\\]"):
        mean_spread(runs, "method", "psnr")
