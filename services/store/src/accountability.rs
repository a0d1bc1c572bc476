//! Accountability records and the queries behind the error estimates and
//! the transparency report (docs/accountability.md): blind audit samples
//! (written with their verdict, in one transaction), shadow-policy
//! disagreements, and aggregates over audits, appeals, verdicts and review
//! decisions. Audit answers are the review decisions of kind `audit` on the
//! sampled item: uphold = violating, overturn = not violating, exempt =
//! violating but kept up for a recognised public interest.

use crate::db::{ts, write_verdict_in};
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::collections::BTreeMap;
use vigil_accountability::report::{
    ActionsSection, AppealsSection, AuditSection, BankDelay, Count, Disagreement,
    QuarantineSection, RetroHuntSection, ReviewSection, ShadowSection,
};
use vigil_accountability::{quantile, GroupEstimate, Tally, TransparencyReport};
use vigil_pipeline::audit::{is_removal, AuditSample, ShadowDisagreement, AUDIT_PRIORITY};
use vigil_pipeline::{ReviewItem, Verdict};

/// An RFC 3339 period; `None` bounds are open.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Period {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl Period {
    pub(crate) fn bounds(&self) -> (String, String) {
        (
            self.from.clone().unwrap_or_default(),
            self.to.clone().unwrap_or_else(|| "9999".into()),
        )
    }
}

/// The error estimates the metrics and the report show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Estimates {
    /// Overturned (or exempted) share of audited automated removals; by
    /// `all`, `bank`, `label`, `signal`, `model`.
    pub false_positive: Vec<GroupEstimate>,
    /// Violating share of audited passes; by `all`, `surface`, `model`.
    pub miss: Vec<GroupEstimate>,
    /// Reversed share of decided appeals; by `all`, `bank`, `label`,
    /// `signal`, `model`. A biased sample.
    pub appeal_overturn: Vec<GroupEstimate>,
    /// Of audited shadow disagreements, the share where the shadow policy
    /// was right.
    pub shadow_right: Option<vigil_accountability::Estimate>,
}

fn estimates_of(tallies: BTreeMap<(String, String), Tally>) -> Vec<GroupEstimate> {
    tallies
        .into_iter()
        .filter_map(|((by, group), t)| {
            t.estimate().map(|estimate| GroupEstimate {
                by,
                group,
                estimate,
            })
        })
        .collect()
}

/// Whether the audit answer makes the sampled item an error: an automated
/// removal that was not violating (overturn) or only kept up for public
/// interest (exempt) is a false positive; a passed upload found violating
/// (uphold) is a miss.
fn is_error(kind: &str, decision: &str) -> bool {
    match kind {
        "takedown" => decision != "uphold",
        "pass" => decision == "uphold",
        _ => false,
    }
}

/// The retro-hunt section from its hits: distinct uploads found (overall
/// and per bank) and the median delay from upload to being found, each
/// upload counted once at its earliest finding.
pub fn retro_hunt_section(hits: &[crate::retro::RetroHitRow]) -> RetroHuntSection {
    let mut first: BTreeMap<&str, f64> = BTreeMap::new();
    let mut per_bank: BTreeMap<&str, BTreeMap<&str, f64>> = BTreeMap::new();
    for h in hits {
        let d = h.delay_seconds.max(0.0);
        let e = first.entry(h.upload_id.as_str()).or_insert(d);
        *e = e.min(d);
        let b = per_bank
            .entry(h.bank.as_str())
            .or_default()
            .entry(h.upload_id.as_str())
            .or_insert(d);
        *b = b.min(d);
    }
    let delays: Vec<f64> = first.values().copied().collect();
    RetroHuntSection {
        matches: first.len() as u64,
        by_bank: per_bank
            .iter()
            .map(|(bank, ups)| Count::new(*bank, ups.len() as u64))
            .collect(),
        median_delay_seconds: quantile(&delays, 0.5),
        delay_by_bank: per_bank
            .iter()
            .filter_map(|(bank, ups)| {
                let d: Vec<f64> = ups.values().copied().collect();
                quantile(&d, 0.5).map(|m| BankDelay {
                    bank: bank.to_string(),
                    median_delay_seconds: m,
                })
            })
            .collect(),
    }
}

