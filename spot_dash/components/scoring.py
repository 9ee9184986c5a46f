"""The scoring panel (spec §5.2): a combo box per key column (first entry "all"), the risk, quick
scoring, Score (queue) and Save (write to the analyst store). In the priority order Score rates the
selected row's entity instead (1 raises it, 3 suppresses it), so the key boxes are hidden (kept in
the page: the callbacks are the same in both orders)."""

from __future__ import annotations

from dash import dcc, html

from resources.store import FEEDBACK_DAYS
from spot_assets.datatypes import DATA_TYPES
from spot_dash import priority_data as prio
from spot_dash.views import view

RISK = "score-risk"
QUICK = "score-quick"
SCORE = "score-button"
SAVE = "save-button"
MESSAGE = "score-message"
PENDING_LIST = "score-pending"
FINDING = "score-finding"

KEY_LABELS = {"sip": "Source IP", "dip": "Destination IP", "sport": "Source port", "dport": "Destination port",
              "ip_dst": "Client IP", "dns_qry_name": "Query", "clientip": "Client IP", "fulluri": "Full URI"}


def key_dropdown_id(key: str) -> dict:
    return {"type": "score-key", "key": key}


def options(values: list) -> list[dict]:
    return [{"label": "all", "value": "all"}] + [{"label": str(v), "value": str(v)} for v in values]


AS_RATING_HINT = ("A flow finding's rating is also a Spot rating of its source, destination and port: 3 teaches "
                  "the next model run, 1 lists its IPs under Threat investigation.")
NOT_RATING_HINT = "Spot's LDA feedback and Threat investigation come from ratings in Spot's LDA order."


def _risk(findings: bool):
    if findings:
        options = [{"label": html.Span("1 High: raise", className="risk-1"), "value": 1},
                   {"label": html.Span("3 Low: suppress", className="risk-3"), "value": 3}]
    else:
        options = [{"label": html.Span("1 High", className="risk-1"), "value": 1},
                   {"label": html.Span("2 Medium", className="risk-2"), "value": 2},
                   {"label": html.Span("3 Low", className="risk-3"), "value": 3}]
    return dcc.RadioItems(id=RISK, value=1, inline=True, className="risk", options=options)


def scoring_panel(data_type: str, findings: bool = False):
    """``findings``: the panel of the priority order, which rates the selected row's entity."""
    keys = DATA_TYPES[data_type].rating_keys
    boxes = [html.Div([html.Label(KEY_LABELS[k], className="field-label"),
                       dcc.Dropdown(id=key_dropdown_id(k), options=options([]), value="all", clearable=False,
                                    searchable=True, className="key-box")], className="field")
             for k in keys]
    hints = ["Saved ratings leave the list; ratings of 3 (low risk) teach the next model run."]
    if findings:
        hints = [f"Score rates the selected row's entity for every detector: 3 suppresses it on later days' lists, "
                 f"1 raises it, each for {FEEDBACK_DAYS} days or until undone below.",
                 AS_RATING_HINT if prio.findings_are_ratings(data_type) else NOT_RATING_HINT]
    return html.Div([
        html.P("Select a row of the list to rate it.", id=FINDING, className="finding-target", hidden=not findings),
        html.Div([
            html.Div(boxes, className=f"key-grid keys-{len(keys)}"),
            html.Div([html.Label(view(data_type).QUICK_LABEL, htmlFor=QUICK, className="field-label"),
                      dcc.Input(id=QUICK, type="text", placeholder=view(data_type).QUICK_PLACEHOLDER, debounce=False,
                                maxLength=512, className="text-input")], className="field"),
        ], hidden=findings),
        html.Div([html.Span("Risk", className="field-label"), _risk(findings)], className="field risk-field"),
        html.Div([html.Button("Score", id=SCORE, className="btn secondary", n_clicks=0),
                  html.Button("Save", id=SAVE, className="btn primary", n_clicks=0)], className="buttons"),
        html.Div(id=PENDING_LIST, className="pending"),
        html.Div(id=MESSAGE, className="score-message", role="status"),
        *(html.P(text, className="hint") for text in hints),
    ], className="scoring")


def feedback_list(items: list) -> list:
    """The feedback on findings in force: per item what it does, to what, by whom, until when, and Undo.
    ``items``: (id, label, severity, detector, analyst, day, expires)."""
    if not items:
        return [html.P("No suppressions or raises in force for this day.", className="hint")]
    return [html.Ul([html.Li([
        html.Span("Suppressed" if severity == 3 else "Raised", className=f"chip risk-{severity}"),
        html.Span(label, className="feedback-entity"),
        html.Span(f"{'all detectors' if detector == '*' else detector} · {analyst}, {day} · until {expires}",
                  className="feedback-meta"),
        html.Button("Undo", id=undo_id(item_id), className="btn ghost small", n_clicks=0),
    ], className="feedback-item") for item_id, label, severity, detector, analyst, day, expires in items],
        className="feedback-list")]


def undo_id(item_id: int) -> dict:
    return {"type": "feedback-undo", "id": item_id}
