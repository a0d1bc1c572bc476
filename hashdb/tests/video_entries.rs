//! Videos (vPDQ) as a bank signal type: validation and normalisation, the
//! generation counter video indexes rebuild on, snapshots, and every
//! exchange format's import and export. Uses the reference sample hashes
//! under `shared/testdata/vpdq` (read at run time).

use vigil_hashdb::formats::{self, Format, ImportEvent, ImportOp, ImportOptions, RejectReason};
use vigil_hashdb::video::{format_te_signal, parse_features};
use vigil_hashdb::{snapshot, Bank, BankAction, BankEntry, Change, HashDb, SignalType};

fn sample(name: &str) -> String {
    let p = vigil_testdata::require("vpdq").join(format!("vpdq/sample-hashes/{name}.txt"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn db() -> HashDb {
    let mut db = HashDb::new();
    db.upsert_bank(Bank::new("videos", BankAction::Takedown));
    db
}

fn import(format: Format, text: &str) -> (Vec<BankEntry>, Vec<(u64, RejectReason)>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    formats::import(
        format,
        text.as_bytes(),
        &ImportOptions::new("videos"),
        |ev| match ev {
            ImportEvent::Record(r) => match r.op {
                ImportOp::Upsert(e) => ok.push(e),
                ImportOp::Delete { .. } => panic!("no deletes expected"),
            },
            ImportEvent::Rejected(r) => bad.push((r.position, r.reason)),
        },
    )
    .unwrap();
    (ok, bad)
}

#[test]
fn a_video_entry_is_normalised_and_bumps_the_generation() {
    let text = sample("chair-19-sd-bar");
    let frames = parse_features(&text).unwrap();
    let mut db = db();
    let g0 = db.video_generation();
    // Sloppy input (CRLF, blank lines, upper-case hex) becomes the canonical text.
    let sloppy = format!("\r\n{}", text.to_uppercase().replace('\n', "\r\n"));
    let e = BankEntry::derived("videos", SignalType::Vpdq, &sloppy);
    db.upsert_entry(e.clone()).unwrap();
    assert!(db.video_generation() > g0);
    let stored = db.entry("videos", &e.entry_id).unwrap();
    assert_eq!(parse_features(&stored.signal).unwrap(), frames);
    assert!(stored.signal.lines().all(|l| l == l.to_lowercase()));
    assert_eq!(db.video_entries().count(), 1);
    // Videos never answer image lookups.
    assert!(db.pdq_within(&frames[0].hash, 31).is_empty());
    // The ThreatExchange JSON form of the same frames is the same video.
    let te = BankEntry::new(
        "videos",
        &e.entry_id,
        SignalType::Vpdq,
        &format_te_signal(&frames),
    );
    let g1 = db.video_generation();
    assert_eq!(
        db.upsert_entry_applied(te).unwrap(),
        vigil_hashdb::Applied::Unchanged
    );
    assert_eq!(db.video_generation(), g1);
    // Another video under the same id replaces it.
    let other = BankEntry::new(
        "videos",
        &e.entry_id,
        SignalType::Vpdq,
        &sample("pattern-hd-no-bar"),
    );
    assert_eq!(
        db.upsert_entry_applied(other).unwrap(),
        vigil_hashdb::Applied::Updated
    );
    assert_eq!(db.video_entries().count(), 1);
    let g2 = db.video_generation();
    assert!(g2 > g1, "replacing a video changes the generation");
    assert!(db.delete_entry("videos", &e.entry_id));
    assert!(db.video_generation() > g2);
    assert_eq!(db.video_entries().count(), 0);
}

#[test]
fn bad_video_signals_are_rejected_with_a_reason() {
    let mut db = db();
    for bad in [
        "",
        "0,100",
        "0,100,zz,0.0",
        "[\"abc,1,0\"]",
        "# only a comment\n",
    ] {
        let e = BankEntry::new("videos", "v1", SignalType::Vpdq, bad);
        let err = db.upsert_entry(e).unwrap_err().to_string();
        assert!(err.contains("vpdq"), "{bad:?}: {err}");
    }
    assert_eq!(db.video_entries().count(), 0);
}

#[test]
fn snapshots_keep_video_entries() {
    let mut db = db();
    let e = BankEntry::derived("videos", SignalType::Vpdq, &sample("pattern-hd-no-bar"));
    db.upsert_entry(e.clone()).unwrap();
    db.upsert_entry(BankEntry::derived(
        "videos",
        SignalType::Md5,
        "0a21c8f85a55a9e276ffc2c53f6887c4",
    ))
    .unwrap();
    let mut buf = Vec::new();
    snapshot::write_snapshot(&db, "c", &mut buf).unwrap();
    let (back, _) = snapshot::read_snapshot(&buf[..]).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(
        back.entry("videos", &e.entry_id),
        db.entry("videos", &e.entry_id)
    );
    assert_eq!(back.video_entries().count(), 1);
}

#[test]
fn vpdq_files_import_one_or_many_videos_and_export_round_trips() {
    let a = sample("chair-19-sd-bar");
    let b = sample("pattern-sd-with-small-logo-bar");
    // One plain reference file is one video.
    let (one, bad) = import(Format::Vpdq, &a);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].signal_type, SignalType::Vpdq);
    assert_eq!(one[0].signal, a.trim_end().to_string() + "\n");
    // Several videos with `# entry` lines; the middle one is broken and is
    // rejected alone, at its bad line.
    let broken = "0,100,not-hex,0.000\n";
    let text = format!("# entry first\n{a}# entry broken\n{broken}# entry second\n{b}");
    let (many, bad) = import(Format::Vpdq, &text);
    assert_eq!(
        many.iter().map(|e| e.entry_id.as_str()).collect::<Vec<_>>(),
        ["first", "second"]
    );
    assert_eq!(bad.len(), 1, "{bad:?}");
    let bad_line = a.lines().count() as u64 + 3;
    assert_eq!(bad[0].0, bad_line);
    assert!(
        matches!(&bad[0].1, RejectReason::BadVpdq(m) if m.contains("PDQ hash")),
        "{bad:?}"
    );
    // An empty video is rejected too.
    let (_, bad) = import(Format::Vpdq, "# entry empty\n# entry x\n0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.000\n");
    assert_eq!(bad.len(), 1);
    // Export writes every video with its id, and re-imports to the same entries.
    let refs: Vec<&BankEntry> = many.iter().collect();
    let mut out = Vec::new();
    assert_eq!(formats::vpdq::export("videos", &refs, &mut out).unwrap(), 2);
    let (again, bad) = import(Format::Vpdq, std::str::from_utf8(&out).unwrap());
    assert!(bad.is_empty());
    assert_eq!(again, many);
}

#[test]
fn one_line_formats_carry_videos_as_threatexchange_json() {
    let text = sample("pattern-hd-no-bar");
    let e = BankEntry::derived("videos", SignalType::Vpdq, &text);
    let mut source = db();
    source.upsert_entry(e.clone()).unwrap();
    let stored = source.entry("videos", &e.entry_id).unwrap().clone();
    let refs = vec![&stored];
    let mut list = Vec::new();
    formats::hashlist::export("videos", &refs, &mut list).unwrap();
    let mut csv = Vec::new();
    formats::csv::export(&refs, &mut csv).unwrap();
    let mut te = Vec::new();
    formats::te_json::export(&refs, &mut te).unwrap();
    let mut tcap = Vec::new();
    formats::tcap::export_page(&refs, None, None, &mut tcap).unwrap();
    for (format, bytes) in [
        (Format::HashList, list),
        (Format::TeCsv, csv),
        (Format::TeJson, te),
        (Format::Tcap, tcap),
    ] {
        let text = String::from_utf8(bytes).unwrap();
        let (got, bad) = import(format, &text);
        assert!(bad.is_empty(), "{format:?}: {bad:?}");
        assert_eq!(got.len(), 1, "{format:?}");
        assert_eq!(got[0].signal_type, SignalType::Vpdq, "{format:?}");
        assert_eq!(
            parse_features(&got[0].signal).unwrap(),
            parse_features(&stored.signal).unwrap(),
            "{format:?}"
        );
        let mut db2 = db();
        db2.apply(Change::UpsertEntry {
            entry: got[0].clone(),
        })
        .unwrap();
        assert_eq!(db2.video_entries().count(), 1);
    }
    // A hex value is not a video.
    let (_, bad) = import(
        Format::HashList,
        "vpdq e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c\n",
    );
    assert!(
        matches!(&bad[..], [(1, RejectReason::BadVpdq(_))]),
        "{bad:?}"
    );
}
