"""Plotly figures: the chord diagram of one IP, dendrograms (a DNS client's queries, a threat's incident
progression), the ingest summary. Geometry is computed here with numpy (plotly has no chord or dendrogram trace)."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
import pyarrow as pa

from spot_dash.details_data import Chord

# D3's category20, as Spot's chord diagram used
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
           "#dbdb8d", "#9edae5"]
FONT = dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=12, color="#1f2933")
PAD = 0.05  # radians between groups, as Spot's d3.layout.chord().padding(.05)
INNER, OUTER = 1.0, 1.08


def plain(value) -> str:
    """Text from the data as plotly shows it: plotly reads ``<b>``, ``<br>`` and ``<a href>`` in labels and
    hover text, so a query name or URI from the wire is escaped (plotly decodes the entities back)."""
    return html.escape(str(value), quote=False)


def base_figure(height: int) -> go.Figure:
    fig = go.Figure()
    # The mode bar's default background derives from the (transparent) paper: a dark box over the card.
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), paper_bgcolor="rgba(0,0,0,0)",
                      plot_bgcolor="rgba(0,0,0,0)", font=FONT, showlegend=False, hoverlabel=dict(font=FONT),
                      modebar=dict(bgcolor="rgba(255,255,255,0.85)", color="#9aa5b1", activecolor="#1f6feb"))
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


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def chord_figure(chord: Chord) -> go.Figure:
    fig = base_figure(420)
    groups, ends = chord_layout(chord.matrix)
    total = chord.matrix.sum()
    colour = {i: PALETTE[i % len(PALETTE)] for i in range(len(chord.labels))}
    for (i, j), (a0, a1) in ends.items():
        if i > j or (j, i) not in ends:
            continue
        b0, b1 = ends[(j, i)]
        side_i, side_j = _arc(a0, a1, INNER), _arc(b0, b1, INNER)
        path = np.vstack([side_i, _bezier(side_i[-1], side_j[0]), side_j, _bezier(side_j[-1], side_i[0])])
        text = (f"{chord.labels[i]} → {chord.labels[j]}: {human_bytes(chord.matrix[i, j])}<br>"
                f"{chord.labels[j]} → {chord.labels[i]}: {human_bytes(chord.matrix[j, i])}")
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
                                 text=f"<b>{label}</b><br>sent {human_bytes(sent)} · received {human_bytes(received)}<br>{share:.1%} of the bytes"))
        if many and share <= 0.005 and i != 0:
            continue  # Spot hid the labels of small IPs when there were many
        mid = (a0 + a1) / 2
        x, y = 1.2 * np.sin(mid), 1.2 * np.cos(mid)
        fig.add_annotation(x=x, y=y, text=f"<b>{label}</b>" if i == 0 else label, showarrow=False,
                           xanchor="left" if x > 0.05 else "right" if x < -0.05 else "center", font=dict(size=11))
    axis = dict(visible=False, range=[-1.75, 1.75], fixedrange=False)
    fig.update_layout(xaxis=axis, yaxis={**axis, "scaleanchor": "x"}, dragmode="pan")
    return fig


def _tree_layout(root: dict) -> tuple[list[tuple[dict, int, float]], list[tuple[int, float, int, float]]]:
    """Leaves one row apart in order, a parent midway between its children: (node, depth, y) per node
    and (x0, y0, x1, y1) per link."""
    nodes, links, rows = [], [], [0]

    def place(node: dict, depth: int) -> float:
        children = node.get("children") or []
        if children:
            ys = [place(child, depth + 1) for child in children]
            y = float(np.mean(ys))
            links.extend((depth, y, depth + 1, cy) for cy in ys)
        else:
            y = float(rows[0])
            rows[0] += 1
        nodes.append((node, depth, y))
        return y

    place(root, 0)
    return nodes, links


# Marker and label of each depth: the root, the middle levels, the leaves.
TREE_STYLES = [dict(size=12, color="#f7a706", symbol="circle", textposition="middle left"),
               dict(size=9, color="#5bc0de", symbol="diamond", textposition="top center"),
               dict(size=7, color="#7b8794", symbol="circle", textposition="middle right")]


def tree_figure(root: dict, styles: list[dict] = TREE_STYLES) -> go.Figure:
    """A left-to-right dendrogram with elbow links of ``{"name", "hover", "children": [...]}``;
    ``styles[d]`` draws depth ``d`` (the last style serves every deeper level)."""
    nodes, links = _tree_layout(root)
    depth = max(d for _, d, _ in nodes)
    xs, ys = [], []
    for x0, y0, x1, y1 in links:
        xm = (x0 + x1) / 2
        xs.extend([x0, xm, xm, x1, None])
        ys.extend([y0, y0, y1, y1, None])
    leaves = sum(1 for n, _, _ in nodes if not n.get("children"))
    fig = base_figure(max(260, 22 * leaves + 40))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#9aa5b1", width=1), hoverinfo="skip"))
    for d in range(depth + 1):
        level = [(n, y) for n, nd, y in nodes if nd == d]
        style = dict(styles[min(d, len(styles) - 1)])
        if d == depth and d > 0:
            style["textposition"] = "middle right"
        fig.add_trace(go.Scatter(
            x=[d] * len(level), y=[y for _, y in level], mode="markers+text", text=[n["name"] for n, _ in level],
            textposition=style.pop("textposition"), marker=style, hoverinfo="text",
            hovertext=[n.get("hover", n["name"]) for n, _ in level]))
    fig.update_layout(xaxis=dict(visible=False, range=[-0.9, depth + 1.2]),
                      yaxis=dict(visible=False, autorange="reversed"), dragmode="pan")
    return fig


def dendrogram_figure(tree: pa.Table, ip: str) -> go.Figure:
    """Client → query names → answers."""
    names, answers, counts = tree["dns_qry_name"].to_pylist(), tree["dns_a"].to_pylist(), tree["queries"].to_pylist()
    by_name: dict[str, list[dict]] = {}
    for name, answer, count in zip(map(plain, names), answers, counts):
        answer = plain(answer) if answer else "(no answer)"
        by_name.setdefault(name, []).append({"name": answer, "hover": f"{name} → {answer}: {count}×"})
    return tree_figure({"name": f"<b>{plain(ip)}</b>", "hover": f"client {plain(ip)}",
                        "children": [{"name": n, "hover": f"query {n}", "children": c} for n, c in by_name.items()]})


def ingest_figure(series: pa.Table) -> go.Figure:
    """Records per minute, zoomable with the wheel and the range slider, draggable along time."""
    fig = base_figure(440)
    fig.add_trace(go.Scatter(x=series["minute"].to_pylist(), y=series["total"].to_pylist(), mode="lines",
                             fill="tozeroy", line=dict(color="#1f6feb", width=1), fillcolor="rgba(31,111,235,0.25)",
                             hovertemplate="%{x|%Y-%m-%d %H:%M} UTC<br>%{y:,} records<extra></extra>"))
    fig.update_layout(margin=dict(l=60, r=20, t=10, b=10), dragmode="pan",
                      xaxis=dict(rangeslider=dict(visible=True, thickness=0.08), type="date", gridcolor="#e4e7eb"),
                      yaxis=dict(title="records per minute", gridcolor="#e4e7eb", rangemode="tozero", fixedrange=True))
    return fig
