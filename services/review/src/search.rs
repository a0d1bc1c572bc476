//! Full-text search over the audit log and its cases with tantivy: every
//! audit record is indexed with its actor, action, decision, reason, note
//! and, for records about an item, the banks, labels and queue reason of
//! the verdict behind it. The index lives in memory; it is built from the
//! database on first use and brought up to date before every search from
//! the records appended since (the database stays the system of record).
//!
//! Queries use tantivy's syntax: words search notes, reasons and statements;
//! `actor:alice`, `decision:uphold`, `bank:tve-demo`, `label:gifct`,
//! `reason:journalism` restrict to a field; `AND`, `OR`, `-`, quotes work.
//! A date range is added from the `from` / `to` filters.

use std::collections::HashMap;
use std::sync::Mutex;
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{Field, Schema, Value, FAST, INDEXED, STORED, STRING, TEXT};
use tantivy::{doc, DateTime, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument};
use vigil_pipeline::UploadId;
use vigil_store::{AuditEntry, Store};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("cannot parse the query: {0}")]
    Query(String),
    #[error(transparent)]
    Store(#[from] vigil_store::StoreError),
}

struct Fields {
    audit_id: Field,
    at: Field,
    actor: Field,
    action: Field,
    upload_id: Field,
    decision: Field,
    reason: Field,
    note: Field,
    bank: Field,
    label: Field,
    queue_reason: Field,
}

/// What an item's verdict adds to its records: banks, labels, queue reason.
type Facts = (Vec<String>, Vec<String>, String);

struct Inner {
    writer: IndexWriter,
    /// The last record indexed, `(at, audit_id)`.
    cursor: Option<(String, String)>,
}

/// The search index; share it behind an `Arc`.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    inner: tokio::sync::Mutex<Inner>,
    /// Verdict facts per `(upload_id, policy_version)`: banks, labels, queue reason.
    facts: Mutex<HashMap<(String, String), Facts>>,
}

/// One hit, as the audit page shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    pub audit_id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub upload_id: Option<String>,
    pub decision: Option<String>,
    pub reason: Option<String>,
    pub note: Option<String>,
}

fn parse_at(at: &str) -> DateTime {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| DateTime::from_timestamp_micros(t.timestamp_micros()))
        .unwrap_or(DateTime::from_timestamp_micros(0))
}

