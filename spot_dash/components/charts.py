"""Plotly figures: the chord diagram of one IP, the dendrogram of a DNS client's queries, the ingest
summary. Geometry is computed here with numpy (plotly has no chord or dendrogram trace)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pyarrow as pa

from spot_dash.data import Chord

# D3's category20, as Spot's chord diagram used
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
           "#dbdb8d", "#9edae5"]
FONT = dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=12, color="#1f2933")
PAD = 0.05  # radians between groups, as Spot's d3.layout.chord().padding(.05)
INNER, OUTER = 1.0, 1.08


def _base(height: int) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), paper_bgcolor="rgba(0,0,0,0)",
                      plot_bgcolor="rgba(0,0,0,0)", font=FONT, showlegend=False, hoverlabel=dict(font=FONT))
    return fig


def _arc(a0: float, a1: float, radius: float, n: int = 24) -> np.ndarray:
    t = np.linspace(a0, a1, max(n, 2))
    return np.column_stack([radius * np.sin(t), radius * np.cos(t)])


def _bezier(p0: np.ndarray, p1: np.ndarray, n: int = 20) -> np.ndarray:
    """A quadratic curve from p0 to p1 through the pull of the centre, as d3's ribbon draws."""
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + (t ** 2) * p1


def chord_layout(matrix: np.ndarray) -> tuple[list[tuple[float, float]], dict[tuple[int, int], tuple]]:
    """Group arcs and ribbon ends of an undirected chord diagram of ``matrix + matrix.T``.

    Returns the (start, end) angle of each group, and per pair (i, j) with traffic the sub-arc it takes
    on i and on j. A group's arc is proportional to all bytes it sent or received.
    """
    sym = matrix + matrix.T - np.diag(np.diag(matrix))
    sizes = sym.sum(axis=1)
    total = sizes.sum()
    n = len(sizes)
    span = 2 * np.pi - PAD * n
    groups, ends, angle = [], {}, 0.0
    for i in range(n):
        width = span * sizes[i] / total if total else 0.0
        groups.append((angle, angle + width))
        cursor = angle
        for j in range(n):
            share = span * sym[i, j] / total if total else 0.0
            if sym[i, j] > 0:
                ends[(i, j)] = (cursor, cursor + share)
            cursor += share
        angle += width + PAD
    return groups, ends


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def chord_figure(chord: Chord) -> go.Figure:
    fig = _base(420)
    groups, ends = chord_layout(chord.matrix)
    total = chord.matrix.sum()
    colour = {i: PALETTE[i % len(PALETTE)] for i in range(len(chord.labels))}
    for (i, j), (a0, a1) in ends.items():
        if i > j or (j, i) not in ends:
            continue
        b0, b1 = ends[(j, i)]
        side_i, side_j = _arc(a0, a1, INNER), _arc(b0, b1, INNER)
        path = np.vstack([side_i, _bezier(side_i[-1], side_j[0]), side_j, _bezier(side_j[-1], side_i[0])])
        text = (f"{chord.labels[i]} → {chord.labels[j]}: {_bytes(chord.matrix[i, j])}<br>"
                f"{chord.labels[j]} → {chord.labels[i]}: {_bytes(chord.matrix[j, i])}")
        fig.add_trace(go.Scatter(x=path[:, 0], y=path[:, 1], fill="toself", mode="lines", line=dict(width=0.5, color="white"),
                                 fillcolor=colour[j if i == 0 else i], opacity=0.55, hoveron="fills",
                                 hoverinfo="text", text=text, name=""))
    many = len(chord.labels) > 10
    for i, (a0, a1) in enumerate(groups):
        if a1 <= a0:
            continue
        ring = np.vstack([_arc(a0, a1, INNER), _arc(a1, a0, OUTER)])
        sent, received = chord.matrix[i].sum(), chord.matrix[:, i].sum()
        share = (sent + received) / (2 * total) if total else 0
        label = chord.labels[i]
        fig.add_trace(go.Scatter(x=ring[:, 0], y=ring[:, 1], fill="toself", mode="lines", fillcolor=colour[i],
                                 line=dict(width=0.5, color=colour[i]), hoveron="fills", hoverinfo="text", name="",
                                 text=f"<b>{label}</b><br>sent {_bytes(sent)} · received {_bytes(received)}<br>{share:.1%} of the bytes"))
        if many and share <= 0.005 and i != 0:
            continue  # Spot hid the labels of small IPs when there were many
        mid = (a0 + a1) / 2
        x, y = 1.2 * np.sin(mid), 1.2 * np.cos(mid)
        fig.add_annotation(x=x, y=y, text=f"<b>{label}</b>" if i == 0 else label, showarrow=False,
                           xanchor="left" if x > 0.05 else "right" if x < -0.05 else "center", font=dict(size=11))
    axis = dict(visible=False, range=[-1.75, 1.75], fixedrange=False)
    fig.update_layout(xaxis=axis, yaxis={**axis, "scaleanchor": "x"}, dragmode="pan")
    return fig