impl Store {
    /// Write a verdict, its review item, and the accountability records of
    /// the same decision in one transaction: the blind audit samples (with
    /// a review item of kind `audit` when the verdict has none) and a
    /// shadow disagreement. The worker's path: it also takes the upload's
    /// decided claim, so it returns `false` (and writes nothing) when the
    /// upload already has a verdict under any policy version.
    pub async fn write_verdict_audited(
        &self,
        v: &Verdict,
        review: Option<&ReviewItem>,
        samples: &[AuditSample],
        shadow: Option<&ShadowDisagreement>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // One effective verdict per upload: a worker decides only an upload
        // nobody decided yet, under whichever policy (docs/hardening.md).
        if !crate::attempts::claim_decision(&mut tx, v).await?
            || !write_verdict_in(&mut tx, v, review).await?
        {
            tx.rollback().await?;
            return Ok(false);
        }
        {
            let now = ts(v.decided_at);
            if review.is_none() {
                if let Some(first) = samples.first() {
                    sqlx::query(
                        "INSERT INTO review_items (upload_id, policy_version, queue_reason, priority, status, created_at,
                            tier, kind, round, updated_at)
                         VALUES ($1, $2, $3, $4, 'open', $5, 'reviewer', 'audit', 0, $5)
                         ON CONFLICT (upload_id, policy_version) DO NOTHING",
                    )
                    .bind(v.upload_id.as_str())
                    .bind(v.policy_version.as_str())
                    .bind(first.kind.queue_reason())
                    .bind(AUDIT_PRIORITY)
                    .bind(now.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for s in samples {
                sqlx::query(
                    "INSERT INTO audit_samples (upload_id, policy_version, kind, stratum, rate, live_action,
                        shadow_action, shadow_policy_version, sampled_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (upload_id, policy_version, kind) DO NOTHING",
                )
                .bind(v.upload_id.as_str())
                .bind(v.policy_version.as_str())
                .bind(s.kind.as_str())
                .bind(s.stratum.as_str())
                .bind(s.rate)
                .bind(s.live_action.as_str())
                .bind(s.shadow_action.as_deref())
                .bind(s.shadow_policy_version.as_deref())
                .bind(now.as_str())
                .execute(&mut *tx)
                .await?;
                for (dim, grp) in &s.strata {
                    sqlx::query(
                        "INSERT INTO audit_strata (upload_id, policy_version, kind, dim, grp) VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (upload_id, policy_version, kind, dim, grp) DO NOTHING",
                    )
                    .bind(v.upload_id.as_str())
                    .bind(v.policy_version.as_str())
                    .bind(s.kind.as_str())
                    .bind(dim.as_str())
                    .bind(grp.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            if let Some(d) = shadow {
                sqlx::query(
                    "INSERT INTO shadow_disagreements (upload_id, policy_version, shadow_policy_version, live_action,
                        shadow_action, sampled, decided_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (upload_id, policy_version, shadow_policy_version) DO NOTHING",
                )
                .bind(v.upload_id.as_str())
                .bind(v.policy_version.as_str())
                .bind(d.shadow_policy_version.as_str())
                .bind(d.live_action.as_str())
                .bind(d.shadow_action.as_str())
                .bind(i64::from(d.sample.is_some()))
                .bind(now.as_str())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Audit samples of an upload: `(kind, stratum, rate, live_action)`.
    pub async fn audit_samples_for(
        &self,
        upload_id: &str,
    ) -> Result<Vec<(String, String, f64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, stratum, rate, live_action FROM audit_samples WHERE upload_id = $1 ORDER BY kind",
        )
        .bind(upload_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("kind")?,
                    r.try_get("stratum")?,
                    r.try_get("rate")?,
                    r.try_get("live_action")?,
                ))
            })
            .collect()
    }

    /// The estimates over audits sampled, and appeals filed, in `period`.
    pub async fn accountability_estimates(&self, period: &Period) -> Result<Estimates, StoreError> {
        let (from, to) = period.bounds();
        // Answered audit samples, aggregated per group, rate and answer.
        let rows = sqlx::query(
            "SELECT s.kind AS kind, st.dim AS dim, st.grp AS grp, s.rate AS rate, d.decision AS decision,
                    COUNT(*) AS n
             FROM audit_samples s
             JOIN audit_strata st ON st.upload_id = s.upload_id AND st.policy_version = s.policy_version
                                 AND st.kind = s.kind
             JOIN review_decisions d ON d.upload_id = s.upload_id AND d.policy_version = s.policy_version
                                    AND d.kind = 'audit' AND d.decision <> 'escalate'
             WHERE s.sampled_at >= $1 AND s.sampled_at < $2 AND s.kind IN ('takedown', 'pass')
             GROUP BY s.kind, st.dim, st.grp, s.rate, d.decision",
        )
        .bind(from.as_str())
        .bind(to.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut fp: BTreeMap<(String, String), Tally> = BTreeMap::new();
        let mut miss: BTreeMap<(String, String), Tally> = BTreeMap::new();
        for r in rows {
            let kind: String = r.try_get("kind")?;
            let dim: String = r.try_get("dim")?;
            let grp: String = r.try_get("grp")?;
            let rate: f64 = r.try_get("rate")?;
            let decision: String = r.try_get("decision")?;
            let n: i64 = r.try_get("n")?;
            let allowed: &[&str] = if kind == "takedown" {
                &["all", "bank", "label", "signal", "model"]
            } else {
                &["all", "surface", "model"]
            };
            if !allowed.contains(&dim.as_str()) {
                continue;
            }
            let map = if kind == "takedown" {
                &mut fp
            } else {
                &mut miss
            };
            let t = map.entry((dim, grp)).or_default();
            let err = is_error(&kind, &decision);
            for _ in 0..n.max(0) {
                t.add(rate, err);
            }
        }

        // Shadow disagreements answered blind: was the shadow policy right?
        let rows = sqlx::query(
            "SELECT s.shadow_action AS shadow_action, d.decision AS decision, COUNT(*) AS n
             FROM audit_samples s
             JOIN review_decisions d ON d.upload_id = s.upload_id AND d.policy_version = s.policy_version
                                    AND d.kind = 'audit' AND d.decision <> 'escalate'
             WHERE s.kind = 'shadow' AND s.sampled_at >= $1 AND s.sampled_at < $2
             GROUP BY s.shadow_action, d.decision",
        )
        .bind(from.as_str())
        .bind(to.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut shadow = Tally::default();
        for r in rows {
            let sa: Option<String> = r.try_get("shadow_action")?;
            let decision: String = r.try_get("decision")?;
            let n: i64 = r.try_get("n")?;
            let shadow_acts = sa.as_deref().is_some_and(|a| a != "none");
            let violating = decision == "uphold";
            for _ in 0..n.max(0) {
                shadow.add(1.0, shadow_acts == violating);
            }
        }

        // Decided appeals, grouped by what the appealed verdict rested on.
        let rows = sqlx::query(
            "SELECT a.outcome AS outcome, v.body AS body, u.msg AS msg
             FROM review_appeals a
             JOIN verdicts v ON v.upload_id = a.upload_id AND v.policy_version = a.policy_version
             LEFT JOIN uploads u ON u.upload_id = a.upload_id
             WHERE a.status = 'decided' AND a.outcome IS NOT NULL AND a.outcome <> 'escalate'
               AND a.filed_at >= $1 AND a.filed_at < $2",
        )
        .bind(from.as_str())
        .bind(to.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut appeals: BTreeMap<(String, String), Tally> = BTreeMap::new();
        for r in rows {
            let outcome: String = r.try_get("outcome")?;
            let body: String = r.try_get("body")?;
            let v: Verdict = serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("verdict: {e}")))?;
            let surface = r
                .try_get::<Option<String>, _>("msg")?
                .and_then(|m| serde_json::from_str::<vigil_pipeline::UploadMsg>(&m).ok())
                .map(|m| m.platform_context.surface)
                .unwrap_or_default();
            for (dim, grp) in vigil_pipeline::audit::strata_of(&v, &surface) {
                if ["all", "bank", "label", "signal", "model"].contains(&dim.as_str()) {
                    appeals
                        .entry((dim, grp))
                        .or_default()
                        .add(1.0, outcome != "uphold");
                }
            }
        }
        Ok(Estimates {
            false_positive: estimates_of(fp),
            miss: estimates_of(miss),
            appeal_overturn: estimates_of(appeals),
            shadow_right: shadow.estimate(),
        })
    }

    /// Shadow disagreements by `(live, shadow)` action in `period`.
    pub async fn shadow_disagreement_counts(
        &self,
        period: &Period,
    ) -> Result<(Vec<String>, Vec<Disagreement>), StoreError> {
        let (from, to) = period.bounds();
        let rows = sqlx::query(
            "SELECT shadow_policy_version, live_action, shadow_action, COUNT(*) AS n FROM shadow_disagreements
             WHERE decided_at >= $1 AND decided_at < $2
             GROUP BY shadow_policy_version, live_action, shadow_action
             ORDER BY shadow_policy_version, live_action, shadow_action",
        )
        .bind(from.as_str())
        .bind(to.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut versions: Vec<String> = Vec::new();
        let mut pairs: BTreeMap<(String, String), u64> = BTreeMap::new();
        for r in rows {
            let v: String = r.try_get("shadow_policy_version")?;
            if !versions.contains(&v) {
                versions.push(v);
            }
            let n: i64 = r.try_get("n")?;
            *pairs
                .entry((r.try_get("live_action")?, r.try_get("shadow_action")?))
                .or_default() += n.max(0) as u64;
        }
        Ok((
            versions,
            pairs
                .into_iter()
                .map(|((live, shadow), n)| Disagreement { live, shadow, n })
                .collect(),
        ))
    }

    /// The transparency report for `period`, with the retro-hunt misses
    /// among uploads received in it and the entries quarantined now;
    /// without the extra sections other modules feed. The governance
    /// section comes from [`Store::governance_report`].
    pub async fn transparency_report(
        &self,
        period: &Period,
        generated_at: DateTime<Utc>,
    ) -> Result<TransparencyReport, StoreError> {
        let (from, to) = period.bounds();
        let count = |rows: Vec<sqlx::any::AnyRow>, key: &str| -> Result<Vec<Count>, StoreError> {
            rows.iter()
                .map(|r| {
                    Ok(Count::new(
                        r.try_get::<String, _>(key)?,
                        r.try_get::<i64, _>("n")?.max(0) as u64,
                    ))
                })
                .collect()
        };

        let by_action = count(
            sqlx::query(
                "SELECT action, COUNT(*) AS n FROM verdicts WHERE decided_at >= $1 AND decided_at < $2
                 GROUP BY action ORDER BY n DESC, action",
            )
            .bind(from.as_str())
            .bind(to.as_str())
            .fetch_all(&self.pool)
            .await?,
            "action",
        )?;

        // Causes and labels of automated removals, read from their verdicts.
        let rows = sqlx::query(
            "SELECT body FROM verdicts WHERE decided_at >= $1 AND decided_at < $2
               AND action IN ('takedown', 'block_upload', 'restrict')",
        )
        .bind(from.as_str())
        .bind(to.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut causes: BTreeMap<String, u64> = BTreeMap::new();
        let mut labels: BTreeMap<String, u64> = BTreeMap::new();
        let mut automated = 0u64;
        for r in rows {
            let v: Verdict = serde_json::from_str(&r.try_get::<String, _>("body")?)
                .map_err(|e| StoreError::Corrupt(format!("verdict: {e}")))?;
            if !is_removal(&v.action) {
                continue;
            }
            automated += 1;
            let mut cs: Vec<&str> = Vec::new();
            for m in &v.matches {
                // A dHash or pHash match never acts alone: not a cause.
                if !m.signal_type.kind().supports_automation() {
                    continue;
                }
                cs.push(if m.signal_type == vigil_hashdb::SignalType::Pdq {
                    "pdq_match"
                } else {
                    "exact_match"
                });
            }
            if v.reasons.iter().any(|r| r.starts_with("vpdq match")) {
                cs.push("video_match");
            }
            if v.reasons
                .iter()
                .any(|r| r.starts_with("classifier") && r.contains("auto_above"))
            {
                cs.push("classifier");
            }
            cs.sort_unstable();
            cs.dedup();
            for c in cs {
                *causes.entry(c.to_string()).or_default() += 1;
            }
            let mut ls: Vec<&String> = v.matches.iter().flat_map(|m| &m.labels).collect();
            ls.sort();
            ls.dedup();
            for l in ls {
                *labels.entry(l.clone()).or_default() += 1;
            }
        }
        let sorted = |m: BTreeMap<String, u64>| {
            let mut v: Vec<Count> = m.into_iter().map(|(k, n)| Count::new(k, n)).collect();
            v.sort_by(|a, b| b.n.cmp(&a.n).then(a.key.cmp(&b.key)));
            v
        };

        // Final human decisions and how long items waited for them.
        let rows = sqlx::query(
            "SELECT d.decision AS decision, d.kind AS kind, d.decided_at AS decided_at, r.created_at AS created_at
             FROM review_decisions d
             LEFT JOIN review_items r ON r.upload_id = d.upload_id AND r.policy_version = d.policy_version
             WHERE d.decision <> 'escalate' AND d.decided_at >= $1 AND d.decided_at < $2",
        )
        .bind(from.as_str())
        .bind(to.as_str())
        .fetch_all(&self.pool)
        .await?;
        let (mut decisions, mut human_removals, mut human_left_up) = (0u64, 0u64, 0u64);
        let mut waits: Vec<f64> = Vec::new();
        for r in rows {
            let decision: String = r.try_get("decision")?;
            let kind: String = r.try_get("kind")?;
            decisions += 1;
            if decision == "uphold" {
                human_removals += 1;
            } else {
                human_left_up += 1;
            }
            if kind != "appeal" {
                let created: Option<String> = r.try_get("created_at")?;
                let decided: String = r.try_get("decided_at")?;
                if let (Some(c), Ok(d)) = (created, DateTime::parse_from_rfc3339(&decided)) {
                    if let Ok(c) = DateTime::parse_from_rfc3339(&c) {
                        waits.push((d - c).num_milliseconds().max(0) as f64 / 1000.0);
                    }
                }
            }
        }

        let rows = sqlx::query(
            "SELECT status, outcome, COUNT(*) AS n FROM review_appeals WHERE filed_at >= $1 AND filed_at < $2
             GROUP BY status, outcome",
        )
        .bind(from.as_str())
        .bind(to.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut appeals = AppealsSection::default();
        for r in rows {
            let status: String = r.try_get("status")?;
            let outcome: Option<String> = r.try_get("outcome")?;
            let n = r.try_get::<i64, _>("n")?.max(0) as u64;
            appeals.filed += n;
            if status == "decided" {
                appeals.decided += n;
                if outcome.as_deref() == Some("uphold") {
                    appeals.upheld += n;
                } else {
                    appeals.reversed += n;
                }
            } else {
                appeals.pending += n;
            }
        }

        let sampled = count(
            sqlx::query(
                "SELECT kind, COUNT(*) AS n FROM audit_samples WHERE sampled_at >= $1 AND sampled_at < $2
                 GROUP BY kind ORDER BY kind",
            )
            .bind(from.as_str())
            .bind(to.as_str())
            .fetch_all(&self.pool)
            .await?,
            "kind",
        )?;
        let answered = count(
            sqlx::query(
                "SELECT s.kind AS kind, COUNT(*) AS n FROM audit_samples s
                 WHERE s.sampled_at >= $1 AND s.sampled_at < $2 AND EXISTS (
                    SELECT 1 FROM review_decisions d WHERE d.upload_id = s.upload_id
                      AND d.policy_version = s.policy_version AND d.kind = 'audit' AND d.decision <> 'escalate')
                 GROUP BY s.kind ORDER BY s.kind",
            )
            .bind(from.as_str())
            .bind(to.as_str())
            .fetch_all(&self.pool)
            .await?,
            "kind",
        )?;

        let est = self.accountability_estimates(period).await?;
        let (versions, disagreements) = self.shadow_disagreement_counts(period).await?;
        let shadow = (!disagreements.is_empty()).then_some(ShadowSection {
            shadow_policy_versions: versions,
            disagreements,
            shadow_right: est.shadow_right,
        });
        let retro_hunt = Some(retro_hunt_section(
            &self.retro_hits_received(&from, &to).await?,
        ));
        let quarantined = self.quarantined().await?;
        let counts = self.quarantined_counts().await?;
        let quarantine = Some(QuarantineSection {
            entries: counts.values().map(|n| (*n).max(0) as u64).sum(),
            by_bank: counts
                .into_iter()
                .map(|(bank, n)| Count::new(bank, n.max(0) as u64))
                .collect(),
            banks: quarantined
                .into_iter()
                .filter(|q| q.entry_id.is_empty())
                .map(|q| q.bank)
                .collect(),
        });
        Ok(TransparencyReport {
            governance: Some(self.governance_report(period).await?),
            title: "Vigil transparency report".into(),
            period_from: period.from.clone(),
            period_to: period.to.clone(),
            generated_at: ts(generated_at),
            actions: ActionsSection {
                by_action,
                by_cause: sorted(causes),
                by_label: sorted(labels),
                automated_removals: automated,
                human_removals,
                human_left_up,
            },
            review: ReviewSection {
                decisions,
                median_seconds: quantile(&waits, 0.5),
                p90_seconds: quantile(&waits, 0.9),
            },
            appeals,
            audits: AuditSection { sampled, answered },
            false_positive: est.false_positive,
            miss: est.miss,
            appeal_overturn: est.appeal_overturn,
            shadow,
            retro_hunt,
            quarantine,
            extra: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retro::RetroHitRow;

    fn hit(upload: &str, bank: &str, entry: &str, delay: f64) -> RetroHitRow {
        RetroHitRow {
            upload_id: upload.into(),
            bank: bank.into(),
            entry_id: entry.into(),
            received_at: "2026-01-01T00:00:00.000000Z".into(),
            found_at: "2026-01-02T00:00:00.000000Z".into(),
            delay_seconds: delay,
            late_action: "takedown".into(),
        }
    }

    #[test]
    fn retro_section_counts_uploads_once_at_their_first_finding() {
        let s = retro_hunt_section(&[
            hit("u1", "a", "e1", 100.0),
            hit("u1", "a", "e2", 50.0),
            hit("u1", "b", "e3", 400.0),
            hit("u2", "a", "e1", 300.0),
            hit("u3", "b", "e3", 10.0),
        ]);
        assert_eq!(s.matches, 3);
        assert_eq!(s.by_bank, vec![Count::new("a", 2), Count::new("b", 2)]);
        // Per upload, earliest: u1 50, u2 300, u3 10 -> median 50.
        assert_eq!(s.median_delay_seconds, Some(50.0));
        assert_eq!(s.delay_by_bank[0].median_delay_seconds, 50.0);
        assert_eq!(s.delay_by_bank[1].bank, "b");
        assert_eq!(retro_hunt_section(&[]), RetroHuntSection::default());
    }
}
