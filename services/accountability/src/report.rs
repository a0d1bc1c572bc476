//! The transparency report (EU TCO art. 7 / DSA style): what Vigil did, how
//! people reviewed it, and how often it was wrong, with intervals and
//! sample sizes. The caller (the store) fills the model from the database;
//! this module only renders it: to JSON, and to one self-contained HTML
//! page with inline SVG bar charts and interval whiskers. Every string is
//! escaped before it reaches the page.

use crate::estimate::Estimate;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use vigil_governance::report::{GovernanceReport, Shares};

/// A count under a key (an action, a cause, a label, a bank).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Count {
    pub key: String,
    pub n: u64,
}

impl Count {
    pub fn new(key: impl Into<String>, n: u64) -> Count {
        Count { key: key.into(), n }
    }
}

/// An estimate for one group: `by` is `all`, `bank`, `label`, `signal`,
/// `model` or `surface`; `group` the bank name, label, … or `all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupEstimate {
    pub by: String,
    pub group: String,
    pub estimate: Estimate,
}

/// Actions taken in the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionsSection {
    /// Verdicts by action (`takedown`, `review`, `none`, …).
    pub by_action: Vec<Count>,
    /// Automated actions (other than `none` and `review`) by cause
    /// (`pdq_match`, `exact_match`, `video_match`, `classifier`).
    pub by_cause: Vec<Count>,
    /// Automated actions by bank label.
    pub by_label: Vec<Count>,
    /// Removals decided by automation alone.
    pub automated_removals: u64,
    /// Removals decided by a person (uphold on a review or audit item).
    pub human_removals: u64,
    /// Items a person left up or reinstated (overturn or exempt).
    pub human_left_up: u64,
}

/// Human review in the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReviewSection {
    /// Final decisions.
    pub decisions: u64,
    /// Seconds from the item entering the queue to its first final decision.
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

/// Appeals in the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppealsSection {
    pub filed: u64,
    pub decided: u64,
    /// Decided appeals that kept the removal.
    pub upheld: u64,
    /// Decided appeals that reversed it (overturn or exempt).
    pub reversed: u64,
    pub pending: u64,
}

/// Blind audit samples in the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditSection {
    /// Sampled items by kind (`takedown`, `pass`, `shadow`).
    pub sampled: Vec<Count>,
    /// Of those, answered by a reviewer.
    pub answered: Vec<Count>,
}

/// One `(live, shadow)` action pair that disagreed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disagreement {
    pub live: String,
    pub shadow: String,
    pub n: u64,
}

/// The shadow (candidate) policy's disagreements with the live one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowSection {
    pub shadow_policy_versions: Vec<String>,
    pub disagreements: Vec<Disagreement>,
    /// Of the audited disagreements, the share where the shadow policy's
    /// action was the right one (violating and shadow acted, or not
    /// violating and shadow passed).
    pub shadow_right: Option<Estimate>,
}

/// Past uploads found by hashes added later (fed by the retro-hunt):
/// misses at the time of upload, counted by when the upload was received.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RetroHuntSection {
    /// Distinct uploads found.
    pub matches: u64,
    /// Distinct uploads found, per bank of the entry that found them.
    pub by_bank: Vec<Count>,
    /// Median time from upload to being found, over the uploads found.
    #[serde(default)]
    pub median_delay_seconds: Option<f64>,
    /// The same median per bank.
    #[serde(default)]
    pub delay_by_bank: Vec<BankDelay>,
}

/// A bank's median retro-hunt delay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BankDelay {
    pub bank: String,
    pub median_delay_seconds: f64,
}

/// Bank entries (and whole banks) quarantined now for too many overturns:
/// their matches go to review instead of being acted on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuarantineSection {
    pub entries: u64,
    pub by_bank: Vec<Count>,
    /// Whole banks under quarantine.
    #[serde(default)]
    pub banks: Vec<String>,
}

