//! Exchange formats: bad files, idempotent and resumable import, export
//! round trips, and a fuzz-style property that parsers never panic.

use proptest::prelude::*;
use vigil_hashdb::formats::{
    self, Format, ImportEvent, ImportOp, ImportOptions, ImportSummary, RejectReason,
};
use vigil_hashdb::*;

const P1: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
const P2: &str = "0000000000000000000000000000000000000000000000000000000000000001";
const M1: &str = "d41d8cd98f00b204e9800998ecf8427e";
const S1: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

type Imported = (
    Vec<(u64, ImportOp)>,
    Vec<(u64, RejectReason)>,
    ImportSummary,
);

fn run(format: Format, input: &[u8], opts: &ImportOptions) -> Imported {
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    let summary = formats::import(format, input, opts, |ev| match ev {
        ImportEvent::Record(r) => ok.push((r.position, r.op)),
        ImportEvent::Rejected(r) => bad.push((r.position, r.reason)),
    })
    .unwrap();
    (ok, bad, summary)
}

fn db_with(bank: &str) -> HashDb {
    let mut db = HashDb::new();
    db.upsert_bank(Bank::new(bank, BankAction::Takedown));
    db
}

fn apply_all(db: &mut HashDb, ops: Vec<(u64, ImportOp)>) -> Vec<Applied> {
    ops.into_iter()
        .map(|(_, op)| db.apply(op.into_change()).unwrap())
        .collect()
}

