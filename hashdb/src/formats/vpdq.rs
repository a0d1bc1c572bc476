//! Video files in the reference vPDQ text format: one
//! `frame_number,quality,pdq_hex,timestamp_seconds` line per kept frame, as
//! `vigil hash --format vpdq` and Meta's `vpdq` tools write it.
//!
//! Import reads one video per input, or several when each is opened by a
//! `# entry <entry_id>` line (what [`export`] writes); other `#` lines and
//! blank lines are ignored. A video's position is the line its first frame
//! (or its `# entry` line) is on. A bad frame line rejects its whole video,
//! with the line number, and the import goes on with the next video. Each
//! video is held in memory while it is read (capped by
//! [`crate::video::MAX_PARSED_FRAMES`] frames).

use super::{for_each_line, Ctx, ImportEvent, RawRecord, RejectReason};
use crate::bank::BankEntry;
use crate::signal::SignalType;
use std::io::{self, BufRead, Write};

/// A video being read.
#[derive(Default)]
struct Pending {
    position: u64,
    entry_id: Option<String>,
    text: String,
    frames: usize,
    /// Set once a line of this video was rejected.
    failed: bool,
}

pub(crate) fn import<R: BufRead, F: FnMut(ImportEvent)>(
    input: R,
    ctx: &mut Ctx<'_, F>,
) -> io::Result<()> {
    let mut cur: Option<Pending> = None;
    for_each_line(input, ctx, |ctx, n, line| {
        let t = line.trim();
        if let Some(id) = t.strip_prefix("# entry") {
            if let Some(p) = cur.take() {
                finish(ctx, p);
            }
            let id = id.trim();
            cur = Some(Pending {
                position: n,
                entry_id: (!id.is_empty()).then(|| id.to_string()),
                ..Pending::default()
            });
            return;
        }
        if t.is_empty() || t.starts_with('#') {
            return;
        }
        let p = cur.get_or_insert_with(|| Pending {
            position: n,
            ..Pending::default()
        });
        if p.failed {
            return;
        }
        if p.frames >= crate::video::MAX_PARSED_FRAMES {
            p.failed = true;
            ctx.reject(
                n,
                RejectReason::BadVpdq(format!(
                    "more than {} frames",
                    crate::video::MAX_PARSED_FRAMES
                )),
            );
            return;
        }
        if let Err(e) = crate::video::parse_features(t) {
            p.failed = true;
            // The parser numbers lines from 1 within what it was given.
            let msg = e.to_string().replacen("line 1: ", "", 1);
            ctx.reject(n, RejectReason::BadVpdq(format!("vpdq frame line: {msg}")));
            return;
        }
        p.text.push_str(t);
        p.text.push('\n');
        p.frames += 1;
    })?;
    if let Some(p) = cur.take() {
        finish(ctx, p);
    }
    Ok(())
}

fn finish<F: FnMut(ImportEvent)>(ctx: &mut Ctx<'_, F>, p: Pending) {
    if p.failed {
        return;
    }
    if p.frames == 0 {
        ctx.reject(
            p.position,
            RejectReason::BadVpdq("vpdq video has no frames".into()),
        );
        return;
    }
    ctx.record(
        p.position,
        RawRecord {
            signal_type: Some(SignalType::Vpdq.as_str()),
            signal: Some(&p.text),
            entry_id: p.entry_id,
            ..RawRecord::default()
        },
    );
}

/// Write the video entries among `entries`, each opened by
/// `# entry <entry_id>`; other signal types are left out (they have no
/// place in this format). Returns how many videos were written.
pub fn export<W: Write>(bank: &str, entries: &[&BankEntry], mut w: W) -> io::Result<usize> {
    writeln!(w, "# vigil vpdq export: bank {bank}")?;
    let mut n = 0;
    for e in entries.iter().filter(|e| e.signal_type == SignalType::Vpdq) {
        writeln!(w, "# entry {}", e.entry_id)?;
        w.write_all(e.signal.as_bytes())?;
        if !e.signal.ends_with('\n') {
            writeln!(w)?;
        }
        n += 1;
    }
    w.flush()?;
    Ok(n)
}
