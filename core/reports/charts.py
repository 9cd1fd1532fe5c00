"""Every chart of the app, as a function returning a Plotly figure (no Streamlit here).

Labels that come from users (class names, folder names) are HTML-escaped before they reach
Plotly, which renders a subset of HTML in text. References are anything with `accuracy`,
`label` and `comparable` attributes (core.reports.references.Reference).
"""

from __future__ import annotations

import html
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.data.datasets import IMBALANCE_RATIO
from core.model import vgg16
from core.reports.comparison import Band, Summary
from core.reports.references import Reference
from core.runs import advisor, live, strategies
from core.runs.results import BatchRecord, EpochRecord, LrFindResult

TRAIN_COLOUR = "#1f77b4"
VAL_COLOUR = "#ff7f0e"
TEST_COLOUR = "#9467bd"
TRAINS_COLOUR = "#e4572e"
FROZEN_COLOUR = "#8fa9c4"
UNUSED_COLOUR = "#e3e3e3"
HEAD_COLOUR = "#2a9d8f"
REFERENCE_COLOUR = "#2ca02c"
NOT_COMPARABLE_COLOUR = "#9e9e9e"
MARKER_COLOUR = "#d62728"
SERIES_COLOURS = tuple(plotly.colors.qualitative.Plotly)  # hex, one per strategy
# one per class on the map: Streamlit's theme otherwise drew two classes in two blues
CLASS_COLOURS = tuple(plotly.colors.qualitative.D3)
MANY_CLASS_COLOURS = tuple(plotly.colors.qualitative.Dark24)
SIMILARITY_Y = {"different": 0.5, "similar": 1.5, advisor.UNCLEAR: 1.0}
METRIC_NAMES = {
    "val_accuracy": "Validation accuracy",
    "val_loss": "Validation loss",
    "accuracy": "Training accuracy",
    "loss": "Training loss",
}


def _t(text: object) -> str:
    """Text safe to hand to Plotly (which renders tags such as <a> and <b>)."""
    return html.escape(str(text), quote=False)


def _layout(fig: go.Figure, title: str, height: int = 360, **extra: Any) -> go.Figure:
    fig.update_layout(
        title=dict(text=title), height=height, margin=dict(l=50, r=20, t=60, b=40), **extra
    )
    return fig


# -- data -------------------------------------------------------------------------------------
def class_counts(counts: Mapping[str, int], ratio: float = IMBALANCE_RATIO) -> go.Figure:
    """Images per class; classes under 1/ratio of the largest are drawn in red."""
    names, values = list(counts), [int(v) for v in counts.values()]
    largest = max(values, default=0)
    colours = [MARKER_COLOUR if largest and v * ratio <= largest else TRAIN_COLOUR for v in values]
    fig = go.Figure(
        go.Bar(
            x=[_t(n) for n in names],
            y=values,
            marker_color=colours,
            text=values,
            textposition="outside",
            name="images",
        )
    )
    return _layout(fig, "Images per class", xaxis_title="class", yaxis_title="images")


def image_sizes(sizes: Sequence[tuple[int, int]]) -> go.Figure:
    """Width x height of the images, one bubble per distinct size (bigger: more images)."""
    found = Counter(sizes)
    xs, ys, ns = [], [], []
    for (width, height), n in sorted(found.items()):
        xs.append(width)
        ys.append(height)
        ns.append(n)
    biggest = max(ns, default=1)
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            name="sizes",
            marker=dict(
                size=[10 + 30 * math.sqrt(n / biggest) for n in ns], color=TRAIN_COLOUR, opacity=0.6
            ),
            customdata=ns,
            hovertemplate="%{x} x %{y} px: %{customdata} image(s)<extra></extra>",
        )
    )
    return _layout(
        fig, "Image sizes (width x height, pixels)", xaxis_title="width", yaxis_title="height"
    )


