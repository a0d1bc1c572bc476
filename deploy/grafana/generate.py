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
    series("Hostile media / h", [
        ("sum(increase(vigil_worker_poison_records_total[1h]))", "poison records (not analysed, to review)"),
        ('sum(increase(vigil_worker_decode_errors_total{kind="decoder_panic"}[1h]))', "decoder panics (contained)"),
    ], description="Uploads that kept killing the process analysing them (alert VigilPoisonRecord) and "
                   "decoder panics contained (alert VigilDecoderPanics); docs/hardening.md."),
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
    # Actions to the platform (docs/actions.md).
    series("Actions delivered by kind and sink",
           [(rate("vigil_actions_delivered_total", "kind, sink"), "{{kind}} to {{sink}}")], "reqps",
           description="Takedowns, restrictions and reinstatements acknowledged by vigil.actions and the webhook."),
    series("Actions waiting for delivery", [("max(vigil_actions_pending)", "pending (parked included)")],
           description="Alert VigilActionsUndelivered when actions wait and none is delivered for 15 minutes."),
    series("Action delivery failures", [
        (rate("vigil_action_delivery_failures_total", "sink, reason"), "{{sink}} {{reason}}"),
    ], "reqps", description="All retried with backoff, except webhook `rejected` (a 4xx): parked, alert VigilActionsRefused."),
    series("Action created to delivered", [
        ("histogram_quantile(0.5, sum by (le) (rate(vigil_action_delivery_seconds_bucket[5m])))", "p50"),
        ("histogram_quantile(0.99, sum by (le) (rate(vigil_action_delivery_seconds_bucket[5m])))", "p99"),
    ], "s", description="From the verdict or decision to the last sink's acknowledgement."),
    series("Kafka producers replaced / h",
           [("sum by (client, reason) (increase(vigil_kafka_producer_restarts_total[1h]))", "{{client}} {{reason}}")],
           description="A producer whose sends kept failing (outage, fenced producer id) was replaced. "
                       "Alert VigilKafkaProducerRestarting."),
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

FP = "vigil_accountability_false_positive_rate"
MISS = "vigil_accountability_miss_rate"
APPEAL = "vigil_accountability_appeal_overturn_rate"

ACCOUNTABILITY = [
    stat("False-positive rate (all automated actions)", f'max({FP}{{by="all"}})', "percentunit",
         description="Overturned share of the blind audit sample of automated actions."),
    stat("False-positive 95% interval", f'max({FP}_upper{{by="all"}})', "percentunit",
         description="Upper Wilson bound: the rate is below this with 95% confidence."),
    stat("Miss rate (passed uploads)", f'max({MISS}{{by="all"}})', "percentunit",
         description="Violating share of the blind audit sample of passed uploads."),
    stat("Audited items behind the estimates",
         'max(vigil_accountability_false_positive_sample_size{by="all"}) + max(vigil_accountability_miss_sample_size{by="all"})'),
    band("False-positive rate, all automated actions", FP, '{by="all"}', "{{group}}",
         "Estimate with its Wilson 95% band. The budget panel beside it shows what the policy accepts."),
    series("False-positive budget", [
        ("max(vigil_accountability_false_positive_budget)", "false-positive budget"),
        ("max(vigil_accountability_miss_budget)", "miss budget"),
    ], "percentunit", min_max=(0, 1),
        description="From the policy's [audit] section; the alerts compare the bounds with these."),
    band("False-positive rate by bank", FP, '{by="bank"}', "{{group}}",
         "Per bank, with Wilson 95% bands. Small banks have wide bands: read the sample size."),
    band("False-positive rate by label", FP, '{by="label"}', "{{group}}",
         "Per behaviour label of the matched entries."),
    band("False-positive rate by signal and model", FP, '{by=~"signal|model"}', "{{group}}",
         "PDQ, MD5, SHA-256, vPDQ matches and the classifier."),
    band("Miss rate, all passed uploads", MISS, '{by="all"}', "{{group}}",
         "Violating share of audited passed uploads, with its Wilson 95% band."),
    band("Miss rate by surface and model", MISS, '{by=~"surface|model"}', "{{group}}",
         "Where missed material gets through."),
    band("Appeal reversal rate by bank", APPEAL, '{by=~"all|bank"}', "{{group}}",
         "Reversed share of decided appeals. Biased: only contested removals are appealed; "
         "read it beside, not instead of, the audited rate."),
    series("Sample sizes", [
        ('max by (by, group) (vigil_accountability_false_positive_sample_size{by=~"all|bank"})', "audited actions {{group}}"),
        ('max by (by, group) (vigil_accountability_miss_sample_size{by="all"})', "audited passes {{group}}"),
        ('max by (by, group) (vigil_accountability_appeal_overturn_sample_size{by="all"})', "decided appeals"),
    ]),
    series("Uploads drawn for blind audit / h",
           [("sum by (kind) (increase(vigil_audit_samples_total[1h]))", "{{kind}}")],
           description="Alert VigilAuditSamplingStalled when none are drawn for 6 hours of traffic."),
    series("Shadow policy disagreements / h",
           [("sum by (live, shadow) (increase(vigil_shadow_disagreements_total[1h]))", "live {{live}} / shadow {{shadow}}")],
           description="Uploads the candidate policy would have decided differently."),
    series("Retro-hunt: past uploads found by later entries / h",
           [("sum by (bank) (increase(vigil_retrohunt_hits_total[1h]))", "{{bank}}")],
           description="Misses at the time of upload, found when a matching entry arrived later "
                       "(docs/self-correction.md). Alert VigilRetrohuntFailing when passes stop."),
    series("Retro-hunt delay (upload to found), p50 and p90",
           [("histogram_quantile(0.5, sum by (le) (rate(vigil_retrohunt_delay_seconds_bucket[6h])))", "p50"),
            ("histogram_quantile(0.9, sum by (le) (rate(vigil_retrohunt_delay_seconds_bucket[6h])))", "p90")],
           "s", description="How long missed material stayed up before a shared hash caught it."),
    series("Quarantined entries by bank",
           [("max by (bank) (vigil_quarantined_entries)", "{{bank}}"),
            ("max(vigil_quarantined_banks)", "whole banks")],
           description="Entries people kept overturning: their matches go to review until two leads restore them."),
]


def write(name, dash):
    path = os.path.join(HERE, "dashboards", name)
    with open(path, "w") as f:
        json.dump(dash, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    write("vigil-pipeline.json", dashboard("vigil-pipeline", "Vigil pipeline", PIPELINE,
          "Uploads in, verdicts out: throughput, latency, errors, lag; actions out to the platform."))
    write("vigil-review.json", dashboard("vigil-review", "Vigil review operations", REVIEW,
          "Human review: queue depth and age, throughput, decisions, appeals."))
    write("vigil-accountability.json", dashboard(
        "vigil-accountability", "Vigil error accountability", ACCOUNTABILITY,
        "How often Vigil is wrong, both ways, with honest uncertainty: blind-audit "
        "false-positive and miss rates with Wilson 95% intervals, appeals, shadow policy, "
        "retro-hunt misses and quarantined entries."))
