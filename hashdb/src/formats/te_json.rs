//! ThreatExchange update records as JSON Lines: one object per line, e.g.
//! `{"id":"123","type":"HASH_PDQ","indicator":"<hex>","should_delete":false,"tags":["a"],"last_updated":1700000000}`,
//! or a whole `{"data":[record, ...]}` page on one line (its records share
//! the line's position). `should_delete: true` records become tombstones.
//! Recognised fields: `type`/`indicator_type`/`signal_type`,
//! `indicator`/`signal`, `id`, `entry_id`, `should_delete`, `tags`/`labels`,
//! `last_updated`/`creation_time`/`shared_at`, `owner` (string or
//! `{name}`)/`shared_by`, `exchange`, `opinion`, `note`, `quality`. Other
//! fields are ignored.

use super::{for_each_line, Ctx, ImportEvent, RawRecord, RejectReason};
use crate::bank::BankEntry;
use crate::signal::SignalType;
use serde_json::{json, Map, Value};
use std::io::{self, BufRead, Write};

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(o) => text(o.get("name").or_else(|| o.get("id"))),
        _ => None,
    }
}

fn first<'a>(o: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| o.get(*k)).filter(|v| !v.is_null())
}

fn labels(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|x| text(Some(x))).collect(),
        Some(Value::String(s)) => s
            .split([';', ',', ' '])
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Turn one JSON record into a raw record and emit it.
pub(crate) fn emit_record<F: FnMut(ImportEvent)>(
    ctx: &mut Ctx<'_, F>,
    n: u64,
    o: &Map<String, Value>,
    type_keys: &[&str],
    signal_keys: &[&str],
    delete_keys: &[&str],
) {
    let signal_type = text(first(o, type_keys));
    let signal = text(first(o, signal_keys));
    let quality = text(first(o, &["quality"]));
    let delete = first(o, delete_keys)
        .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"));
    let raw = RawRecord {
        signal_type: signal_type.as_deref(),
        signal: signal.as_deref(),
        quality: quality.as_deref(),
        labels: labels(first(o, &["tags", "labels", "classification"])),
        delete,
        entry_id: text(first(o, &["entry_id"])),
        exchange: text(first(o, &["exchange", "source"])),
        shared_by: text(first(
            o,
            &["owner", "shared_by", "owner_id", "organisation"],
        )),
        shared_at: text(first(
            o,
            &[
                "last_updated",
                "shared_at",
                "creation_time",
                "created_at",
                "updated_at",
            ],
        )),
        opinion: text(first(o, &["opinion"])),
        source_id: text(first(o, &["id"])),
        note: text(first(o, &["note", "description"])),
    };
    ctx.record(n, raw);
}

pub(crate) fn import<R: BufRead, F: FnMut(ImportEvent)>(
    input: R,
    ctx: &mut Ctx<'_, F>,
) -> io::Result<()> {
    const TYPE: &[&str] = &["type", "indicator_type", "signal_type"];
    const SIGNAL: &[&str] = &["indicator", "signal", "hash"];
    const DELETE: &[&str] = &["should_delete", "deleted"];
    for_each_line(input, ctx, |ctx, n, line| {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                ctx.reject(n, RejectReason::BadJson(e.to_string()));
                return;
            }
        };
        match &v {
            Value::Object(o) => match o.get("data") {
                Some(Value::Array(items)) => {
                    for item in items {
                        match item {
                            Value::Object(r) => emit_record(ctx, n, r, TYPE, SIGNAL, DELETE),
                            _ => ctx.reject(
                                n,
                                RejectReason::BadJson("data[] item is not an object".into()),
                            ),
                        }
                    }
                }
                _ => emit_record(ctx, n, o, TYPE, SIGNAL, DELETE),
            },
            _ => ctx.reject(n, RejectReason::BadJson("record is not an object".into())),
        }
    })
}

/// ThreatExchange's name for a signal type.
pub fn te_type(t: SignalType) -> &'static str {
    crate::signal::kind(t).te_type()
}

/// One update record for an entry.
pub fn record(e: &BankEntry) -> Value {
    let p = e.provenance.clone().unwrap_or_default();
    let mut o = json!({
        "entry_id": e.entry_id,
        "type": te_type(e.signal_type),
        "indicator": super::exchange_signal(e),
        "should_delete": false,
        "tags": e.labels,
    });
    let m = o.as_object_mut().expect("json! object");
    if let Some(id) = p.source_id {
        m.insert("id".into(), json!(id));
    }
    if !p.exchange.is_empty() {
        m.insert("exchange".into(), json!(p.exchange));
    }
    if !p.shared_by.is_empty() {
        m.insert("owner".into(), json!(p.shared_by));
    }
    if let Some(t) = p.shared_at {
        m.insert("last_updated".into(), json!(t));
    }
    if let Some(op) = p.opinion {
        m.insert("opinion".into(), json!(op.as_str()));
    }
    if let Some(n) = &e.note {
        m.insert("note".into(), json!(n));
    }
    o
}

/// A tombstone record (`should_delete: true`) for a withdrawn signal.
pub fn delete_record(entry_id: &str, signal_type: SignalType, signal: &str) -> Value {
    json!({
        "id": entry_id,
        "entry_id": entry_id,
        "type": te_type(signal_type),
        "indicator": signal,
        "should_delete": true,
    })
}

/// Write entries as JSON Lines of update records.
pub fn export<W: Write>(entries: &[&BankEntry], mut w: W) -> io::Result<()> {
    for e in entries {
        serde_json::to_writer(&mut w, &record(e))?;
        w.write_all(b"\n")?;
    }
    w.flush()
}