def split_counts(by_split: Mapping[str, Mapping[str, int]]) -> go.Figure:
    """Images per class on each side of the split (grouped bars)."""
    fig = go.Figure()
    for (split, per_class), colour in zip(
        by_split.items(), (TRAIN_COLOUR, VAL_COLOUR, TEST_COLOUR), strict=False
    ):
        fig.add_trace(
            go.Bar(
                x=[_t(c) for c in per_class],
                y=list(per_class.values()),
                name=split,
                marker_color=colour,
            )
        )
    return _layout(
        fig,
        " / ".join("Training" if side == "train" else side for side in by_split)
        + " split per class",
        barmode="group",
        xaxis_title="class",
        yaxis_title="images",
    )


def data_map(
    points: Sequence[tuple[str, str, float, float]],
    wrong: Mapping[str, str] | None = None,
    method: str = "",
) -> go.Figure:
    """The map of the data: one dot per picture (file, class, x, y), one colour per class;
    a picture's file name is its customdata, so a clicked dot names the file. `wrong`: file ->
    why, for a run's misclassified pictures, ringed in red."""
    fig = go.Figure()
    by_class: dict[str, list[tuple[str, float, float]]] = {}
    for rel, label, x, y in points:
        by_class.setdefault(label, []).append((rel, x, y))
    palette = CLASS_COLOURS if len(by_class) <= len(CLASS_COLOURS) else MANY_CLASS_COLOURS
    for index, (label, rows) in enumerate(by_class.items()):
        fig.add_trace(
            go.Scatter(
                x=[r[1] for r in rows],
                y=[r[2] for r in rows],
                mode="markers",
                name=_t(label),
                customdata=[r[0] for r in rows],
                hovertext=[f"{_t(r[0])}<br>class {_t(label)}" for r in rows],
                hoverinfo="text",
                marker=dict(size=7, opacity=0.8, color=palette[index % len(palette)]),
            )
        )
    marked = [(rel, x, y) for rel, _, x, y in points if wrong and rel in wrong]
    if marked and wrong:
        fig.add_trace(
            go.Scatter(
                x=[m[1] for m in marked],
                y=[m[2] for m in marked],
                mode="markers",
                name="misclassified",
                customdata=[m[0] for m in marked],
                hovertext=[f"{_t(m[0])}<br>{_t(wrong[m[0]])}" for m in marked],
                hoverinfo="text",
                marker=dict(size=13, symbol="circle-open", color=MARKER_COLOUR, line_width=2),
            )
        )
    fig.update_xaxes(showticklabels=False, title=None)
    fig.update_yaxes(showticklabels=False, title=None)
    title = f"Map of the data ({method})" if method else "Map of the data"
    return _layout(fig, title, height=520, legend_title_text="class", clickmode="event+select")


def waveform(times: Sequence[float], amplitudes: Sequence[float], title: str) -> go.Figure:
    fig = go.Figure(
        go.Scatter(
            x=list(times),
            y=list(amplitudes),
            mode="lines",
            line=dict(width=1, color=TRAIN_COLOUR),
            name="waveform",
        )
    )
    return _layout(fig, _t(title), height=220, xaxis_title="seconds", yaxis_title="amplitude")


def spectrogram(pixels: np.ndarray, title: str) -> go.Figure:
    """A spectrogram image (rows: mel bands, highest at the top as saved) as a heatmap with
    the low frequencies at the bottom."""
    grey = np.asarray(pixels)
    if grey.ndim == 3:
        grey = grey[..., 0]
    fig = go.Figure(
        go.Heatmap(
            z=grey[::-1],
            colorscale="gray",
            showscale=False,
            hovertemplate="frame %{x}, mel band %{y}: %{z}<extra></extra>",
        )
    )
    return _layout(
        fig,
        _t(title),
        height=240,
        xaxis_title="time (frames)",
        yaxis_title="mel band (low to high)",
    )


