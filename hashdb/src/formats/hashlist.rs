//! The plain hash-list format: one `<type> <hex>` per line (`pdq`, `md5`,
//! `sha256`, `dhash`, `phash`; `vpdq` with ThreatExchange's one-line JSON
//! array form), blank
//! lines and `#` comments (whole-line or trailing) ignored.

use super::{for_each_line, Ctx, ImportEvent, RawRecord, RejectReason};
use crate::bank::BankEntry;
use std::io::{self, BufRead, Write};

pub(crate) fn import<R: BufRead, F: FnMut(ImportEvent)>(
    input: R,
    ctx: &mut Ctx<'_, F>,
) -> io::Result<()> {
    for_each_line(input, ctx, |ctx, n, line| {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            return;
        }
        let mut it = line.split_whitespace();
        let t = it.next();
        let signal = it.next();
        if let Some(extra) = it.next() {
            ctx.reject(n, RejectReason::ExtraField(extra.to_string()));
            return;
        }
        if signal.is_none() {
            ctx.reject(n, RejectReason::MissingField("signal"));
            return;
        }
        ctx.record(
            n,
            RawRecord {
                signal_type: t,
                signal,
                ..RawRecord::default()
            },
        );
    })
}

/// Write entries as a hash list, with a comment header.
pub fn export<W: Write>(bank: &str, entries: &[&BankEntry], mut w: W) -> io::Result<()> {
    writeln!(
        w,
        "# vigil hash list: bank {bank}, {} entries",
        entries.len()
    )?;
    for e in entries {
        writeln!(
            w,
            "{} {}",
            e.signal_type.as_str(),
            super::exchange_signal(e)
        )?;
    }
    w.flush()
}
