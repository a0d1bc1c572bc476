#!/usr/bin/env python3
"""Writes the Grafana dashboards in dashboards/ from the panel lists below.

Edit this file, run `python3 deploy/grafana/generate.py`, commit both. The
test services/vigil/tests/deploy_files.rs checks that every metric name the
dashboards use is exported by a running Vigil.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def target(ref, expr, legend=None):
    t = {"refId": ref, "expr": expr}
    if legend:
        t["legendFormat"] = legend
    return t


def panel(kind, title, exprs, unit="short", w=12, h=8, description="", overrides=None,
          min_max=None):
    """exprs: a list of (expr, legend) pairs."""
    refs = "ABCDEFGHIJ"
    defaults = {"unit": unit}
    if min_max:
        defaults["min"], defaults["max"] = min_max
    return {
        "type": kind,
        "title": title,
        "description": description,
        "w": w,
        "h": h,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "targets": [target(refs[i], e, l) for i, (e, l) in enumerate(exprs)],
    }


def stat(title, expr, unit="short", description=""):
    return panel("stat", title, [(expr, None)], unit=unit, w=6, h=4, description=description)


def series(title, exprs, unit="short", description="", **kw):
    return panel("timeseries", title, exprs, unit=unit, description=description, **kw)


def band(title, metric, selector, legend, description, unit="percentunit"):
    """A rate with its Wilson 95% interval drawn as a shaded band."""
    lower_name = legend.replace("{{group}}", "lower {{group}}")
    upper_name = legend.replace("{{group}}", "upper {{group}}")
    overrides = [
        {
            "matcher": {"id": "byRegexp", "options": "^upper .*"},
            "properties": [
                {"id": "custom.fillBelowTo", "value": "lower"},
                {"id": "custom.lineWidth", "value": 0},
                {"id": "custom.fillOpacity", "value": 20},
            ],
        },
        {
            "matcher": {"id": "byRegexp", "options": "^lower .*"},
            "properties": [{"id": "custom.lineWidth", "value": 0}],
        },
    ]
    return series(
        title,
        [
            (f"{metric}{selector}", legend),
            (f"{metric}_lower{selector}", lower_name),
            (f"{metric}_upper{selector}", upper_name),
        ],
        unit=unit,
        description=description,
        overrides=overrides,
        min_max=(0, 1),
    )


def dashboard(uid, title, panels, description=""):
    x = y = 0
    row_h = 0
    out = []
    for i, p in enumerate(panels, start=1):
        w, h = p.pop("w"), p.pop("h")
        if x + w > 24:
            x, y = 0, y + row_h
            row_h = 0
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        p["id"] = i
        x += w
        row_h = max(row_h, h)
        out.append(p)
    return {
        "title": title,
        "uid": uid,
        "description": description,
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "tags": ["vigil"],
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus",
                 "label": "Data source"}
            ]
        },
        "annotations": {"list": []},
        "links": [{"title": "Vigil", "type": "dashboards", "tags": ["vigil"], "asDropdown": True}],
        "panels": out,
    }


def rate(metric, by=None, window="5m", selector=""):
    inner = f"rate({metric}{selector}[{window}])"
    return f"sum by ({by}) ({inner})" if by else f"sum({inner})"


PIPELINE = [
    stat("Uploads accepted / s", "vigil:uploads_accepted:rate5m", "reqps"),
    stat("Takedowns / h", 'sum(increase(vigil_worker_verdicts_total{action="takedown"}[1h]))'),
    stat("Consumer lag", "vigil:consumer_lag_messages:sum",
         description="Uploads waiting on vigil.uploads"),
    stat("Bank entries loaded", "max(vigil_hashdb_entries)"),
    series("Uploads by outcome",
           [(rate("vigil_hook_uploads_received_total", "outcome"), "{{outcome}}")], "reqps"),
    series("Verdicts by action", [("vigil:verdicts:rate5m", "{{action}}")], "reqps"),
    series("Upload to verdict latency", [
        ("histogram_quantile(0.5, sum by (le) (rate(vigil_worker_upload_to_verdict_seconds_bucket[5m])))", "p50"),
        ("histogram_quantile(0.99, sum by (le) (rate(vigil_worker_upload_to_verdict_seconds_bucket[5m])))", "p99"),
    ], "s"),
    series("Stage duration p99", [("vigil:stage_duration_seconds:p99_5m", "{{stage}}")], "s"),
    series("Dead-lettered by error kind",
           [(rate("vigil_worker_dlq_total", "error_kind"), "{{error_kind}}")], "reqps"),
    series("Decode errors by kind",
           [(rate("vigil_worker_decode_errors_total", "kind"), "{{kind}}")], "reqps"),
    series("Decode error share", [("vigil:decode_errors:ratio10m", "decode errors / uploads")],
           "percentunit", description="Alert VigilDecodeErrorSpike above 5%."),
    series("Refused requests by problem", [
        (rate("vigil_hook_bad_requests_total", "kind"), "{{kind}}"),
        (rate("vigil_hook_mislabelled_uploads_total", "declared"), "mislabelled {{declared}}"),
    ], "reqps"),
    series("Consumer lag per partition",
           [("vigil_worker_consumer_lag_messages", "{{topic}}/{{partition}}")]),
    series("Retries and redeliveries", [
        (rate("vigil_worker_retries_total", "operation"), "retry {{operation}}"),
        (rate("vigil_worker_redelivered_total"), "redelivered"),
    ], "reqps"),
    series("Hook request latency p99", [
        ("histogram_quantile(0.99, sum by (le, route) (rate(vigil_hook_request_duration_seconds_bucket[5m])))", "{{route}}"),
    ], "s"),
    series("Bank change-log records applied",
           [(rate("vigil_hashdb_changes_applied_total", "outcome"), "{{outcome}}")], "reqps"),
    series("Running versions", [("sum by (version) (vigil_build_info)", "{{version}}")],
           description="Processes per build version: more than one line during a rollout."),
    series("Alerts firing", [('sum by (alertname) (ALERTS{alertstate="firing", alertname=~"Vigil.*"})', "{{alertname}}")],
           description="Vigil's alert rules (deploy/prometheus/alerts.yml) currently firing."),
]

REVIEW = [
    stat("Open items", 'max(vigil_review_queue_items{state="open"})'),
    stat("Escalated (leads)", 'max(vigil_review_queue_items{state="escalated"})'),
    stat("Open appeals", 'max(vigil_review_queue_items{state="appeals"})'),
    stat("Oldest open item", 'max(vigil_review_queue_oldest_age_seconds{state="open"})', "s",
         description="Alert VigilReviewQueueOld above 4 hours."),
    series("Queue depth by state", [("max by (state) (vigil_review_queue_items)", "{{state}}")]),
    series("Oldest open item age", [('max(vigil_review_queue_oldest_age_seconds{state="open"})', "oldest open")], "s"),
    series("Decisions / h by decision", [("sum by (decision) (vigil:review_decisions:rate1h) * 3600", "{{decision}}")],
           description="Reviewer throughput."),
    series("Decisions / h by kind", [("sum by (kind) (vigil:review_decisions:rate1h) * 3600", "{{kind}}")],
           description="First reviews against appeals."),
    series("Overturned share of decisions",
           [('sum(rate(vigil_review_decisions_total{decision="overturn"}[1h])) / clamp_min(sum(rate(vigil_review_decisions_total{decision!="escalate"}[1h])), 1e-9)', "overturn / final decisions")],
           "percentunit", min_max=(0, 1)),
    series("Claims by outcome", [(rate("vigil_review_claims_total", "outcome"), "{{outcome}}")], "reqps"),
    series("Appeals by outcome", [(rate("vigil_review_appeals_total", "outcome", "1h"), "{{outcome}}")], "reqps"),
    series("Refused review requests", [(rate("vigil_review_refusals_total", "kind"), "{{kind}}")], "reqps"),
    series("Sign-ins by outcome", [(rate("vigil_review_logins_total", "outcome"), "{{outcome}}")], "reqps"),
    series("Decisions produced to vigil.decisions",
           [(rate("vigil_review_decisions_published_total", "outcome"), "{{outcome}}")], "reqps"),
    series("Evidence purged after retention",
           [("sum(increase(vigil_review_evidence_purged_total[1h]))", "purged / h")]),
]


def write(name, dash):
    path = os.path.join(HERE, "dashboards", name)
    with open(path, "w") as f:
        json.dump(dash, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    write("vigil-pipeline.json", dashboard("vigil-pipeline", "Vigil pipeline", PIPELINE,
          "Uploads in, verdicts out: throughput, latency, errors, lag."))
    write("vigil-review.json", dashboard("vigil-review", "Vigil review operations", REVIEW,
          "Human review: queue depth and age, throughput, decisions, appeals."))