# -- strategy ---------------------------------------------------------------------------------
def strategy_matrix(images_per_class: float, similarity: str | None = None) -> go.Figure:
    """The advisor's 2x2 matrix (size x similarity) with this dataset's position marked.

    x is images per class on a log scale (plotted as log10 on a linear axis, so shapes, text
    and the marker share one coordinate system), split at advisor.LARGE_PER_CLASS; y is
    similarity to ImageNet. Without a measurement the dataset is drawn between the rows."""
    line = math.log10(advisor.LARGE_PER_CLASS)
    here_x = math.log10(max(1.0, images_per_class))
    low = max(0.0, min(1.0, math.floor(here_x - 0.5)))
    high = max(line + 1.0, math.ceil(here_x + 0.5))
    fig = go.Figure()
    size = advisor.size_of(images_per_class)
    for cell in advisor.MATRIX:
        x0, x1 = (low, line) if cell.size == "small" else (line, high)
        y0 = 0.0 if cell.similarity == "different" else 1.0
        here = cell.size == size and similarity in (None, advisor.UNCLEAR, cell.similarity)
        fig.add_shape(
            type="rect",
            x0=x0,
            x1=x1,
            y0=y0,
            y1=y0 + 1,
            layer="below",
            line=dict(color="#444" if here else "#ccc", width=3 if here else 1),
            fillcolor="#fff3c4" if here else "#f4f6f8",
        )
        layer = cell.layer if cell.layer != "best-earlier" else "an earlier layer"
        detail = f" on {layer}" if layer else f" ({cell.unfreeze_blocks} block(s))"
        fig.add_annotation(
            x=(x0 + x1) / 2,
            y=y0 + 0.8,
            showarrow=False,
            text=f"<b>{cell.size}, {cell.similarity}</b><br>"
            f"{_t(strategies.get(cell.strategy).title)}{_t(detail)}",
        )
    fig.add_shape(type="line", x0=line, x1=line, y0=0, y1=2, line=dict(color="#444", dash="dash"))
    fig.add_annotation(
        x=line,
        y=2.0,
        yanchor="bottom",
        showarrow=False,
        text=f"{advisor.LARGE_PER_CLASS} images per class",
    )
    measured = similarity in SIMILARITY_Y
    y = SIMILARITY_Y[similarity] if similarity is not None and measured else 1.0
    label = "this dataset" + (
        " (similarity not measured yet)"
        if not measured
        else " (too close to tell)"
        if similarity == advisor.UNCLEAR
        else ""
    )
    fig.add_trace(
        go.Scatter(
            x=[here_x],
            y=[y],
            mode="markers+text",
            name="this dataset",
            text=[label],
            # on the line between the rows, a label below it ran into the lower row's title
            # ("small, different"); above it, it sits in the upper row's empty lower part
            textposition="bottom center" if y != 1.0 else "top center",
            marker=dict(
                size=18,
                color=MARKER_COLOUR,
                symbol="star" if measured else "circle-open",
                line=dict(width=2, color=MARKER_COLOUR),
            ),
            hovertemplate=f"{images_per_class:.0f} images per class<extra></extra>",
        )
    )
    ticks = list(range(int(low), int(high) + 1))
    fig.update_xaxes(
        range=[low, high],
        tickvals=ticks,
        ticktext=[f"{10**t:,}" for t in ticks],
        title="images per class (log scale)",
        showgrid=False,
        zeroline=False,
    )
    fig.update_yaxes(
        range=[0, 2.15],
        tickvals=[0.5, 1.5],
        showgrid=False,
        zeroline=False,
        ticktext=["different from ImageNet", "similar to ImageNet"],
    )
    return _layout(fig, "Dataset size x similarity to ImageNet", height=420, showlegend=False)


