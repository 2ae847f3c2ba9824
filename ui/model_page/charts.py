"""Plotly figures of the Model & data page, built from plain arrays and dicts.

They take numbers computed in model/ and only draw, so they can be built and
checked without Streamlit.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from model.dataset import CLASS_NAMES
from model.evaluation.data_summary import class_shares, imbalance_ratio
from ui.text import plotly_plain

CLASS_COLOURS = dict(zip(CLASS_NAMES, ("#4C78A8", "#E45756")))
SERIES_COLOURS = {"train": "#4C78A8", "validation": "#F58518", "selection set": "#54A24B"}
CELL_NAMES = (("TN", "FP"), ("FN", "TP"))
HEIGHT = 380


def class_distribution_figure(counts: dict[str, dict[str, int]]) -> go.Figure:
    """One panel per split, so a split of 16 images is as readable as one of 4,000; split names may be the user's."""
    splits = list(counts)
    titles = [
        f"{plotly_plain(split)}<br>{sum(counts[split].values()):,} images · {imbalance_ratio(counts[split]):.2f} : 1"
        for split in splits
    ]
    figure = make_subplots(rows=1, cols=len(splits), subplot_titles=titles)
    for column, split in enumerate(splits, start=1):
        shares = class_shares(counts[split])
        for name in CLASS_NAMES:
            count = counts[split].get(name, 0)
            figure.add_bar(
                x=[name],
                y=[count],
                text=[f"{count:,} ({shares[name]:.0%})"],
                textposition="auto",
                marker_color=CLASS_COLOURS[name],
                name=name,
                legendgroup=name,
                showlegend=column == 1,
                row=1,
                col=column,
            )
    figure.update_yaxes(title_text="images", row=1, col=1)
    figure.update_layout(
        title="Images per class in each split (larger : smaller class ratio under each split's name)",
        height=HEIGHT,
        margin={"t": 110},
    )
    return figure


def image_size_figure(sizes: dict[str, list[tuple[int, int]]]) -> go.Figure:
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=("Width and height (pixels)", "Aspect ratio (width / height)")
    )
    for name, pairs in sizes.items():
        widths = np.asarray([w for w, _ in pairs], dtype=np.float64)
        heights = np.asarray([h for _, h in pairs], dtype=np.float64)
        colour = CLASS_COLOURS.get(name)
        figure.add_scatter(
            x=widths, y=heights, mode="markers", name=name, legendgroup=name,
            marker={"color": colour, "opacity": 0.55, "size": 6}, row=1, col=1,
        )
        figure.add_histogram(
            x=widths / heights, name=name, legendgroup=name, showlegend=False,
            marker_color=colour, opacity=0.6, nbinsx=30, row=1, col=2,
        )
    figure.update_xaxes(title_text="width", row=1, col=1)
    figure.update_yaxes(title_text="height", row=1, col=1)
    figure.update_xaxes(title_text="width / height", row=1, col=2)
    figure.update_yaxes(title_text="images", row=1, col=2)
    figure.update_layout(title="Source image sizes by class", barmode="overlay", height=HEIGHT)
    return figure


def training_curves_figure(history: dict[str, list[float]], best_epoch: int | None) -> go.Figure:
    panels = (("loss", "Loss"), ("accuracy", "Accuracy"), ("auc", "AUROC"))
    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=[title for _, title in panels])
    epochs = max((len(values) for values in history.values()), default=1)
    for column, (key, _) in enumerate(panels, start=1):
        for series, prefix in (("train", ""), ("validation", "val_"), ("selection set", "selection_")):
            values = history.get(prefix + key)
            if not values:
                continue
            figure.add_scatter(
                x=np.arange(1, len(values) + 1), y=values, mode="lines+markers", name=series,
                legendgroup=series, showlegend=column == 1,
                line={"color": SERIES_COLOURS[series], "dash": "solid" if series == "train" else "dash"},
                row=1, col=column,
            )
        if best_epoch is not None:
            figure.add_vline(x=best_epoch, line_dash="dot", line_color="grey", row=1, col=column)
        figure.update_xaxes(title_text="epoch", dtick=max(1, int(np.ceil(epochs / 10))), row=1, col=column)
    title = "Training curves per epoch"
    if best_epoch is not None:
        title += f" (dotted line: best epoch {best_epoch}, the weights kept)"
    figure.update_layout(title=title, height=HEIGHT)
    return figure