/// A further section of counts, for parts of Vigil that report on
/// themselves (e.g. referrals from authorities).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtraSection {
    pub title: String,
    pub note: Option<String>,
    pub rows: Vec<Count>,
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransparencyReport {
    pub title: String,
    /// RFC 3339 bounds of the period (`None`: open).
    pub period_from: Option<String>,
    pub period_to: Option<String>,
    pub generated_at: String,
    pub actions: ActionsSection,
    pub review: ReviewSection,
    pub appeals: AppealsSection,
    pub audits: AuditSection,
    /// Overturned share of blind-audited automated actions.
    pub false_positive: Vec<GroupEstimate>,
    /// Violating share of blind-audited passed uploads.
    pub miss: Vec<GroupEstimate>,
    /// Reversed share of decided appeals: a biased sample (only what
    /// uploaders chose to contest), reported apart from the audit.
    pub appeal_overturn: Vec<GroupEstimate>,
    pub shadow: Option<ShadowSection>,
    pub retro_hunt: Option<RetroHuntSection>,
    pub quarantine: Option<QuarantineSection>,
    pub extra: Vec<ExtraSection>,
    /// Referrals from authorities, guarded bank and policy changes, and
    /// entries added per bank and month (DESIGN.md §6a), as
    /// `vigil-governance` aggregates them.
    #[serde(default)]
    pub governance: Option<GovernanceReport>,
}

/// Escape text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn secs(x: Option<f64>) -> String {
    match x {
        None => "–".into(),
        Some(s) if s < 120.0 => format!("{s:.0} s"),
        Some(s) if s < 7200.0 => format!("{:.1} min", s / 60.0),
        Some(s) => format!("{:.1} h", s / 3600.0),
    }
}

const ROW_H: usize = 22;
const LABEL_W: usize = 220;
const BAR_W: usize = 360;

/// A horizontal bar chart of counts.
fn count_chart(rows: &[Count]) -> String {
    if rows.is_empty() {
        return "<p class=\"empty\">none in this period</p>".into();
    }
    let max = rows.iter().map(|r| r.n).max().unwrap_or(0).max(1) as f64;
    let h = rows.len() * ROW_H + 4;
    let w = LABEL_W + BAR_W + 80;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\">"
    );
    for (i, r) in rows.iter().enumerate() {
        let y = i * ROW_H;
        let bw = (r.n as f64 / max * BAR_W as f64).round();
        let _ = write!(
            s,
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>\
             <rect x=\"{LABEL_W}\" y=\"{ry}\" width=\"{bw}\" height=\"{bh}\" class=\"bar\"/>\
             <text x=\"{vx}\" y=\"{ty}\">{n}</text>",
            lx = LABEL_W - 6,
            ty = y + 15,
            label = escape(&r.key),
            ry = y + 3,
            bh = ROW_H - 6,
            vx = LABEL_W as f64 + bw + 6.0,
            n = r.n,
        );
    }
    s.push_str("</svg>");
    s
}

/// A chart of rates: a bar to the point estimate and a whisker over the
/// 95% interval, on a scale that fits the largest upper bound.
fn rate_chart(rows: &[GroupEstimate]) -> String {
    if rows.is_empty() {
        return "<p class=\"empty\">no audited items in this period: no estimate</p>".into();
    }
    let top = rows
        .iter()
        .map(|r| r.estimate.upper)
        .fold(0.0f64, f64::max)
        .clamp(0.05, 1.0);
    let h = rows.len() * ROW_H + 24;
    let w = LABEL_W + BAR_W + 200;
    let x = |v: f64| LABEL_W as f64 + (v / top).clamp(0.0, 1.0) * BAR_W as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\">"
    );
    for (i, r) in rows.iter().enumerate() {
        let e = &r.estimate;
        let y = i * ROW_H;
        let mid = y as f64 + ROW_H as f64 / 2.0;
        let _ = write!(
            s,
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>\
             <rect x=\"{LABEL_W}\" y=\"{ry}\" width=\"{bw:.1}\" height=\"{bh}\" class=\"bar\"/>\
             <line x1=\"{xl:.1}\" y1=\"{mid}\" x2=\"{xu:.1}\" y2=\"{mid}\" class=\"ci\"/>\
             <line x1=\"{xl:.1}\" y1=\"{t}\" x2=\"{xl:.1}\" y2=\"{b}\" class=\"ci\"/>\
             <line x1=\"{xu:.1}\" y1=\"{t}\" x2=\"{xu:.1}\" y2=\"{b}\" class=\"ci\"/>\
             <text x=\"{vx:.1}\" y=\"{ty}\">{rate} [{lo}, {hi}] n={n}</text>",
            lx = LABEL_W - 6,
            ty = y + 15,
            label = escape(&format!("{}: {}", r.by, r.group)),
            ry = y + 5,
            bw = x(e.rate) - LABEL_W as f64,
            bh = ROW_H - 10,
            xl = x(e.lower),
            xu = x(e.upper),
            t = mid - 6.0,
            b = mid + 6.0,
            vx = x(e.upper) + 8.0,
            rate = pct(e.rate),
            lo = pct(e.lower),
            hi = pct(e.upper),
            n = e.n,
        );
    }
    let axis_y = rows.len() * ROW_H + 16;
    let _ = write!(
        s,
        "<text x=\"{LABEL_W}\" y=\"{axis_y}\" class=\"axis\">0%</text>\
         <text x=\"{}\" y=\"{axis_y}\" class=\"axis\" text-anchor=\"end\">{}</text></svg>",
        LABEL_W + BAR_W,
        pct(top)
    );
    s
}