def probe_accuracies(
    probe: Mapping[str, float], intervals: Mapping[str, Sequence[float]] | None = None
) -> go.Figure:
    """Linear-probe accuracy per VGG16 depth, with its 95% interval as error bars when the
    measurement has one (advisor.Advice.intervals)."""
    names, values = list(probe), [float(v) for v in probe.values()]
    error_y = None
    if intervals and all(name in intervals for name in names):
        error_y = dict(
            type="data",
            symmetric=False,
            array=[intervals[n][1] - v for n, v in zip(names, values, strict=True)],
            arrayminus=[v - intervals[n][0] for n, v in zip(names, values, strict=True)],
        )
    fig = go.Figure(
        go.Bar(
            x=names,
            y=values,
            error_y=error_y,
            text=[f"{v:.1%}" for v in values],
            textposition="outside",
            marker_color=TRAIN_COLOUR,
            name="accuracy",
        )
    )
    fig.update_yaxes(range=[0, 1.1], tickformat=".0%")
    return _layout(
        fig,
        "Validation accuracy of a linear classifier at each depth",
        xaxis_title="VGG16 layer (deeper to the right)",
        yaxis_title="validation accuracy",
    )


def vgg16_layers(
    strategy: strategies.Strategy, unfreeze_blocks: int = 1, layer: str | None = None
) -> go.Figure:
    """VGG16's 13 conv layers in 5 blocks, plus the head, for each phase of a strategy:
    which train, which stay frozen and (a linear probe on an earlier layer) which are unused."""
    convs = [(block.number, name) for block in vgg16.BLOCKS for name in block.conv_layers]
    x_of = {name: i + block - 1 for i, (block, name) in enumerate(convs)}  # gaps between blocks
    head_x = max(x_of.values()) + 2
    used_blocks = vgg16.block_of(layer) if strategy.uses_layer and layer else len(vgg16.BLOCKS)
    trainable = strategy.trainable_layers(unfreeze_blocks)
    rows = [f"phase {k + 1}: {p.name}" for k, p in enumerate(strategy.phases)]
    groups: dict[str, tuple[list[int], list[str], list[str]]] = {  # x, y (phase), hover text
        "trains": ([], [], []),
        "frozen (pretrained, kept as is)": ([], [], []),
        "not used": ([], [], []),
    }
    if not strategy.pretrained:
        groups = {"trains (from random weights)": ([], [], []), **groups}
    for phase, row in zip(strategy.phases, rows, strict=True):
        for block, name in convs:
            if block > used_blocks:
                key = "not used"
            elif name in trainable[phase.name]:
                key = "trains" if strategy.pretrained else "trains (from random weights)"
            else:
                key = "frozen (pretrained, kept as is)"
            xs, ys, texts = groups[key]
            xs.append(x_of[name])
            ys.append(row)
            texts.append(f"{name}: {key}")
    colours = {
        "trains": TRAINS_COLOUR,
        "trains (from random weights)": TRAINS_COLOUR,
        "frozen (pretrained, kept as is)": FROZEN_COLOUR,
        "not used": UNUSED_COLOUR,
    }
    fig = go.Figure()
    for key, (xs, ys, texts) in groups.items():
        if xs:
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="markers",
                    name=key,
                    text=texts,
                    hovertemplate="%{text}<extra></extra>",
                    marker=dict(
                        symbol="square",
                        size=24,
                        color=colours[key],
                        line=dict(width=1, color="#555"),
                    ),
                )
            )
    head = (
        "logistic regression (fitted)"
        if strategy.head == "logistic"
        else "dense head (Dense 256, Dropout 0.5, output)"
    )
    fig.add_trace(
        go.Scatter(
            x=[head_x] * len(rows),
            y=rows,
            mode="markers",
            name=f"head: {head}",
            text=[head] * len(rows),
            hovertemplate="%{text}<extra></extra>",
            marker=dict(symbol="diamond", size=26, color=HEAD_COLOUR),
        )
    )
    centres = [float(np.mean([x_of[n] for n in b.conv_layers])) for b in vgg16.BLOCKS]
    fig.update_xaxes(
        tickvals=[*centres, head_x],
        ticktext=[*(b.name for b in vgg16.BLOCKS), "head"],
        showgrid=False,
    )
    fig.update_yaxes(autorange="reversed", showgrid=False)
    return _layout(
        fig,
        f"Which VGG16 layers train: {_t(strategy.title)}",
        height=150 + 70 * len(rows),
        legend=dict(orientation="h", yanchor="top", y=-0.25),
    )


