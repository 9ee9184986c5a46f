"""Cards and empty states: every panel says what it shows, and an empty one says why it is empty."""

from __future__ import annotations

from dash import html


def card(title, body, *, card_id: str | None = None, title_id: str | None = None, tools=None, class_name: str = ""):
    head = [html.H2(title, id=title_id) if title_id else html.H2(title)]
    if tools is not None:
        head.append(html.Div(tools, className="card-tools"))
    props = {"id": card_id} if card_id else {}
    return html.Section([html.Header(head, className="card-head"), html.Div(body, className="card-body")],
                        className=f"card {class_name}".strip(), **props)


def empty_state(title: str, text="", kind: str = "info", **props):
    """A panel with nothing to show: what is missing and what to do about it."""
    return html.Div([html.Div(className=f"empty-icon {kind}"), html.P(title, className="empty-title"),
                     html.P(text, className="empty-text") if text else None], className="empty", **props)


def notice(text: str, kind: str = "info", **props):
    return html.Div(text, className=f"notice {kind}", **props)
