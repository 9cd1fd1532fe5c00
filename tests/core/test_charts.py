"""core.reports.charts: every Plotly figure of the app."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.model import vgg16
from core.reports import charts, references
from core.runs import advisor, live, strategies
from core.runs.results import BatchRecord, EpochRecord


def spec(fig) -> dict:
    return json.loads(fig.to_json())


def test_class_counts_marks_small_classes_red_and_escapes_names():
    fig = spec(charts.class_counts({"cats": 90, "<b>dogs</b>": 10, "owls": 40}))
    bar = fig["data"][0]
    assert bar["x"] == ["cats", "&lt;b&gt;dogs&lt;/b&gt;", "owls"] and bar["y"] == [90, 10, 40]
    assert bar["marker"]["color"] == [
        charts.TRAIN_COLOUR,
        charts.MARKER_COLOUR,
        charts.TRAIN_COLOUR,
    ]


def test_image_sizes_one_bubble_per_size():
    fig = spec(charts.image_sizes([(32, 32)] * 3 + [(64, 48)]))
    points = fig["data"][0]
    assert points["x"] == [32, 64] and points["y"] == [32, 48] and points["customdata"] == [3, 1]


def test_split_counts_groups_train_and_validation():
    fig = spec(charts.split_counts({"train": {"a": 8, "b": 4}, "validation": {"a": 2, "b": 1}}))
    assert [(t["name"], t["y"]) for t in fig["data"]] == [("train", [8, 4]), ("validation", [2, 1])]
    assert fig["layout"]["barmode"] == "group"


@pytest.mark.parametrize(
    "per_class,similarity,x,y,symbol",
    [
        (50, "similar", np.log10(50), 1.5, "star"),
        (50, "different", np.log10(50), 0.5, "star"),
        (5000, "similar", np.log10(5000), 1.5, "star"),
        (50, None, np.log10(50), 1.0, "circle-open"),
    ],
)
def test_strategy_matrix_marks_the_dataset(per_class, similarity, x, y, symbol):
    fig = spec(charts.strategy_matrix(per_class, similarity))
    marker = fig["data"][0]
    assert marker["x"] == [pytest.approx(x)] and marker["y"] == [y]
    assert marker["marker"]["symbol"] == symbol
    shapes = fig["layout"]["shapes"]
    line = [s for s in shapes if s["type"] == "line"][0]
    assert line["x0"] == pytest.approx(np.log10(advisor.LARGE_PER_CLASS))
    highlighted = [s for s in shapes if s["type"] == "rect" and s["line"]["width"] == 3]
    assert len(highlighted) == (2 if similarity is None else 1)
    for rect in highlighted:  # the highlighted cells contain the marker's x
        assert rect["x0"] <= marker["x"][0] <= rect["x1"]
    texts = " ".join(a["text"] for a in fig["layout"]["annotations"])
    for cell in advisor.MATRIX:
        assert strategies.get(cell.strategy).title in texts


def test_vgg16_layers_follow_the_strategy_table():
    fig = spec(charts.vgg16_layers(strategies.get("finetune"), 2))
    by_name = {t["name"]: t for t in fig["data"]}
    trains = by_name["trains"]
    assert set(trains["y"]) == {"phase 2: finetune"}  # phase 1 trains the head only
    names = [text.split(":")[0] for text in trains["text"]]
    assert names == list(vgg16.trainable_layers(2))  # blocks 4 and 5
    frozen = by_name["frozen (pretrained, kept as is)"]
    assert len(frozen["x"]) == 13 + 13 - len(names)
    linear = {
        t["name"]: t
        for t in spec(charts.vgg16_layers(strategies.get("linear"), 1, "block3_pool"))["data"]
    }
    assert len(linear["not used"]["x"]) == 6  # blocks 4 and 5 are not read at all
    scratch = {t["name"] for t in spec(charts.vgg16_layers(strategies.get("scratch")))["data"]}
    assert "trains (from random weights)" in scratch


def test_training_curves_points_phases_and_reference_lines():
    history = [
        EpochRecord("head", 1, accuracy=0.5, val_accuracy=0.6, loss=1.0, val_loss=0.9),
        EpochRecord("finetune", 2, accuracy=0.7, val_accuracy=0.8, loss=0.6, val_loss=0.5),
    ]
    refs = references.references_for("cats_vs_dogs_small", 150, "imagenet")
    refs += references.references_for("cats_vs_dogs_small", 64, "imagenet")[:1]
    fig = spec(charts.training_curves(history, refs))
    val = [t for t in fig["data"] if t["name"] == "validation"]
    assert [t["y"] for t in val] == [[0.6, 0.8], [0.9, 0.5]]
    dashed = [s for s in fig["layout"]["shapes"] if s.get("line", {}).get("dash") == "dash"]
    assert sorted(s["y0"] for s in dashed) == [0.9, 0.9, 0.94]
    labels = [a["text"] for a in fig["layout"]["annotations"]]
    assert any("(different setting)" in t for t in labels)
    assert "finetune" in labels  # the phase change is marked
    empty = spec(charts.training_curves([]))
    assert any("first epoch" in a["text"] for a in empty["layout"]["annotations"])


def test_training_curves_draw_each_batch_loss_raw_and_smoothed_on_the_epoch_axis():
    history = [
        EpochRecord("head", 1, loss=0.9, val_loss=0.8),
        EpochRecord("finetune", 2, loss=0.5, val_loss=0.6),
    ]
    head = [BatchRecord("head", 1, step, 4, loss) for step, loss in enumerate((1.2, 0.8, 1.0), 2)]
    tune = [BatchRecord("finetune", 2, step, 4, 0.5 + step / 10) for step in (1, 2)]
    fig = spec(charts.training_curves(history, batches=head + tune))
    raw, smooth = (t for t in fig["data"] if t.get("legendgroup") == "batch")
    assert raw["x"] == [0.5, 0.75, 1.0, 1.25, 1.5]  # epoch 1's last batch under epoch 1's point
    assert raw["y"] == [1.2, 0.8, 1.0, 0.6, 0.7] and raw["opacity"] < 0.5
    assert (raw["xaxis"], smooth["xaxis"]) == ("x2", "x2")  # on the loss side
    # smoothed per phase: a gap at the phase change, each phase starting from its own loss
    assert smooth["x"] == [0.5, 0.75, 1.0, None, 1.25, 1.5]
    assert smooth["y"][:3] == pytest.approx(live.smoothed([1.2, 0.8, 1.0]))
    assert smooth["y"][3] is None and smooth["y"][4] == pytest.approx(0.6)
    only_batches = spec(charts.training_curves([], batches=head))
    assert not any("first epoch" in a["text"] for a in only_batches["layout"]["annotations"])
    assert not [
        t
        for t in spec(charts.training_curves(history))["data"]
        if "legendgroup" in t and t["legendgroup"] == "batch"
    ]


def test_confusion_matrix_and_top_k():
    fig = spec(charts.confusion_matrix([[3, 1], [0, 4]], ["a", "<i>b</i>"]))
    heat = fig["data"][0]
    assert heat["z"] == [[3, 1], [0, 4]] and heat["y"] == ["a", "&lt;i&gt;b&lt;/i&gt;"]
    bars = spec(
        charts.top_k([{"class": "cat", "probability": 0.7}, {"class": "dog", "probability": 0.3}])
    )["data"][0]
    assert bars["y"] == ["cat", "dog"] and bars["x"] == [0.7, 0.3]
    assert bars["text"] == ["70.0%", "30.0%"]


def test_compare_curves_one_trace_per_run():
    fig = spec(
        charts.compare_curves(
            {
                "A": [EpochRecord("head", 1, val_accuracy=0.5)],
                "B": [
                    EpochRecord("head", 1, val_accuracy=0.7),
                    EpochRecord("head", 2, val_accuracy=0.8),
                ],
            }
        )
    )
    assert [(t["name"], t["y"]) for t in fig["data"]] == [("A", [0.5]), ("B", [0.7, 0.8])]


def test_compare_curves_keep_identical_curves_visible():
    """The head strategy's curve equals the fine-tune's first phase: with one style for all,
    the later trace hid the earlier one completely (seen in the 800 px screenshot)."""
    same = [EpochRecord("head", 1, val_accuracy=0.5), EpochRecord("head", 2, val_accuracy=0.6)]
    fig = spec(charts.compare_curves({"fine-tune": same, "head": same, "scratch": same}))
    styles = [
        (t["line"]["dash"], t["line"]["width"], t["marker"]["symbol"], t["marker"]["size"])
        for t in fig["data"]
    ]
    assert len({s[0] for s in styles}) == 3 and len({s[2] for s in styles}) == 3
    widths = [s[1] for s in styles]
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[1]


def test_waveform_and_spectrogram_figures():
    assert spec(charts.waveform([0.0, 0.1], [0.2, -0.3], "x"))["data"][0]["y"] == [0.2, -0.3]
    pixels = np.zeros((4, 3, 3), dtype=np.uint8)
    pixels[0] = 255  # the top row of the saved image is the highest band
    heat = charts.spectrogram(pixels, "clip").data[0]
    assert np.asarray(heat.z)[-1].tolist() == [255, 255, 255]  # drawn at the top (last row)


def test_seed_bands_draw_a_shaded_range_and_a_mean_line_per_strategy():
    from core.reports.comparison import Band

    bands = {"head": Band((1, 2), (0.5, 0.7), (0.4, 0.6), (0.6, 0.8), (3, 2))}
    fig = charts.seed_bands(bands, {"head": "<b>Head</b>"})
    shade, mean = fig.data
    assert shade.fill == "toself" and list(shade.y) == [0.6, 0.8, 0.6, 0.4]
    assert list(mean.y) == [0.5, 0.7] and mean.name == "&lt;b&gt;Head&lt;/b&gt;"
    assert "lowest to the highest seed" in fig.layout.title.text


def test_seed_accuracy_bars_carry_the_std_as_error_bars():
    from core.reports import comparison

    summary = comparison.summarize(
        [
            comparison.Repeat("head", 0, 0.8, 0.5, comparison.TEST),
            comparison.Repeat("head", 1, 0.9, 0.4, comparison.TEST),
            comparison.Repeat("linear", 0, 0.7, 0.6, comparison.TEST),
        ]
    )
    (bars,) = charts.seed_accuracy_bars(summary).data
    assert list(bars.x) == ["head", "linear"]
    assert list(bars.error_y.array) == pytest.approx([0.0707107, 0.0])
    assert bars.text[0] == "85.0% (n=2)"


def test_the_loss_axis_fits_the_epoch_curves_and_marks_the_batch_spikes():
    """Issue 20 item 8: one early batch at 30 must not flatten the epoch curves."""
    history = [
        EpochRecord("head", 1, loss=0.9, val_loss=0.8),
        EpochRecord("head", 2, loss=0.5, val_loss=0.6),
    ]
    batches = [BatchRecord("head", 1, s, 4, loss, 0.0) for s, loss in ((1, 30.0), (2, 0.7))]
    fig = charts.training_curves(history, batches=batches)
    top = 0.9 * charts.LOSS_HEADROOM
    assert tuple(fig.layout.yaxis2.range) == pytest.approx((0, top))
    [spike] = [t for t in fig.data if t.name == "batch loss above the axis"]
    assert list(spike.x) == [0.25] and list(spike.y) == [pytest.approx(top)]
    assert list(spike.customdata) == [30.0]
    calm = charts.training_curves(history, batches=batches[1:])  # nothing to clip
    assert calm.layout.yaxis2.range is None


def test_the_map_gives_each_class_its_own_distinct_colour():
    """Issue 20 item 12: Streamlit's theme drew two classes in two shades of blue."""
    points = [("a.png", "cat", 0.0, 0.0), ("b.png", "dog", 1.0, 1.0), ("c.png", "cat", 0, 1)]
    fig = charts.data_map(points)
    colours = [trace.marker.color for trace in fig.data]
    assert colours == list(charts.CLASS_COLOURS[:2])
    many = [(f"{k}.png", f"class {k}", 0.0, float(k)) for k in range(12)]
    assert len({t.marker.color for t in charts.data_map(many).data}) == 12


@pytest.mark.parametrize("similarity", [None, advisor.UNCLEAR])
def test_the_unmeasured_dataset_label_stays_clear_of_the_lower_rows_title(similarity):
    """Issue 20 item 14: "this dataset (similarity not measured yet)", drawn below the marker
    on the line between the rows, overlapped the "small, different" title."""
    fig = spec(charts.strategy_matrix(150, similarity))
    marker = fig["data"][0]
    assert marker["y"] == [1.0] and marker["textposition"] == "top center"
    measured = spec(charts.strategy_matrix(150, "different"))["data"][0]
    assert measured["textposition"] == "bottom center"  # in its row, below the title