#[test]
fn hash_list_reports_every_bad_line() {
    let huge = format!("pdq {}\n", "a".repeat(100_000));
    let text = format!(
        "\u{feff}# a comment\r\npdq {P1}\r\n\nmd5 {M1} # trailing comment\nsha256 {S1}\n\
         pdq {}\npdq {}zz\nahash {P1}\n{huge}md5\npdq {P1} extra\npdq {}\n",
        &P1[..62],
        &P1[..62],
        P1.to_uppercase()
    );
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"md5 \xff\xfe\n");
    bytes.extend_from_slice(format!("pdq {P2}").as_bytes()); // no final newline
    let (ok, bad, summary) = run(Format::HashList, &bytes, &ImportOptions::new("b"));
    let positions: Vec<u64> = ok.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, vec![2, 4, 5, 14]);
    let reasons: Vec<(u64, RejectReason)> = bad;
    assert_eq!(
        reasons,
        vec![
            (
                6,
                RejectReason::WrongLength {
                    signal_type: SignalType::Pdq,
                    expected: 64,
                    got: 62
                }
            ),
            (
                7,
                RejectReason::BadHex {
                    signal_type: SignalType::Pdq
                }
            ),
            (8, RejectReason::UnknownSignalType("ahash".into())),
            (
                9,
                RejectReason::LineTooLong {
                    len: 100_004,
                    max: 64 * 1024
                }
            ),
            (10, RejectReason::MissingField("signal")),
            (11, RejectReason::ExtraField("extra".into())),
            (12, RejectReason::Duplicate { first: 2 }),
            (13, RejectReason::NotUtf8),
        ]
    );
    assert_eq!(summary.read, 14);
    assert_eq!(summary.cursor, 14);
    assert_eq!(summary.upserts, 4);
    assert_eq!(summary.rejected, 8);
    // Entry ids are derived from bank + signal.
    match &ok[0].1 {
        ImportOp::Upsert(e) => {
            assert_eq!(e.entry_id, BankEntry::derive_id("b", SignalType::Pdq, P1));
            assert_eq!(e.signal, P1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn import_is_idempotent_and_resumable() {
    let text = format!("pdq {P1}\nmd5 {M1}\nbogus line\nsha256 {S1}\npdq {P2}\n");
    let opts = ImportOptions::new("b");
    let mut db = db_with("b");
    let (ok, _, s) = run(Format::HashList, text.as_bytes(), &opts);
    assert!(apply_all(&mut db, ok)
        .iter()
        .all(|a| *a == Applied::Inserted));
    assert_eq!(db.len(), 4);
    assert_eq!(s.cursor, 5);
    let (ok, _, _) = run(Format::HashList, text.as_bytes(), &opts);
    assert!(apply_all(&mut db, ok)
        .iter()
        .all(|a| *a == Applied::Unchanged));
    assert_eq!(db.len(), 4);

    // Interrupted after line 2, resumed from the cursor: same result.
    let mut db2 = db_with("b");
    let (ok, _, s) = run(
        Format::HashList,
        &text.as_bytes()[..text.find("bogus").unwrap()],
        &opts,
    );
    assert_eq!(s.cursor, 2);
    apply_all(&mut db2, ok);
    let resume = ImportOptions {
        resume_after: s.cursor,
        ..opts.clone()
    };
    let (ok, bad, s2) = run(Format::HashList, text.as_bytes(), &resume);
    assert_eq!(s2.skipped, 2);
    assert_eq!(bad.len(), 1);
    assert_eq!(ok.len(), 2);
    apply_all(&mut db2, ok);
    let ids = |db: &HashDb| {
        db.entries_of("b")
            .iter()
            .map(|e| e.entry_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&db), ids(&db2));
}

#[test]
fn csv_with_provenance_and_bad_rows() {
    let csv = format!(
        "\u{feff}signal_type,signal_str,tags,owner,opinion,quality,should_delete,extra\r\n\
         pdq,{P1},\"violent_extremism;attack\",org-1,positive,90,,x\r\n\
         HASH_MD5,{M1},,org-2,disputed,,false,\r\n\
         pdq,{P2},,org-1,,20,,\r\n\
         sha256,{S1},a,org-3,,,true,\r\n\
         pdq,\"{P1}\r\n\
         unknown,abc,,,,,,\r\n\
         pdq,{P2},a,b"
    );
    let mut opts = ImportOptions::new("gifct");
    opts.pdq_quality_floor = Some(50);
    opts.provenance.exchange = "gifct-hsdb".into();
    let (ok, bad, summary) = run(Format::TeCsv, csv.as_bytes(), &opts);
    assert_eq!(
        bad,
        vec![
            (
                4,
                RejectReason::QualityBelowFloor {
                    quality: 20,
                    floor: 50
                }
            ),
            (6, RejectReason::UnterminatedQuote),
            (7, RejectReason::UnknownSignalType("unknown".into())),
            (
                8,
                RejectReason::FieldCount {
                    expected: 8,
                    got: 4
                }
            ),
        ]
    );
    assert_eq!(ok.len(), 3);
    let ImportOp::Upsert(e) = &ok[0].1 else {
        panic!()
    };
    assert_eq!(e.labels, vec!["violent_extremism", "attack"]);
    let p = e.provenance.as_ref().unwrap();
    assert_eq!(
        (p.exchange.as_str(), p.shared_by.as_str(), p.opinion),
        ("gifct-hsdb", "org-1", Some(Opinion::Positive))
    );
    let ImportOp::Upsert(e) = &ok[1].1 else {
        panic!()
    };
    assert_eq!(
        e.provenance.as_ref().unwrap().opinion,
        Some(Opinion::Negative)
    );
    assert!(matches!(&ok[2].1, ImportOp::Delete { .. }));
    assert_eq!(
        (summary.deletes, summary.upserts, summary.cursor),
        (1, 2, 8)
    );

    // Resuming past the header still reads the header.
    let resume = ImportOptions {
        resume_after: 3,
        ..opts.clone()
    };
    let (ok, _, _) = run(Format::TeCsv, csv.as_bytes(), &resume);
    assert_eq!(ok.iter().map(|(p, _)| *p).collect::<Vec<_>>(), vec![5]);

    let (ok, bad, _) = run(Format::TeCsv, b"hash,kind\nabc,pdq\n", &opts);
    assert!(ok.is_empty());
    assert_eq!(bad, vec![(1, RejectReason::BadHeader("signal_type"))]);
}

#[test]
fn threatexchange_json_lines() {
    let text = format!(
        "{{\"id\":\"11\",\"type\":\"HASH_PDQ\",\"indicator\":\"{P1}\",\"should_delete\":false,\"tags\":[\"t1\"],\"last_updated\":1700000000,\"owner\":{{\"name\":\"Org\"}}}}\n\
         {{\"data\":[{{\"id\":12,\"type\":\"HASH_MD5\",\"indicator\":\"{M1}\"}},{{\"id\":13,\"type\":\"HASH_PDQ\",\"indicator\":\"{P2}\",\"should_delete\":true}}]}}\n\
         {{\"type\":\"HASH_TMK\",\"indicator\":\"00\"}}\n\
         not json\n\
         [1,2]\n"
    );
    let (ok, bad, _) = run(Format::TeJson, text.as_bytes(), &ImportOptions::new("te"));
    assert_eq!(ok.len(), 3);
    let ImportOp::Upsert(e) = &ok[0].1 else {
        panic!()
    };
    let p = e.provenance.as_ref().unwrap();
    assert_eq!(p.source_id.as_deref(), Some("11"));
    assert_eq!(p.shared_by, "Org");
    assert_eq!(p.shared_at.as_deref(), Some("1700000000"));
    assert_eq!(e.labels, vec!["t1"]);
    assert_eq!(ok[1].0, 2);
    assert!(
        matches!(&ok[2].1, ImportOp::Delete { entry_id, .. } if *entry_id == BankEntry::derive_id("te", SignalType::Pdq, P2))
    );
    assert_eq!(bad.len(), 3);
    assert_eq!(
        bad[0],
        (3, RejectReason::UnknownSignalType("HASH_TMK".into()))
    );
    assert!(matches!(bad[1], (4, RejectReason::BadJson(_))));
    assert!(matches!(bad[2], (5, RejectReason::BadJson(_))));
}

#[test]
fn tcap_pages() {
    let page = format!(
        "{{\"count\":3,\"next\":\"https://tcap.invalid/api/hashes?page=2\",\"checkpoint\":\"cp-17\",\"results\":[\
         {{\"id\":1,\"hash_digest\":\"{P1}\",\"algorithm\":\"PDQ\",\"labels\":[\"islamist\"],\"created_at\":\"2026-01-01T00:00:00Z\"}},\
         {{\"id\":2,\"hash_digest\":\"{S1}\",\"algorithm\":\"SHA-256\",\"deleted\":true}},\
         {{\"id\":3,\"hash_digest\":\"xyz\",\"algorithm\":\"MD5\"}}]}}"
    );
    let (ok, bad, s) = run(Format::Tcap, page.as_bytes(), &ImportOptions::new("tcap"));
    assert_eq!(ok.len(), 2);
    assert!(matches!(&ok[1].1, ImportOp::Delete { .. }));
    assert_eq!(
        bad,
        vec![(
            3,
            RejectReason::BadHex {
                signal_type: SignalType::Md5
            }
        )]
    );
    assert_eq!(
        s.next_page.as_deref(),
        Some("https://tcap.invalid/api/hashes?page=2")
    );
    assert_eq!(s.checkpoint.as_deref(), Some("cp-17"));
    assert!(formats::import(
        Format::Tcap,
        &b"{\"results\": 3}"[..],
        &ImportOptions::new("t"),
        |_| {}
    )
    .is_err());
    assert!(formats::import(
        Format::Tcap,
        &b"{\"results\": [tru"[..],
        &ImportOptions::new("t"),
        |_| {}
    )
    .is_err());
}

#[test]
fn export_round_trips_in_every_format() {
    let mut db = db_with("own");
    let mut e = BankEntry::derived("own", SignalType::Pdq, P1);
    e.labels = vec!["l1".into(), "l2".into()];
    e.note = Some("a \"quoted\", note".into());
    e.provenance = Some(Provenance {
        exchange: "local".into(),
        shared_by: "trust-and-safety".into(),
        shared_at: Some("2026-02-03T04:05:06Z".into()),
        opinion: Some(Opinion::InvestigationSeed),
        source_id: Some("src-9".into()),
    });
    db.upsert_entry(e).unwrap();
    db.upsert_entry(BankEntry::derived("own", SignalType::Md5, M1))
        .unwrap();
    db.upsert_entry(BankEntry::new("own", "manual", SignalType::Sha256, S1))
        .unwrap();
    let owned: Vec<BankEntry> = db.entries_of("own").into_iter().cloned().collect();
    let entries: Vec<&BankEntry> = owned.iter().collect();
    for format in [
        Format::TeCsv,
        Format::TeJson,
        Format::Tcap,
        Format::HashList,
    ] {
        let mut buf = Vec::new();
        match format {
            Format::HashList => formats::hashlist::export("own", &entries, &mut buf).unwrap(),
            Format::TeCsv => formats::csv::export(&entries, &mut buf).unwrap(),
            Format::TeJson => formats::te_json::export(&entries, &mut buf).unwrap(),
            Format::Tcap => {
                formats::tcap::export_page(&entries, None, Some("end"), &mut buf).unwrap()
            }
            // Videos only; covered by tests/video_entries.rs.
            Format::Vpdq => unreachable!(),
        }
        let (ok, bad, _) = run(format, &buf, &ImportOptions::new("own"));
        assert!(bad.is_empty(), "{format:?}: {bad:?}");
        let mut copy = db_with("own");
        apply_all(&mut copy, ok);
        let got = copy.entries_of("own");
        if format == Format::HashList {
            // Signals only: ids are derived, metadata is not carried.
            let mut a: Vec<_> = got.iter().map(|e| e.signal.clone()).collect();
            let mut b: Vec<_> = entries.iter().map(|e| e.signal.clone()).collect();
            a.sort();
            b.sort();
            assert_eq!(a, b);
        } else {
            assert_eq!(got, entries, "{format:?}");
            // Re-importing the export into the source changes nothing.
            let (ok, _, _) = run(format, &buf, &ImportOptions::new("own"));
            assert!(
                apply_all(&mut db, ok)
                    .iter()
                    .all(|a| *a == Applied::Unchanged),
                "{format:?}"
            );
        }
    }
}

#[test]
fn a_long_file_streams() {
    // 200k lines through the bounded reader, counted without keeping them.
    let mut text = String::new();
    for i in 0..200_000u64 {
        text.push_str(&format!("md5 {:032x}\n", i));
    }
    let mut n = 0;
    let mut opts = ImportOptions::new("b");
    opts.duplicate_window = 0;
    let s = formats::import(Format::HashList, text.as_bytes(), &opts, |ev| {
        if matches!(ev, ImportEvent::Record(_)) {
            n += 1
        }
    })
    .unwrap();
    assert_eq!((n, s.upserts, s.cursor), (200_000, 200_000, 200_000));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Parsers never panic and never stop early on arbitrary input.
    #[test]
    fn parsers_survive_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..2048), seed_line in "(pdq|md5|sha256|dhash|phash|HASH_PDQ|HASH_DHASH|signal_type,signal|\\{\"results\":\\[)[ ,:a-f0-9\"\\]\\}]{0,80}") {
        for format in [Format::HashList, Format::TeCsv, Format::TeJson, Format::Tcap] {
            let mut input = seed_line.clone().into_bytes();
            input.push(b'\n');
            input.extend_from_slice(&bytes);
            let mut opts = ImportOptions::new("f");
            opts.max_line_bytes = 256;
            let _ = formats::import(format, &input[..], &opts, |_| {});
        }
    }
}
