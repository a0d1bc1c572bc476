//! TCAP-style JSON pages: `{"count": N, "next": "<url>"|null,
//! "checkpoint": "<token>", "results": [{"id", "hash_digest", "algorithm",
//! "created_at", "labels"/"classification", "deleted", ...}]}`.
//!
//! A page is one JSON document (read whole; pages are bounded by the API's
//! page size). Positions are 1-based indexes into `results`; the summary
//! carries the page's `next` and `checkpoint` so the caller fetches the next
//! page and stores the checkpoint to resume. `deleted: true` records become
//! tombstones.

use super::te_json::emit_record;
use super::{Ctx, ImportError, ImportEvent, RejectReason};
use crate::bank::BankEntry;
use crate::signal::SignalType;
use serde_json::{json, Value};
use std::io::{BufRead, Read, Write};

/// Largest page accepted, in bytes.
pub const MAX_PAGE_BYTES: u64 = 256 * 1024 * 1024;

pub(crate) fn import<R: BufRead, F: FnMut(ImportEvent)>(
    input: R,
    ctx: &mut Ctx<'_, F>,
) -> Result<(), ImportError> {
    let mut bytes = Vec::new();
    input.take(MAX_PAGE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PAGE_BYTES {
        return Err(ImportError::BadPage(format!(
            "page larger than {MAX_PAGE_BYTES} bytes"
        )));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let page: Value =
        serde_json::from_slice(body).map_err(|e| ImportError::BadPage(e.to_string()))?;
    let Some(obj) = page.as_object() else {
        return Err(ImportError::BadPage("not an object".into()));
    };
    let Some(results) = obj.get("results").and_then(Value::as_array) else {
        return Err(ImportError::BadPage("no results[] array".into()));
    };
    ctx.summary.next_page = obj.get("next").and_then(Value::as_str).map(str::to_string);
    ctx.summary.checkpoint = obj.get("checkpoint").and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    for (i, item) in results.iter().enumerate() {
        let n = i as u64 + 1;
        if !ctx.take(n) {
            continue;
        }
        match item {
            Value::Object(o) => emit_record(
                ctx,
                n,
                o,
                &["algorithm", "hash_type", "signal_type"],
                &["hash_digest", "hash", "signal"],
                &["deleted", "should_delete"],
            ),
            _ => ctx.reject(
                n,
                RejectReason::BadJson("results[] item is not an object".into()),
            ),
        }
        ctx.done(n);
    }
    Ok(())
}

/// TCAP's name for a signal type.
pub fn tcap_algorithm(t: SignalType) -> &'static str {
    crate::signal::kind(t).tcap_algorithm()
}

/// Write one page holding `entries`, with the given `next` link and
/// checkpoint (the caller paginates).
pub fn export_page<W: Write>(
    entries: &[&BankEntry],
    next: Option<&str>,
    checkpoint: Option<&str>,
    mut w: W,
) -> std::io::Result<()> {
    let results: Vec<Value> = entries
        .iter()
        .map(|e| {
            let p = e.provenance.clone().unwrap_or_default();
            let mut o = json!({
                "entry_id": e.entry_id,
                "hash_digest": super::exchange_signal(e),
                "algorithm": tcap_algorithm(e.signal_type),
                "labels": e.labels,
                "deleted": false,
            });
            let m = o.as_object_mut().expect("json! object");
            if let Some(id) = p.source_id {
                m.insert("id".into(), json!(id));
            }
            if let Some(t) = p.shared_at {
                m.insert("created_at".into(), json!(t));
            }
            if !p.shared_by.is_empty() {
                m.insert("shared_by".into(), json!(p.shared_by));
            }
            if !p.exchange.is_empty() {
                m.insert("exchange".into(), json!(p.exchange));
            }
            if let Some(op) = p.opinion {
                m.insert("opinion".into(), json!(op.as_str()));
            }
            if let Some(n) = &e.note {
                m.insert("note".into(), json!(n));
            }
            o
        })
        .collect();
    let page = json!({
        "count": results.len(),
        "next": next,
        "checkpoint": checkpoint,
        "results": results,
    });
    serde_json::to_writer(&mut w, &page)?;
    w.write_all(b"\n")?;
    w.flush()
}