fn estimate_table(rows: &[GroupEstimate]) -> String {
    let mut s = String::from(
        "<table><tr><th>by</th><th>group</th><th>rate</th><th>95% interval</th><th>errors</th><th>n</th></tr>",
    );
    for r in rows {
        let e = &r.estimate;
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} – {}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.by),
            escape(&r.group),
            pct(e.rate),
            pct(e.lower),
            pct(e.upper),
            e.errors,
            e.n
        );
    }
    s.push_str("</table>");
    s
}

/// One table row of referral shares under `name`.
fn shares_row(name: &str, s: &Shares) -> String {
    format!(
        "<tr><td>{}</td><td>{}</td><td>{} ({})</td><td>{} ({})</td><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
        escape(name),
        s.total,
        s.acted,
        pct(s.acted_share),
        s.contested,
        pct(s.contested_share),
        s.refused,
        pct(s.refused_share),
        s.open,
        secs(s.median_handling_seconds)
    )
}

/// The governance sections: referrals by issuer and jurisdiction, guarded
/// changes by kind and approver role, entries added per bank and month.
fn governance_html(g: &GovernanceReport) -> String {
    let mut h = String::from(
        "<h2>Referrals and removal orders from authorities</h2>\
         <p class=\"note\">Requests from authorities, recorded with their issuer, legal basis and jurisdictions. \
         Acted: the named uploads were restricted in the order's jurisdictions or taken down. Contested or refused: \
         a person disputed the order, with a reason. Handling time runs from receipt to the first handling.</p>",
    );
    let head =
        "<table><tr><th></th><th>referrals</th><th>acted on</th><th>contested</th><th>refused</th>\
                <th>open</th><th>median handling time</th></tr>";
    h.push_str(head);
    h.push_str(&shares_row("all", &g.referrals));
    h.push_str("</table>");
    if !g.referrals_by_issuer.is_empty() {
        h.push_str("<h3>By issuer</h3>");
        h.push_str(&head.replace("<th></th>", "<th>issuer</th>"));
        for (k, s) in &g.referrals_by_issuer {
            h.push_str(&shares_row(k, s));
        }
        h.push_str("</table>");
    }
    if !g.referrals_by_jurisdiction.is_empty() {
        h.push_str("<h3>By jurisdiction</h3><p class=\"note\">An order naming several jurisdictions counts under each.</p>");
        h.push_str(&head.replace("<th></th>", "<th>jurisdiction</th>"));
        for (k, s) in &g.referrals_by_jurisdiction {
            h.push_str(&shares_row(k, s));
        }
        h.push_str("</table>");
    }

    h.push_str(
        "<h2>Guarded bank and policy changes</h2>\
         <p class=\"note\">Changes that widen what Vigil removes wait as proposals until a second person with the \
         lead or admin role approves them (auto_approved: an import from a source the bank's charter trusts).</p>",
    );
    if g.bank_changes_by_kind.is_empty() {
        h.push_str("<p class=\"empty\">none in this period</p>");
    } else {
        h.push_str("<table><tr><th>kind</th><th>pending</th><th>approved</th><th>auto_approved</th><th>rejected</th></tr>");
        for (kind, by) in &g.bank_changes_by_kind {
            let n = |s: &str| by.get(s).copied().unwrap_or(0);
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(kind),
                n("pending"),
                n("approved"),
                n("auto_approved"),
                n("rejected")
            );
        }
        h.push_str("</table>");
    }
    let roles: Vec<Count> = g
        .bank_changes_by_approver_role
        .iter()
        .map(|(k, n)| Count::new(k.clone(), *n))
        .collect();
    let _ = write!(
        h,
        "<h3>Applied changes by approver role</h3>{}",
        count_chart(&roles)
    );

    h.push_str("<h2>Entries added per bank and month</h2>");
    if g.entries_added_by_bank_month.is_empty() {
        h.push_str("<p class=\"empty\">none in this period</p>");
    } else {
        h.push_str("<table><tr><th>bank</th><th>month</th><th>entries added</th></tr>");
        for (bank, months) in &g.entries_added_by_bank_month {
            for (m, n) in months {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(bank),
                    escape(m),
                    n
                );
            }
        }
        h.push_str("</table>");
    }
    h
}