def dendrogram_figure(tree: pa.Table, ip: str) -> go.Figure:
    """Client → query names → answers, drawn left to right with elbow links."""
    names = tree["dns_qry_name"].to_pylist()
    answers = tree["dns_a"].to_pylist()
    counts = tree["dns_a_count"].to_pylist()
    order: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        order.setdefault(name, []).append(i)
    leaves, name_y, y = [], {}, 0
    for name, rows in order.items():
        ys = []
        for i in rows:
            leaves.append((i, y))
            ys.append(y)
            y += 1
        name_y[name] = float(np.mean(ys))
    root_y = float(np.mean(list(name_y.values()))) if name_y else 0.0
    xs, ys = [], []

    def link(x0, y0, x1, y1):
        xm = (x0 + x1) / 2
        xs.extend([x0, xm, xm, x1, None])
        ys.extend([y0, y0, y1, y1, None])

    for name, ny in name_y.items():
        link(0, root_y, 1, ny)
    for i, ly in leaves:
        link(1, name_y[names[i]], 2, ly)
    fig = _base(max(260, 22 * len(leaves) + 40))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#9aa5b1", width=1), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[0], y=[root_y], mode="markers+text", text=[f"<b>{ip}</b>"], textposition="middle left",
                             marker=dict(size=12, color="#f7a706"), hoverinfo="text", hovertext=[f"client {ip}"]))
    fig.add_trace(go.Scatter(x=[1] * len(name_y), y=list(name_y.values()), mode="markers+text", text=list(name_y),
                             textposition="top center", marker=dict(size=9, color="#5bc0de", symbol="diamond"),
                             hoverinfo="text", hovertext=[f"query {n}" for n in name_y]))
    fig.add_trace(go.Scatter(x=[2] * len(leaves), y=[ly for _, ly in leaves], mode="markers+text",
                             text=[answers[i] or "(no answer)" for i, _ in leaves], textposition="middle right",
                             marker=dict(size=7, color="#7b8794"), hoverinfo="text",
                             hovertext=[f"{names[i]} → {answers[i] or '(no answer)'}: {counts[i]}×" for i, _ in leaves]))
    fig.update_layout(xaxis=dict(visible=False, range=[-0.9, 3.2]),
                      yaxis=dict(visible=False, autorange="reversed"), dragmode="pan")
    return fig


def ingest_figure(series: pa.Table) -> go.Figure:
    """Records per minute, zoomable with the wheel and the range slider, draggable along time."""
    fig = _base(440)
    fig.add_trace(go.Scatter(x=series["minute"].to_pylist(), y=series["total"].to_pylist(), mode="lines",
                             fill="tozeroy", line=dict(color="#1f6feb", width=1), fillcolor="rgba(31,111,235,0.25)",
                             hovertemplate="%{x|%Y-%m-%d %H:%M} UTC<br>%{y:,} records<extra></extra>"))
    fig.update_layout(margin=dict(l=60, r=20, t=10, b=10), dragmode="pan",
                      xaxis=dict(rangeslider=dict(visible=True, thickness=0.08), type="date", gridcolor="#e4e7eb"),
                      yaxis=dict(title="records per minute", gridcolor="#e4e7eb", rangemode="tozero", fixedrange=True))
    return fig