# -- training ---------------------------------------------------------------------------------
def _add_references(fig: go.Figure, references: Iterable[Reference], **where: Any) -> None:
    for ref in references:
        colour = REFERENCE_COLOUR if ref.comparable else NOT_COMPARABLE_COLOUR
        label = ref.label + ("" if ref.comparable else " (different setting)")
        fig.add_hline(
            y=ref.accuracy,
            line_dash="dash",
            line_color=colour,
            annotation_text=_t(label),
            annotation_position="bottom left",
            annotation_font_color=colour,
            **where,
        )


def _phase_starts(history: Sequence[EpochRecord]) -> list[tuple[float, str]]:
    starts = []
    for before, row in zip(history, history[1:], strict=False):
        if row.phase != before.phase:
            starts.append((row.epoch - 0.5, row.phase))
    return starts


def _batch_loss_traces(batches: Sequence[BatchRecord]) -> list[go.Scatter]:
    """Each recorded batch's training loss, faint, and its smoothed line (bias-corrected EMA,
    started afresh in each phase: a new phase's loss is not averaged with the last one's).
    x is in epochs, so epoch 2's last batch sits at 2.0 under epoch 2's point."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for _, group in itertools.groupby(batches, key=lambda b: b.phase):
        rows = list(group)
        if xs:
            xs.append(None)  # a gap: the smoothed line does not run across a phase change
            ys.append(None)
        xs += [b.position for b in rows]
        ys += live.smoothed([b.loss for b in rows])
    common = dict(mode="lines", legendgroup="batch")
    return [
        go.Scatter(
            x=[b.position for b in batches],
            y=[b.loss for b in batches],
            name="training, each batch",
            line=dict(color=TRAIN_COLOUR, width=1),
            opacity=0.25,
            showlegend=False,
            hovertemplate="epoch %{x:.2f}: batch loss %{y:.3f}<extra></extra>",
            **common,
        ),
        go.Scatter(
            x=xs,
            y=ys,
            name="training, per batch (smoothed)",
            line=dict(color=TRAIN_COLOUR, width=2, dash="dot"),
            hovertemplate="epoch %{x:.2f}: smoothed loss %{y:.3f}<extra></extra>",
            **common,
        ),
    ]


LOSS_HEADROOM = 1.2  # the loss axis ends this far above the highest per-epoch loss


def loss_axis_top(history: Sequence[EpochRecord], batches: Sequence[BatchRecord]) -> float | None:
    """Where the loss axis ends when a batch's loss would stretch it: a little above the
    per-epoch curves (seen: one early batch at 30 flattened every epoch curve). None: no
    batch goes above that, or no epoch has ended yet (the axis fits everything)."""
    losses = [v for r in history for v in (r.loss, r.val_loss) if v is not None]
    if not losses or not batches:
        return None
    top = max(losses) * LOSS_HEADROOM
    return top if max(b.loss for b in batches) > top else None


def _clip_batch_spikes(
    fig: go.Figure, history: Sequence[EpochRecord], batches: Sequence[BatchRecord]
) -> None:
    """Scale the loss axis to the epoch curves; batches above it are drawn off the top and
    marked there by a triangle whose hover gives their real loss."""
    top = loss_axis_top(history, batches)
    if top is None:
        return
    spikes = [b for b in batches if b.loss > top]
    fig.add_trace(
        go.Scatter(
            x=[b.position for b in spikes],
            y=[top] * len(spikes),
            customdata=[b.loss for b in spikes],
            mode="markers",
            name="batch loss above the axis",
            legendgroup="batch spikes",
            showlegend=False,
            marker=dict(symbol="triangle-up", size=9, color=TRAIN_COLOUR),
            cliponaxis=False,
            hovertemplate="epoch %{x:.2f}: batch loss %{customdata:.3f} (off the axis)"
            "<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_yaxes(range=[0, top], row=1, col=2)


def _mark_kept(fig: go.Figure, history: Sequence[EpochRecord], kept: int | None) -> None:
    """The kept epoch: a dashed line across both sides and a star on its validation points."""
    row = next((r for r in history if r.epoch == kept), None)
    if row is None:
        return
    name = f"kept: epoch {kept}"
    fig.add_vline(x=kept, line_dash="dash", line_color=VAL_COLOUR, opacity=0.6)
    for col, key in ((1, "val_accuracy"), (2, "val_loss")):
        if row.value(key) is None:
            continue
        fig.add_trace(
            go.Scatter(
                x=[kept],
                y=[row.value(key)],
                mode="markers+text" if col == 1 else "markers",
                text=[name] if col == 1 else None,
                textposition="bottom center",
                name=name,
                legendgroup="kept",
                showlegend=col == 1,
                marker=dict(symbol="star", size=14, color=VAL_COLOUR),
            ),
            row=1,
            col=col,
        )


def training_curves(
    history: Sequence[EpochRecord],
    references: Iterable[Reference] = (),
    batches: Sequence[BatchRecord] = (),
    kept: int | None = None,
) -> go.Figure:
    """Train and validation accuracy (left) and loss (right) per epoch; on the loss side also
    the loss of each recorded batch, faint, and smoothed; phase changes as dotted lines;
    published references as labelled dashed lines on the accuracy side; `kept`, the epoch the
    finished model is (core.runs.live.kept_epoch), as a line and a star named "kept: epoch N"
    (its validation accuracy is the one reported, not the last point's)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Accuracy", "Loss"))
    for trace in _batch_loss_traces(batches) if batches else ():
        fig.add_trace(trace, row=1, col=2)
    epochs = [row.epoch for row in history]
    for col, (train_key, val_key) in enumerate(
        (("accuracy", "val_accuracy"), ("loss", "val_loss")), start=1
    ):
        for key, colour, name in (
            (train_key, TRAIN_COLOUR, "training"),
            (val_key, VAL_COLOUR, "validation"),
        ):
            values = [row.value(key) for row in history]
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=values,
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    line=dict(color=colour),
                ),
                row=1,
                col=col,
            )
    for x, phase in _phase_starts(history):
        fig.add_vline(x=x, line_dash="dot", line_color="#777", annotation_text=_t(phase))
    _mark_kept(fig, history, kept)
    _clip_batch_spikes(fig, history, batches)
    _add_references(fig, references, row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", row=1, col=1)
    fig.update_xaxes(title="epoch", dtick=1 if len(epochs) <= 20 else None)
    if not history and not batches:
        fig.add_annotation(
            text="the first point appears when the first epoch ends",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
        )
    return _layout(fig, "Training curves", height=380)


def confusion_matrix(
    matrix: Sequence[Sequence[int]], classes: Sequence[str], side: str = "validation"
) -> go.Figure:
    """Rows: the true class, columns: the predicted class (first class at the top), on the
    `side` scored (RunResult.evaluated_on)."""
    names = [_t(c) for c in classes]
    z = [[int(v) for v in row] for row in matrix]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            colorscale="Blues",
            text=z,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
            showscale=False,
        )
    )
    fig.update_yaxes(autorange="reversed", title="true class", type="category")
    fig.update_xaxes(title="predicted class", type="category", side="bottom")
    size = max(320, 40 * len(classes) + 140)
    return _layout(fig, f"Confusion matrix ({side} images)", height=size)