def confusion_matrix_figure(matrix: list[list[int]], title: str) -> go.Figure:
    """Counts and row-normalised shares side by side; rows are the true class, columns the prediction."""
    counts = np.asarray(matrix, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = counts / totals
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=("Counts", "Share of each true class"), horizontal_spacing=0.15
    )
    labels = list(CLASS_NAMES)
    for column, (values, fmt) in enumerate(((counts, "{:,.0f}"), (shares, "{:.1%}")), start=1):
        text = [[f"{CELL_NAMES[i][j]}<br>{fmt.format(values[i, j])}" for j in range(2)] for i in range(2)]
        figure.add_heatmap(
            z=values, x=labels, y=labels, text=text, texttemplate="%{text}", colorscale="Blues",
            showscale=False, hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>",
            row=1, col=column,
        )
        figure.update_xaxes(title_text="predicted", row=1, col=column)
        figure.update_yaxes(autorange="reversed", row=1, col=column)
    figure.update_yaxes(title_text="true", row=1, col=1)
    figure.update_layout(title=title, height=HEIGHT)
    return figure


def roc_pr_figure(roc: dict[str, np.ndarray], pr: dict[str, np.ndarray], metrics: dict) -> go.Figure:
    """ROC and precision-recall curves with the operating point of `metrics` marked on both."""
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(
            f"ROC (AUROC {metrics['auroc']:.3f})",
            f"Precision-recall (average precision {metrics['average_precision']:.3f})",
        ),
    )
    operating = f"threshold {metrics['threshold']:.3f}"
    figure.add_scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name="ROC curve", line_color="#4C78A8",
                       row=1, col=1)
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": "grey"},
                       row=1, col=1)
    figure.add_scatter(x=pr["recall"], y=pr["precision"], mode="lines", name="PR curve", line_color="#54A24B",
                       row=1, col=2)
    for column, x, y in (
        (1, 1.0 - metrics["specificity"], metrics["sensitivity"]),
        (2, metrics["sensitivity"], metrics["precision"]),
    ):
        figure.add_scatter(
            x=[x], y=[y], mode="markers+text", text=[operating], textposition="bottom right",
            marker={"size": 12, "color": "#E45756", "symbol": "x"}, name="operating point",
            legendgroup="operating", showlegend=column == 1, row=1, col=column,
        )
    figure.update_xaxes(title_text="1 - specificity (false positive rate)", range=[-0.02, 1.02], row=1, col=1)
    figure.update_yaxes(title_text="sensitivity (true positive rate)", range=[-0.02, 1.02], row=1, col=1)
    figure.update_xaxes(title_text="recall (sensitivity)", range=[-0.02, 1.02], row=1, col=2)
    figure.update_yaxes(title_text="precision (PPV)", range=[-0.02, 1.02], row=1, col=2)
    figure.update_layout(title="ROC and precision-recall curves", height=HEIGHT)
    return figure


def threshold_sweep_figure(sweep: dict[str, np.ndarray], chosen: float, shipped: float) -> go.Figure:
    figure = go.Figure()
    for key, label, colour in (("sensitivity", "sensitivity", "#E45756"), ("specificity", "specificity", "#4C78A8"),
                               ("precision", "PPV", "#54A24B"), ("npv", "NPV", "#B279A2")):
        figure.add_scatter(x=sweep["threshold"], y=sweep[key], mode="lines", name=label, line_color=colour)
    figure.add_vline(x=shipped, line_color="black", annotation_text=f"shipped {shipped:.3f}",
                     annotation_position="top left")
    figure.add_vline(x=chosen, line_color="#E45756", line_dash="dash", annotation_text=f"chosen {chosen:.3f}",
                     annotation_position="bottom right")
    figure.update_layout(
        title="Rates against the threshold", xaxis_title="threshold on the calibrated probability",
        yaxis_title="rate", yaxis_range=[-0.02, 1.02], height=HEIGHT,
    )
    return figure


def reliability_figure(before: dict, after: dict, temperature: float) -> go.Figure:
    """Observed pneumonia frequency against mean predicted probability per bin; the diagonal is perfect."""
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                       line={"dash": "dot", "color": "grey"})
    for label, bins, colour in (
        ("before: sigmoid(logit)", before, "#F58518"),
        (f"after: sigmoid(logit / {temperature:.3f})", after, "#4C78A8"),
    ):
        filled = np.asarray(bins["count"]) > 0
        figure.add_scatter(
            x=np.asarray(bins["mean_probability"])[filled],
            y=np.asarray(bins["observed_frequency"])[filled],
            customdata=np.asarray(bins["count"])[filled],
            mode="lines+markers",
            name=f"{label}, ECE {bins['ece']:.4f}",
            line_color=colour,
            hovertemplate="mean probability %{x:.3f}<br>observed %{y:.3f}<br>%{customdata} images<extra></extra>",
        )
    figure.update_layout(
        title="Reliability diagram before and after temperature scaling",
        xaxis_title="mean predicted probability of pneumonia (per bin)",
        yaxis_title="observed share with pneumonia",
        xaxis_range=[-0.02, 1.02], yaxis_range=[-0.02, 1.02], height=HEIGHT,
    )
    return figure
