"""The scoring panel (spec §5.2): a combo box per key column (first entry "all"), the risk, quick
scoring, Score (queue) and Save (write to the analyst store)."""

from __future__ import annotations

from dash import dcc, html

from resources.store import RATING_KEYS

RISK = "score-risk"
QUICK = "score-quick"
SCORE = "score-button"
SAVE = "save-button"
MESSAGE = "score-message"
PENDING_LIST = "score-pending"

KEY_LABELS = {"sip": "Source IP", "dip": "Destination IP", "sport": "Source port", "dport": "Destination port",
              "ip_dst": "Client IP", "dns_qry_name": "Query", "clientip": "Client IP", "fulluri": "Full URI"}
QUICK_LABEL = {"flow": "Quick IP scoring", "dns": "Quick query scoring", "proxy": "Quick URI scoring"}
QUICK_PLACEHOLDER = {"flow": "an IP, as source or destination", "dns": "a query name", "proxy": "a full URI"}


def key_dropdown_id(key: str) -> dict:
    return {"type": "score-key", "key": key}


def options(values: list) -> list[dict]:
    return [{"label": "all", "value": "all"}] + [{"label": str(v), "value": str(v)} for v in values]


def scoring_panel(data_type: str):
    keys = RATING_KEYS[data_type]
    boxes = [html.Div([html.Label(KEY_LABELS[k], className="field-label"),
                       dcc.Dropdown(id=key_dropdown_id(k), options=options([]), value="all", clearable=False,
                                    searchable=True, className="key-box")], className="field")
             for k in keys]
    return html.Div([
        html.Div(boxes, className=f"key-grid keys-{len(keys)}"),
        html.Div([html.Label(QUICK_LABEL[data_type], htmlFor=QUICK, className="field-label"),
                  dcc.Input(id=QUICK, type="text", placeholder=QUICK_PLACEHOLDER[data_type], debounce=False,
                            maxLength=512, className="text-input")], className="field"),
        html.Div([
            html.Span("Risk", className="field-label"),
            dcc.RadioItems(id=RISK, value=1, inline=True, className="risk",
                           options=[{"label": html.Span("1 High", className="risk-1"), "value": 1},
                                    {"label": html.Span("2 Medium", className="risk-2"), "value": 2},
                                    {"label": html.Span("3 Low", className="risk-3"), "value": 3}]),
        ], className="field risk-field"),
        html.Div([html.Button("Score", id=SCORE, className="btn secondary", n_clicks=0),
                  html.Button("Save", id=SAVE, className="btn primary", n_clicks=0)], className="buttons"),
        html.Div(id=PENDING_LIST, className="pending"),
        html.Div(id=MESSAGE, className="score-message", role="status"),
        html.P("Saved ratings leave the list; ratings of 3 (low risk) teach the next model run.", className="hint"),
    ], className="scoring")