CURVE_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
CURVE_MARKERS = ("circle", "diamond", "square", "triangle-up", "x", "cross")


def _overlay_style(index: int) -> dict[str, Any]:
    """Line and marker of the index-th overlaid curve: dash and marker cycle, and the width and
    marker size shrink, so a later curve drawn over an identical earlier one leaves it showing."""
    return dict(
        line=dict(dash=CURVE_DASHES[index % len(CURVE_DASHES)], width=max(1.5, 4.0 - index * 0.6)),
        marker=dict(symbol=CURVE_MARKERS[index % len(CURVE_MARKERS)], size=max(5, 11 - 2 * index)),
    )


def _epoch_axes(fig: go.Figure, metric: str) -> str:
    """One tick per epoch, an accuracy axis in percent; returns the metric's name in words."""
    if metric.endswith("accuracy"):
        fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    fig.update_xaxes(dtick=1)
    return METRIC_NAMES.get(metric, metric.replace("_", " "))


def compare_curves(
    series: Mapping[str, Sequence[EpochRecord]],
    references: Iterable[Reference] = (),
    metric: str = "val_accuracy",
) -> go.Figure:
    """One validation curve per run, overlaid. Each curve has its own dash, marker and width
    (the first drawn widest): runs whose curves coincide, like a fine-tune's first phase and the
    head-only strategy (the same phase, same split and seed), stay visible on top of each other."""
    fig = go.Figure()
    for index, (name, history) in enumerate(series.items()):
        fig.add_trace(
            go.Scatter(
                x=[row.epoch for row in history],
                y=[row.value(metric) for row in history],
                mode="lines+markers",
                name=_t(name),
                **_overlay_style(index),
            )
        )
    _add_references(fig, references)
    name = _epoch_axes(fig, metric)
    return _layout(
        fig,
        f"{name} per epoch",
        height=460,
        xaxis_title="epoch",
        yaxis_title=name.lower(),
        # below the plot: beside it, long run names took half of an 800 px window's chart
        legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
    )


