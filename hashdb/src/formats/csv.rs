//! ThreatExchange-style CSV: a header row, then one signal per row.
//!
//! Required columns: `signal_type`, and `signal` or `signal_str`. Optional
//! (case-insensitive): `labels`/`tags` (separated by `;`, `|`, `,` or spaces
//! inside the field), `entry_id`, `id`/`indicator_id`/`source_id`,
//! `exchange`/`collab`, `shared_by`/`owner`,
//! `shared_at`/`created_at`/`last_updated`, `opinion`, `note`, `quality`,
//! `should_delete`/`deleted`. Other columns are ignored. Fields may be quoted
//! (`"a,b"`, `""` for a quote) but must not span lines. A row with a different
//! field count from the header (a truncated file's last row, say) is rejected.

use super::{read_line, Ctx, ImportEvent, Line, RawRecord, RejectReason};
use crate::bank::BankEntry;
use std::io::{self, BufRead, Write};

/// Split one CSV line into fields.
pub fn split_line(line: &str) -> Result<Vec<String>, RejectReason> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut field_start = true;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            ',' => {
                fields.push(std::mem::take(&mut cur));
                field_start = true;
                continue;
            }
            '"' if field_start => in_quotes = true,
            _ => cur.push(c),
        }
        field_start = false;
    }
    if in_quotes {
        return Err(RejectReason::UnterminatedQuote);
    }
    fields.push(cur);
    Ok(fields)
}

#[derive(Default)]
struct Columns {
    count: usize,
    signal_type: Option<usize>,
    signal: Option<usize>,
    labels: Option<usize>,
    entry_id: Option<usize>,
    source_id: Option<usize>,
    exchange: Option<usize>,
    shared_by: Option<usize>,
    shared_at: Option<usize>,
    opinion: Option<usize>,
    note: Option<usize>,
    quality: Option<usize>,
    delete: Option<usize>,
}

impl Columns {
    fn from_header(fields: &[String]) -> Columns {
        let mut c = Columns {
            count: fields.len(),
            ..Columns::default()
        };
        for (i, f) in fields.iter().enumerate() {
            let slot = match f.trim().to_ascii_lowercase().as_str() {
                "signal_type" | "type" | "indicator_type" => &mut c.signal_type,
                "signal" | "signal_str" | "indicator" | "hash" => &mut c.signal,
                "labels" | "tags" => &mut c.labels,
                "entry_id" => &mut c.entry_id,
                "id" | "indicator_id" | "source_id" => &mut c.source_id,
                "exchange" | "collab" | "collaboration" => &mut c.exchange,
                "shared_by" | "owner" => &mut c.shared_by,
                "shared_at" | "created_at" | "last_updated" | "time" => &mut c.shared_at,
                "opinion" => &mut c.opinion,
                "note" | "notes" => &mut c.note,
                "quality" => &mut c.quality,
                "should_delete" | "deleted" => &mut c.delete,
                _ => continue,
            };
            slot.get_or_insert(i);
        }
        c
    }
}

fn truthy(s: &str) -> bool {
    matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "y"
    )
}

pub(crate) fn import<R: BufRead, F: FnMut(ImportEvent)>(
    mut input: R,
    ctx: &mut Ctx<'_, F>,
) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut n = 0u64;
    let max = ctx.opts.max_line_bytes;
    let mut cols: Option<Columns> = None;
    while let Some(line) = read_line(&mut input, &mut buf, max, n == 0)? {
        n += 1;
        // The header is read even when resuming past it.
        if cols.is_none() {
            ctx.summary.read += 1;
            match line {
                Line::Text(s) if s.trim().is_empty() || s.trim_start().starts_with('#') => {}
                Line::Text(s) => match split_line(&s) {
                    Ok(f) => {
                        let c = Columns::from_header(&f);
                        if c.signal_type.is_none() {
                            ctx.reject(n, RejectReason::BadHeader("signal_type"));
                            return Ok(());
                        }
                        if c.signal.is_none() {
                            ctx.reject(n, RejectReason::BadHeader("signal"));
                            return Ok(());
                        }
                        cols = Some(c);
                    }
                    Err(r) => {
                        ctx.reject(n, r);
                        return Ok(());
                    }
                },
                Line::TooLong(len) => {
                    ctx.reject(n, RejectReason::LineTooLong { len, max });
                    return Ok(());
                }
                Line::NotUtf8 => {
                    ctx.reject(n, RejectReason::NotUtf8);
                    return Ok(());
                }
            }
            ctx.done(n);
            continue;
        }
        if !ctx.take(n) {
            continue;
        }
        let Some(c) = cols.as_ref() else { continue };
        match line {
            Line::Text(s) if s.trim().is_empty() || s.trim_start().starts_with('#') => {}
            Line::Text(s) => match split_line(&s) {
                Ok(f) if f.len() != c.count => ctx.reject(
                    n,
                    RejectReason::FieldCount {
                        expected: c.count,
                        got: f.len(),
                    },
                ),
                Ok(f) => {
                    let get = |i: Option<usize>| i.map(|i| f[i].trim()).filter(|v| !v.is_empty());
                    let own = |i: Option<usize>| get(i).map(str::to_string);
                    let raw = RawRecord {
                        signal_type: get(c.signal_type),
                        signal: get(c.signal),
                        quality: get(c.quality),
                        labels: get(c.labels)
                            .map(|l| {
                                l.split([';', '|', ',', ' '])
                                    .filter(|x| !x.is_empty())
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default(),
                        delete: get(c.delete).is_some_and(truthy),
                        entry_id: own(c.entry_id),
                        exchange: own(c.exchange),
                        shared_by: own(c.shared_by),
                        shared_at: own(c.shared_at),
                        opinion: own(c.opinion),
                        source_id: own(c.source_id),
                        note: own(c.note),
                    };
                    ctx.record(n, raw);
                }
                Err(r) => ctx.reject(n, r),
            },
            Line::TooLong(len) => ctx.reject(n, RejectReason::LineTooLong { len, max }),
            Line::NotUtf8 => ctx.reject(n, RejectReason::NotUtf8),
        }
        ctx.done(n);
    }
    Ok(())
}

fn field(s: &str) -> String {
    let s = s.replace(['\r', '\n'], " ");
    if s.contains([',', '"']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The header [`export`] writes.
pub const EXPORT_HEADER: &str =
    "signal_type,signal,entry_id,labels,exchange,shared_by,shared_at,opinion,source_id,note";

/// Write entries as CSV with [`EXPORT_HEADER`].
pub fn export<W: Write>(entries: &[&BankEntry], mut w: W) -> io::Result<()> {
    writeln!(w, "{EXPORT_HEADER}")?;
    for e in entries {
        let p = e.provenance.clone().unwrap_or_default();
        let row = [
            e.signal_type.as_str().to_string(),
            super::exchange_signal(e),
            e.entry_id.clone(),
            e.labels.join(";"),
            p.exchange,
            p.shared_by,
            p.shared_at.unwrap_or_default(),
            p.opinion
                .map(|o| o.as_str().to_string())
                .unwrap_or_default(),
            p.source_id.unwrap_or_default(),
            e.note.clone().unwrap_or_default(),
        ];
        let row: Vec<String> = row.iter().map(|f| field(f)).collect();
        writeln!(w, "{}", row.join(","))?;
    }
    w.flush()
}