impl TransparencyReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serialises")
    }

    /// One self-contained HTML page (no scripts, no external resources).
    pub fn to_html(&self) -> String {
        let mut h = String::new();
        let title = escape(&self.title);
        let period = format!(
            "{} to {}",
            escape(self.period_from.as_deref().unwrap_or("the beginning")),
            escape(self.period_to.as_deref().unwrap_or("now"))
        );
        let _ = write!(
            h,
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
             table{{border-collapse:collapse;margin:.5rem 0}}td,th{{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}}\
             svg text{{font-size:12px;fill:#222}}.bar{{fill:#5b8bd0}}.ci{{stroke:#222;stroke-width:1.5}}\
             .axis{{fill:#666}}.empty{{color:#666;font-style:italic}}.note{{color:#444;font-size:.9rem}}</style></head><body>\
             <h1>{title}</h1><p>Period: {period}. Generated {gen}.</p>",
            gen = escape(&self.generated_at)
        );

        let a = &self.actions;
        let _ = write!(
            h,
            "<h2>Actions</h2><p>Removals by automation alone: <b>{}</b>. Removals decided by a person: <b>{}</b>. \
             Left up or reinstated by a person: <b>{}</b>.</p><h3>Verdicts by action</h3>{}\
             <h3>Automated actions by cause</h3>{}<h3>Automated actions by label</h3>{}",
            a.automated_removals,
            a.human_removals,
            a.human_left_up,
            count_chart(&a.by_action),
            count_chart(&a.by_cause),
            count_chart(&a.by_label)
        );

        let r = &self.review;
        let _ = write!(
            h,
            "<h2>Human review</h2><p>Final decisions: <b>{}</b>; time in queue to decision: median {}, 90th percentile {}.</p>",
            r.decisions,
            secs(r.median_seconds),
            secs(r.p90_seconds)
        );

        let ap = &self.appeals;
        let _ = write!(
            h,
            "<h2>Appeals</h2><p>Filed <b>{}</b>, decided <b>{}</b> (removal kept <b>{}</b>, reversed <b>{}</b>), pending <b>{}</b>.</p>",
            ap.filed, ap.decided, ap.upheld, ap.reversed, ap.pending
        );

        let _ = write!(
            h,
            "<h2>Blind audit</h2><p class=\"note\">A fixed, secret-keyed share of automated actions and of passed uploads \
             goes to reviewers who are not shown what Vigil decided. Error rates below are estimated from their answers, \
             weighted by sampling rate, with Wilson 95% intervals; n is the number of audited items.</p>\
             <h3>Sampled</h3>{}<h3>Answered</h3>{}\
             <h2>Estimated false-positive rate of automated actions</h2>{}{}\
             <h2>Estimated miss rate of passed uploads</h2>{}{}",
            count_chart(&self.audits.sampled),
            count_chart(&self.audits.answered),
            rate_chart(&self.false_positive),
            estimate_table(&self.false_positive),
            rate_chart(&self.miss),
            estimate_table(&self.miss)
        );

        let _ = write!(
            h,
            "<h2>Appeal reversal rate</h2><p class=\"note\">Share of decided appeals that reversed the removal. \
             Appeals are a biased sample: only what uploaders chose to contest, so this is not a false-positive rate.</p>{}{}",
            rate_chart(&self.appeal_overturn),
            estimate_table(&self.appeal_overturn)
        );

        if let Some(sh) = &self.shadow {
            let pairs: Vec<Count> = sh
                .disagreements
                .iter()
                .map(|d| Count::new(format!("live {} / shadow {}", d.live, d.shadow), d.n))
                .collect();
            let versions = sh
                .shadow_policy_versions
                .iter()
                .map(|v| escape(v))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = write!(
                h,
                "<h2>Shadow policy</h2><p>Candidate policy versions: {}.</p>{}",
                if versions.is_empty() {
                    "none".into()
                } else {
                    versions
                },
                count_chart(&pairs)
            );
            if let Some(e) = &sh.shadow_right {
                let _ = write!(
                    h,
                    "<p>Of {} audited disagreements, the shadow policy was right in {} [{}, {}].</p>",
                    e.n,
                    pct(e.rate),
                    pct(e.lower),
                    pct(e.upper)
                );
            }
        }
        if let Some(rh) = &self.retro_hunt {
            let _ = write!(
                h,
                "<h2>Retro-hunt misses</h2><p>Past uploads matched by hashes added later (misses at the time of upload): <b>{}</b>",
                rh.matches,
            );
            if let Some(d) = rh.median_delay_seconds {
                let _ = write!(h, "; median delay until found {}", secs(Some(d)));
            }
            h.push_str(".</p>");
            h.push_str(&count_chart(&rh.by_bank));
            if !rh.delay_by_bank.is_empty() {
                h.push_str("<table><tr><th>bank</th><th>median delay</th></tr>");
                for d in &rh.delay_by_bank {
                    let _ = write!(
                        h,
                        "<tr><td>{}</td><td>{}</td></tr>",
                        escape(&d.bank),
                        secs(Some(d.median_delay_seconds))
                    );
                }
                h.push_str("</table>");
            }
        }
        if let Some(q) = &self.quarantine {
            let _ = write!(
                h,
                "<h2>Quarantined bank entries</h2><p>Entries quarantined now for too many overturns (their matches go to review): <b>{}</b>.</p>{}",
                q.entries,
                count_chart(&q.by_bank)
            );
            if !q.banks.is_empty() {
                let names: Vec<String> = q.banks.iter().map(|b| escape(b)).collect();
                let _ = write!(h, "<p>Whole banks quarantined: {}.</p>", names.join(", "));
            }
        }
        if let Some(g) = &self.governance {
            h.push_str(&governance_html(g));
        }
        for x in &self.extra {
            let _ = write!(h, "<h2>{}</h2>", escape(&x.title));
            if let Some(n) = &x.note {
                let _ = write!(h, "<p class=\"note\">{}</p>", escape(n));
            }
            h.push_str(&count_chart(&x.rows));
        }
        h.push_str("</body></html>\n");
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::Tally;

    fn sample() -> TransparencyReport {
        let mut t = Tally::default();
        for i in 0..40 {
            t.add(0.5, i < 2);
        }
        let est = t.estimate().unwrap();
        TransparencyReport {
            title: "Vigil transparency report".into(),
            period_from: Some("2026-01-01T00:00:00Z".into()),
            period_to: None,
            generated_at: "2026-02-01T00:00:00Z".into(),
            actions: ActionsSection {
                by_action: vec![Count::new("takedown", 40), Count::new("none", 400)],
                by_cause: vec![Count::new("pdq_match", 40)],
                by_label: vec![Count::new("<script>alert(1)</script>", 40)],
                automated_removals: 40,
                human_removals: 3,
                human_left_up: 2,
            },
            false_positive: vec![GroupEstimate {
                by: "bank".into(),
                group: "evil\"bank'<&>".into(),
                estimate: est,
            }],
            shadow: Some(ShadowSection {
                shadow_policy_versions: vec!["<b>v2</b>".into()],
                disagreements: vec![Disagreement {
                    live: "none".into(),
                    shadow: "takedown".into(),
                    n: 4,
                }],
                shadow_right: None,
            }),
            extra: vec![ExtraSection {
                title: "Referrals <img src=x onerror=alert(1)>".into(),
                note: None,
                rows: vec![],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn json_round_trips_and_names_the_fields() {
        let r = sample();
        let j = r.to_json();
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["false_positive"][0]["estimate"]["n"], 40);
        assert_eq!(v["false_positive"][0]["estimate"]["errors"], 2);
        assert!(
            v["false_positive"][0]["estimate"]["upper"]
                .as_f64()
                .unwrap()
                > 0.05
        );
        assert!(v["retro_hunt"].is_null());
        let back: TransparencyReport = serde_json::from_str(&j).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn retro_hunt_and_quarantine_sections_render() {
        let mut r = sample();
        r.retro_hunt = Some(RetroHuntSection {
            matches: 3,
            by_bank: vec![Count::new("late<bank>", 3)],
            median_delay_seconds: Some(5400.0),
            delay_by_bank: vec![BankDelay {
                bank: "late<bank>".into(),
                median_delay_seconds: 5400.0,
            }],
        });
        r.quarantine = Some(QuarantineSection {
            entries: 1,
            by_bank: vec![Count::new("q-bank", 1)],
            banks: vec!["whole<bank>".into()],
        });
        let h = r.to_html();
        assert!(h.contains("Retro-hunt misses"));
        assert!(h.contains("median delay until found 90.0 min"), "{h}");
        assert!(h.contains("late&lt;bank&gt;") && !h.contains("late<bank>"));
        assert!(h.contains("Whole banks quarantined: whole&lt;bank&gt;"));
        let back: TransparencyReport = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back, r);
        // Reports written before the delay fields existed still read.
        let old: RetroHuntSection =
            serde_json::from_str(r#"{"matches": 1, "by_bank": []}"#).unwrap();
        assert_eq!(old.median_delay_seconds, None);
    }

    #[test]
    fn html_escapes_hostile_strings() {
        let h = sample().to_html();
        assert!(!h.contains("<script>"), "raw script tag in report");
        assert!(!h.contains("<img"));
        assert!(!h.contains("<b>v2</b>"));
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(h.contains("evil&quot;bank&#39;&lt;&amp;&gt;"));
        assert!(h.contains("Referrals &lt;img src=x onerror=alert(1)&gt;"));
    }

    #[test]
    fn html_has_charts_whiskers_and_numbers() {
        let h = sample().to_html();
        assert!(h.starts_with("<!doctype html>"));
        assert!(h.contains("<svg"));
        assert!(h.contains("class=\"ci\""), "interval whiskers drawn");
        assert!(h.contains("n=40"));
        assert!(h.contains("5.0%"), "the point estimate 2/40");
        assert!(h.contains("biased sample"));
        assert!(!h.contains("<script"), "no scripts at all");
        assert!(!h.contains("src=\"http"), "no external resources");
        // Sections without data say so instead of drawing nothing.
        assert!(h.contains("no audited items in this period"));
    }

    #[test]
    fn governance_sections_show_referrals_changes_and_entries() {
        use vigil_governance::report::{build, ProposalRow, ReferralRow};
        let referral = |issuer: &str, j: &[&str], status: &str, t: Option<f64>| ReferralRow {
            issuer: issuer.into(),
            jurisdictions: j.iter().map(|s| s.to_string()).collect(),
            status: status.into(),
            handling_seconds: t,
        };
        let g = build(
            &[
                referral("Europol <IRU>", &["DE", "FR"], "acted", Some(600.0)),
                referral("Europol <IRU>", &["DE"], "contested", Some(1800.0)),
                referral("BKA", &["DE"], "open", None),
            ],
            &[ProposalRow {
                kind: "entries_add".into(),
                status: "approved".into(),
                decided_role: Some("admin".into()),
            }],
            &[("tk".into(), "2026-11".into())],
        );
        let r = TransparencyReport {
            governance: Some(g),
            ..sample()
        };
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(
            v["governance"]["referrals_by_jurisdiction"]["DE"]["total"],
            3
        );
        assert_eq!(v["governance"]["bank_changes_by_approver_role"]["admin"], 1);
        let back: TransparencyReport = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back, r);
        let h = r.to_html();
        assert!(h.contains("Referrals and removal orders"), "{h}");
        assert!(h.contains(
            "<td>Europol &lt;IRU&gt;</td><td>2</td><td>1 (50.0%)</td><td>1 (50.0%)</td>"
        ));
        assert!(h.contains("<td>FR</td><td>1</td><td>1 (100.0%)</td>"));
        // Median handling time of the handled ones: 600 s and 1800 s.
        assert!(h.contains("<td>20.0 min</td>"), "{h}");
        assert!(h.contains("<tr><td>entries_add</td><td>0</td><td>1</td>"));
        assert!(h.contains("<td>tk</td><td>2026-11</td><td>1</td>"));
        assert!(!h.contains("<IRU>"));
        // A report without the section (an older JSON) still reads.
        let mut old = v.clone();
        old.as_object_mut().unwrap().remove("governance");
        let back: TransparencyReport = serde_json::from_value(old).unwrap();
        assert!(back.governance.is_none());
    }

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain"), "plain");
    }
}