impl SearchIndex {
    pub fn new() -> Result<SearchIndex, SearchError> {
        let mut sb = Schema::builder();
        let fields = Fields {
            audit_id: sb.add_text_field("audit_id", STRING | STORED),
            at: sb.add_date_field("at", INDEXED | STORED | FAST),
            actor: sb.add_text_field("actor", STRING | STORED),
            action: sb.add_text_field("action", STRING | STORED),
            upload_id: sb.add_text_field("upload_id", STRING | STORED),
            decision: sb.add_text_field("decision", STRING | STORED),
            reason: sb.add_text_field("reason", TEXT | STORED),
            note: sb.add_text_field("note", TEXT | STORED),
            bank: sb.add_text_field("bank", STRING),
            label: sb.add_text_field("label", TEXT),
            queue_reason: sb.add_text_field("queue_reason", STRING),
        };
        let index = Index::create_in_ram(sb.build());
        let writer = index.writer_with_num_threads(1, 15_000_000)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
            inner: tokio::sync::Mutex::new(Inner {
                writer,
                cursor: None,
            }),
            facts: Mutex::new(HashMap::new()),
        })
    }

    async fn facts(
        &self,
        store: &Store,
        upload_id: &str,
        pv: &str,
    ) -> (Vec<String>, Vec<String>, String) {
        let key = (upload_id.to_string(), pv.to_string());
        if let Some(f) = self
            .facts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return f.clone();
        }
        let mut facts: Facts = (Vec::new(), Vec::new(), String::new());
        if let Ok(id) = UploadId::parse(upload_id) {
            if let Ok(Some(v)) = store.verdict_for(&id, pv).await {
                for m in &v.matches {
                    facts.0.push(m.bank.clone());
                    facts.1.extend(m.labels.iter().cloned());
                }
            }
            if let Ok(Some(c)) = store.review_case(upload_id, pv).await {
                facts.2 = c.queue_reason;
            }
        }
        let mut cache = self.facts.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(key, facts.clone());
        facts
    }

    fn document(
        &self,
        e: &AuditEntry,
        facts: Option<&(Vec<String>, Vec<String>, String)>,
    ) -> TantivyDocument {
        let f = &self.fields;
        let mut d = doc!(
            f.audit_id => e.audit_id.as_str(),
            f.at => parse_at(&e.at),
            f.actor => e.actor.as_str(),
            f.action => e.action.as_str(),
        );
        let opt = |d: &mut TantivyDocument, field: Field, v: &Option<String>| {
            if let Some(v) = v {
                d.add_text(field, v);
            }
        };
        opt(&mut d, f.upload_id, &e.upload_id);
        opt(&mut d, f.decision, &e.decision);
        opt(&mut d, f.reason, &e.reason);
        opt(&mut d, f.note, &e.note);
        if let Some((banks, labels, queue_reason)) = facts {
            for b in banks {
                d.add_text(f.bank, b);
            }
            for l in labels {
                d.add_text(f.label, l);
            }
            if !queue_reason.is_empty() {
                d.add_text(f.queue_reason, queue_reason);
            }
        }
        d
    }

    /// Index every audit record appended since the last call. Returns how
    /// many were added.
    pub async fn sync(&self, store: &Store) -> Result<usize, SearchError> {
        let mut inner = self.inner.lock().await;
        let mut added = 0;
        loop {
            let after = inner.cursor.as_ref().map(|(a, i)| (a.as_str(), i.as_str()));
            let batch = store.audit_after(after, 1000).await?;
            let Some(last) = batch.last() else { break };
            let cursor = (last.at.clone(), last.audit_id.clone());
            for e in &batch {
                let facts = match (&e.upload_id, &e.policy_version) {
                    (Some(u), Some(pv)) => Some(self.facts(store, u, pv).await),
                    _ => None,
                };
                inner
                    .writer
                    .add_document(self.document(e, facts.as_ref()))?;
            }
            added += batch.len();
            inner.cursor = Some(cursor);
            if batch.len() < 1000 {
                break;
            }
        }
        if added > 0 {
            inner.writer.commit()?;
            self.reader.reload()?;
        }
        Ok(added)
    }

    /// Search, newest first among the best `limit` matches. `from` / `to`
    /// are RFC 3339 dates or timestamps bounding `at`.
    pub async fn search(
        &self,
        store: &Store,
        text: &str,
        from: Option<&str>,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        self.sync(store).await?;
        let f = &self.fields;
        let mut parser = QueryParser::for_index(
            &self.index,
            vec![
                f.note,
                f.reason,
                f.label,
                f.actor,
                f.decision,
                f.bank,
                f.action,
                f.upload_id,
            ],
        );
        parser.set_conjunction_by_default();
        let mut q = if text.trim().is_empty() {
            "*".to_string()
        } else {
            format!("({})", text.trim())
        };
        if from.is_some() || to.is_some() {
            let bound = |s: Option<&str>, end: bool| -> Result<String, SearchError> {
                match s {
                    None => Ok("*".into()),
                    Some(s) => day_or_timestamp(s, end)
                        .ok_or_else(|| SearchError::Query(format!("bad date {s:?}"))),
                }
            };
            q = format!(
                "{q} AND at:[{} TO {}]",
                bound(from, false)?,
                bound(to, true)?
            );
        }
        // Lenient: stray quotes or brackets in what a person typed are read
        // as words instead of failing the search.
        let (query, _errors) = parser.parse_query_lenient(&q);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit.clamp(1, 1000)))?;
        let mut hits = Vec::with_capacity(top.len());
        for (_score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            let s = |field: Field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            let at = d
                .get_first(f.at)
                .and_then(|v| v.as_datetime())
                .and_then(|t| chrono::DateTime::from_timestamp_micros(t.into_timestamp_micros()))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                .unwrap_or_default();
            hits.push(Hit {
                audit_id: s(f.audit_id).unwrap_or_default(),
                at,
                actor: s(f.actor).unwrap_or_default(),
                action: s(f.action).unwrap_or_default(),
                upload_id: s(f.upload_id),
                decision: s(f.decision),
                reason: s(f.reason),
                note: s(f.note),
            });
        }
        hits.sort_by(|a, b| b.at.cmp(&a.at).then(b.audit_id.cmp(&a.audit_id)));
        Ok(hits)
    }
}

/// `2026-01-31` (start or end of that day, UTC) or an RFC 3339 timestamp,
/// as an RFC 3339 timestamp the query parser reads.
fn day_or_timestamp(s: &str, end: bool) -> Option<String> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let t = if end {
        d.and_hms_opt(23, 59, 59)?
    } else {
        d.and_hms_opt(0, 0, 0)?
    };
    Some(
        t.and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}