def _rgba(hex_colour: str, alpha: float) -> str:
    red, green, blue = (int(hex_colour[k : k + 2], 16) for k in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def seed_bands(
    bands: Mapping[str, Band], names: Mapping[str, str] | None = None, metric: str = "val_accuracy"
) -> go.Figure:
    """Per strategy its mean curve over seeds, shaded from the lowest to the highest seed at
    each epoch (an epoch only some runs reached is shaded over those)."""
    fig = go.Figure()
    for k, (key, found) in enumerate(bands.items()):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        name = _t((names or {}).get(key, key))
        epochs = list(found.epochs)
        fig.add_trace(
            go.Scatter(
                x=epochs + epochs[::-1],
                y=list(found.high) + list(found.low)[::-1],
                fill="toself",
                fillcolor=_rgba(colour, 0.18),
                line=dict(width=0),
                hoverinfo="skip",
                name=f"{name}: lowest to highest seed",
                legendgroup=key,
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=list(found.mean),
                customdata=list(found.runs),
                mode="lines+markers",
                line=dict(color=colour),
                name=name,
                legendgroup=key,
                hovertemplate="epoch %{x}: mean %{y:.3f} over %{customdata} run(s)<extra></extra>",
            )
        )
    shown = _epoch_axes(fig, metric)
    return _layout(
        fig,
        f"{shown} per epoch: mean over seeds, shaded from the lowest to the highest seed",
        height=420,
        xaxis_title="epoch",
        yaxis_title=shown.lower(),
    )


def seed_accuracy_bars(summary: Summary, names: Mapping[str, str] | None = None) -> go.Figure:
    """Mean accuracy per strategy (best first) with error bars of one sample std across its
    seeds (none with a single seed); the bar's text says over how many seeds."""
    rows = [s for s in summary.strategies if s.accuracy.mean is not None]
    fig = go.Figure(
        go.Bar(
            x=[_t((names or {}).get(s.strategy, s.strategy)) for s in rows],
            y=[s.accuracy.mean for s in rows],
            error_y=dict(type="data", array=[s.accuracy.std or 0.0 for s in rows], visible=True),
            text=[f"{s.accuracy.mean:.1%} (n={s.seeds})" for s in rows],
            textposition="inside",
            marker_color=TRAIN_COLOUR,
            name=summary.score_name,
        )
    )
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    name = summary.score_name[:1].upper() + summary.score_name[1:]
    return _layout(
        fig,
        f"{name} per strategy: mean, error bars ± 1 std across seeds",
        xaxis_title="strategy",
        yaxis_title=summary.score_name,
    )


def test_accuracy_bars(
    names: Sequence[str], accuracies: Sequence[float], intervals: Sequence[tuple[float, float]]
) -> go.Figure:
    """Test accuracy per run, best first, each with its 95% interval as an error bar: bars
    whose intervals overlap are not told apart by this test side."""
    order = sorted(range(len(names)), key=lambda k: -accuracies[k])
    fig = go.Figure(
        go.Bar(
            x=[_t(names[k]) for k in order],
            y=[accuracies[k] for k in order],
            error_y=dict(
                type="data",
                symmetric=False,
                array=[intervals[k][1] - accuracies[k] for k in order],
                arrayminus=[accuracies[k] - intervals[k][0] for k in order],
            ),
            marker_color=TEST_COLOUR,
            name="test accuracy",
            hovertemplate="%{x}: %{y:.1%}<extra></extra>",
        )
    )
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", title="test accuracy")
    return _layout(fig, "Test accuracy (95% interval)", height=360)


# -- predictions ------------------------------------------------------------------------------
def top_k(predictions: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Horizontal bars of class probabilities, the most likely at the top."""
    names = [_t(p["class"]) for p in predictions]
    values = [float(p["probability"]) for p in predictions]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            text=[f"{v:.1%}" for v in values],
            textposition="auto",
            marker_color=TRAIN_COLOUR,
            name="probability",
        )
    )
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title="probability")
    fig.update_yaxes(autorange="reversed", type="category")
    return _layout(fig, "Most likely classes", height=120 + 40 * len(names))


# -- the learning-rate finder -----------------------------------------------------------------
def lr_find_curve(result: LrFindResult) -> go.Figure:
    """The range test: loss per step (faint) and smoothed against the learning rate on a log
    axis, with the suggested rate and the rate in the run's settings as dashed lines."""
    fig = go.Figure()
    rates = list(result.learning_rates)
    fig.add_trace(
        go.Scatter(
            x=rates,
            y=list(result.losses),
            mode="lines",
            name="loss per step",
            line=dict(color=FROZEN_COLOUR, width=1),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=rates,
            y=list(result.smoothed),
            mode="lines",
            name="smoothed loss",
            line=dict(color=TRAIN_COLOUR, width=2),
        )
    )
    values = [v for v in (*result.losses, *result.smoothed) if math.isfinite(v)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    marks = (
        (result.suggestion, "suggested", MARKER_COLOUR),
        (result.current_rate, "in your settings", NOT_COMPARABLE_COLOUR),
    )
    for rate, words, colour in marks:
        if rate is None:
            continue
        # a line drawn as a trace: layout shapes on a log axis want log10 coordinates
        fig.add_trace(
            go.Scatter(
                x=[rate, rate],
                y=[low, high],
                mode="lines",
                name=f"{words}: {rate:.1e}",
                line=dict(color=colour, dash="dash"),
            )
        )
    fig.update_xaxes(type="log", title="learning rate", exponentformat="power")
    fig.update_yaxes(title="training loss")
    return _layout(fig, "Loss vs learning rate (range test)", height=380)
