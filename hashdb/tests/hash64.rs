//! The 64-bit signal types (dHash, pHash): parsing, per-bank thresholds,
//! matching, deletes and re-upserts, snapshots and exchange formats.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vigil_hashdb::formats::{self, Format, ImportEvent, ImportOp, ImportOptions, RejectReason};
use vigil_hashdb::snapshot::{read_snapshot, write_snapshot, SnapshotError, VERSION, VERSION_1};
use vigil_hashdb::*;

const D1: u64 = 0x0f0f_3c3c_f0f0_a5a5;

fn hex64(h: u64) -> String {
    format!("{h:016x}")
}

/// `h` with its lowest `bits` bits flipped.
fn flip(h: u64, bits: u32) -> u64 {
    if bits == 64 {
        !h
    } else {
        h ^ ((1u64 << bits) - 1)
    }
}

fn query(dhash: Option<u64>, phash: Option<u64>) -> Signals {
    Signals {
        dhash,
        phash,
        ..Signals::exact([9; 16], [9; 32])
    }
}

fn found(db: &HashDb, q: &Signals) -> Vec<(String, String, SignalType, u32)> {
    db.lookup(q)
        .into_iter()
        .map(|m| (m.bank, m.entry_id, m.signal_type, m.distance))
        .collect()
}

#[test]
fn parse_accepts_16_hex_digits_only() {
    let (s, v) = bank::parse_signal(SignalType::Dhash, " 0F0F3C3CF0F0A5A5 ").unwrap();
    assert_eq!(s, "0f0f3c3cf0f0a5a5");
    assert_eq!(
        v,
        bank::ExactOrPdq::Hash64 {
            signal_type: SignalType::Dhash,
            hash: D1
        }
    );
    let e = bank::parse_signal(SignalType::Phash, "0f0f3c3cf0f0a5a").unwrap_err();
    assert_eq!(e, "phash signal has 15 hex digits, expected 16");
    let e = bank::parse_signal(SignalType::Phash, &"0f".repeat(32)).unwrap_err();
    assert_eq!(e, "phash signal has 64 hex digits, expected 16");
    let e = bank::parse_signal(SignalType::Dhash, "0f0f3c3cf0f0a5ag").unwrap_err();
    assert_eq!(e, "dhash signal is not hex");
    assert_eq!("dhash".parse::<SignalType>(), Ok(SignalType::Dhash));
    assert_eq!("PHASH".parse::<SignalType>(), Ok(SignalType::Phash));
    assert_eq!(
        formats::parse_signal_type("HASH_DHASH"),
        Ok(SignalType::Dhash)
    );
    assert_eq!(
        serde_json::to_string(&SignalType::Phash).unwrap(),
        "\"phash\""
    );
    let mut db = HashDb::new();
    db.upsert_bank(Bank::new("b", BankAction::Takedown));
    let err = db
        .upsert_entry(BankEntry::new("b", "x", SignalType::Dhash, "abc"))
        .unwrap_err();
    assert!(
        matches!(err, HashDbError::BadSignal { ref detail, .. } if detail.contains("expected 16")),
        "{err}"
    );
}

#[test]
fn match_at_the_threshold_and_not_above() {
    let mut db = HashDb::new();
    db.upsert_bank(Bank::new("default", BankAction::Takedown));
    let mut tight = Bank::new("tight", BankAction::ReviewOnly);
    tight.thresholds.insert(SignalType::Dhash, 4);
    tight.thresholds.insert(SignalType::Phash, 0);
    db.upsert_bank_checked(tight).unwrap();
    assert_eq!(db.bank("default").unwrap().threshold(SignalType::Dhash), 10);
    assert_eq!(db.bank("default").unwrap().threshold(SignalType::Phash), 10);
    assert_eq!(db.bank("default").unwrap().threshold(SignalType::Md5), 0);
    for bank in ["default", "tight"] {
        db.upsert_entry(BankEntry::new(bank, "d", SignalType::Dhash, &hex64(D1)))
            .unwrap();
        db.upsert_entry(BankEntry::new(bank, "p", SignalType::Phash, &hex64(D1)))
            .unwrap();
    }
    // Same hash under the other type never matches across types.
    assert_eq!(
        found(&db, &query(Some(D1), None)),
        vec![
            ("default".into(), "d".into(), SignalType::Dhash, 0),
            ("tight".into(), "d".into(), SignalType::Dhash, 0),
        ]
    );
    assert_eq!(
        found(&db, &query(Some(flip(D1, 4)), None)),
        vec![
            ("default".into(), "d".into(), SignalType::Dhash, 4),
            ("tight".into(), "d".into(), SignalType::Dhash, 4),
        ]
    );
    assert_eq!(
        found(&db, &query(Some(flip(D1, 5)), None)),
        vec![("default".into(), "d".into(), SignalType::Dhash, 5)]
    );
    assert_eq!(
        found(&db, &query(Some(flip(D1, 10)), Some(flip(D1, 1)))),
        vec![
            ("default".into(), "p".into(), SignalType::Phash, 1),
            ("default".into(), "d".into(), SignalType::Dhash, 10),
        ]
    );
    assert!(found(&db, &query(Some(flip(D1, 11)), Some(flip(D1, 11)))).is_empty());
    // Operators' lookups ignore the banks' thresholds.
    let near: Vec<(u32, &str, &str)> = db
        .hash64_within(SignalType::Dhash, flip(D1, 11), 12)
        .into_iter()
        .map(|(d, e)| (d, e.bank.as_str(), e.entry_id.as_str()))
        .collect();
    assert_eq!(near, vec![(11, "default", "d"), (11, "tight", "d")]);
    assert!(db.hash64_within(SignalType::Phash, !D1, 5).is_empty());
    assert!(found(&db, &query(None, None)).is_empty());
    // A disabled bank matches nothing; detail carries the bank's action.
    let mut off = db.bank("default").unwrap().clone();
    off.status = BankStatus::Disabled;
    db.upsert_bank(off);
    let d = db.lookup_detailed(&query(None, Some(D1)));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].m.bank, "tight");
    assert_eq!(d[0].bank_action, BankAction::ReviewOnly);
}

#[test]
fn bank_thresholds_are_checked_and_old_banks_still_parse() {
    let mut db = HashDb::new();
    let mut b = Bank::new("b", BankAction::Takedown);
    b.thresholds.insert(SignalType::Dhash, 17);
    let e = db.upsert_bank_checked(b.clone()).unwrap_err();
    assert!(
        e.to_string()
            .contains("dhash threshold 17 is not in 0..=16"),
        "{e}"
    );
    b.thresholds.clear();
    b.thresholds.insert(SignalType::Md5, 0);
    assert!(db.upsert_bank_checked(b.clone()).is_err());
    b.thresholds.clear();
    b.thresholds.insert(SignalType::Pdq, 20);
    assert!(db.upsert_bank_checked(b.clone()).is_err());
    b.thresholds.clear();
    b.thresholds.insert(SignalType::Phash, 16);
    assert_eq!(db.upsert_bank_checked(b.clone()), Ok(Applied::Inserted));

    // A bank stored before the field existed reads with empty thresholds,
    // and a bank without them is written exactly as before.
    let old = r#"{"name":"old","labels":[],"action":"takedown","status":"active","pdq_threshold":31,"description":"","sampling_rate":null}"#;
    let parsed: Bank = serde_json::from_str(old).unwrap();
    assert!(parsed.thresholds.is_empty());
    assert_eq!(parsed, Bank::new("old", BankAction::Takedown));
    assert_eq!(serde_json::to_string(&parsed).unwrap(), old);
    let json = serde_json::to_string(&b).unwrap();
    assert!(json.contains(r#""thresholds":{"phash":16}"#), "{json}");
    assert_eq!(serde_json::from_str::<Bank>(&json).unwrap(), b);

    // Raising a threshold is looser (governance treats it as widening).
    let mut raised = b.clone();
    raised.thresholds.insert(SignalType::Dhash, 12);
    assert!(raised.thresholds_looser_than(&b));
    assert!(!b.thresholds_looser_than(&raised));
    let mut lowered = b.clone();
    lowered.thresholds.insert(SignalType::Dhash, 3);
    assert!(!lowered.thresholds_looser_than(&b));
}

#[test]
fn deletes_and_reupserts_keep_the_table_consistent() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut db = HashDb::new();
    db.upsert_bank(Bank::new("b", BankAction::Takedown));
    // A model of what should be live: id -> (type, hash).
    let mut live: std::collections::BTreeMap<String, (SignalType, u64)> = Default::default();
    for step in 0..3000u32 {
        let id = format!("e{}", rng.gen_range(0..300u32));
        let t = if rng.gen_bool(0.5) {
            SignalType::Dhash
        } else {
            SignalType::Phash
        };
        if rng.gen_bool(0.3) {
            assert_eq!(db.delete_entry("b", &id), live.remove(&id).is_some());
        } else {
            let h: u64 = rng.gen();
            db.upsert_entry(BankEntry::new("b", &id, t, &hex64(h)))
                .unwrap();
            live.insert(id, (t, h));
        }
        if step % 100 == 0 {
            // Every live hash is found at distance 0 under its own id.
            for (id, (t, h)) in &live {
                let q = match t {
                    SignalType::Dhash => query(Some(*h), None),
                    _ => query(None, Some(*h)),
                };
                let hits = found(&db, &q);
                assert!(
                    hits.iter()
                        .any(|(_, e, ty, d)| e == id && ty == t && *d == 0),
                    "{id} at step {step}"
                );
                assert!(hits.iter().all(|(_, e, _, _)| live.contains_key(e)));
            }
        }
    }
    assert_eq!(db.len(), live.len());
    let report = db.memory_bytes();
    assert!(report.index >= live.len() * 12);

    // Brute force against the model for random queries.
    for _ in 0..200 {
        let base = live.values().nth(rng.gen_range(0..live.len())).unwrap();
        let q = flip(base.1, rng.gen_range(0..14));
        let mut want: Vec<(String, u32)> = live
            .iter()
            .filter(|(_, (t, _))| *t == SignalType::Dhash)
            .map(|(id, (_, h))| (id.clone(), (h ^ q).count_ones()))
            .filter(|(_, d)| *d <= 10)
            .collect();
        want.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        let got: Vec<(String, u32)> = found(&db, &query(Some(q), None))
            .into_iter()
            .map(|(_, id, _, d)| (id, d))
            .collect();
        assert_eq!(got, want);
    }

    // Deleting the bank removes its hashes.
    assert!(db.delete_bank("b"));
    db.upsert_bank(Bank::new("b", BankAction::Takedown));
    for (t, h) in live.values() {
        assert!(found(&db, &query(Some(*h), Some(*h))).is_empty(), "{t}");
    }
}

#[test]
fn bulk_load_with_repeated_keys() {
    let entries = vec![
        BankEntry::new("b", "x", SignalType::Dhash, &hex64(1)),
        BankEntry::new("b", "y", SignalType::Dhash, &hex64(2)),
        BankEntry::new("b", "x", SignalType::Phash, &hex64(3)),
        BankEntry::new("b", "z", SignalType::Pdq, &"ab".repeat(32)),
    ];
    let (db, errors) = HashDb::load(vec![Bank::new("b", BankAction::Takedown)], entries);
    assert!(errors.is_empty());
    assert_eq!(db.len(), 3);
    // x is now a pHash; its old dHash is gone.
    assert_eq!(
        found(&db, &query(Some(1), None)),
        vec![("b".into(), "y".into(), SignalType::Dhash, 2)]
    );
    assert_eq!(
        found(&db, &query(None, Some(3))),
        vec![("b".into(), "x".into(), SignalType::Phash, 0)]
    );
}

fn sample() -> HashDb {
    let mut db = HashDb::new();
    let mut b = Bank::new("b", BankAction::Takedown);
    b.thresholds.insert(SignalType::Dhash, 6);
    db.upsert_bank(b);
    db.upsert_bank(Bank::new("plain", BankAction::ReviewOnly));
    let mut e = BankEntry::derived("b", SignalType::Dhash, &hex64(D1));
    e.labels = vec!["l".into()];
    db.upsert_entry(e).unwrap();
    db.upsert_entry(BankEntry::derived("b", SignalType::Phash, &hex64(!D1)))
        .unwrap();
    db.upsert_entry(BankEntry::derived(
        "plain",
        SignalType::Pdq,
        &"0f".repeat(32),
    ))
    .unwrap();
    db.upsert_entry(BankEntry::derived(
        "plain",
        SignalType::Md5,
        &"ab".repeat(16),
    ))
    .unwrap();
    db
}

fn sorted(db: &HashDb) -> Vec<BankEntry> {
    let mut v: Vec<BankEntry> = db.entries().cloned().collect();
    v.sort_by(|a, b| (&a.bank, &a.entry_id).cmp(&(&b.bank, &b.entry_id)));
    v
}

#[test]
fn snapshot_round_trips_and_versions() {
    let db = sample();
    let mut buf = Vec::new();
    write_snapshot(&db, "c", &mut buf).unwrap();
    assert_eq!(snapshot::needed_version(&db), VERSION);
    let (back, info) = read_snapshot(&buf[..]).unwrap();
    assert_eq!(info.version, VERSION);
    assert_eq!(sorted(&back), sorted(&db));
    assert_eq!(back.bank("b"), db.bank("b"));
    let q = query(Some(flip(D1, 6)), Some(!D1));
    assert_eq!(back.lookup(&q), db.lookup(&q));
    assert_eq!(back.lookup(&q).len(), 2);
    // Every truncation is an error, never a partial database.
    for cut in 0..buf.len() {
        assert!(read_snapshot(&buf[..cut]).is_err(), "cut at {cut}");
    }

    // Without the new types the file is version 1, as older builds wrote
    // it (and read it).
    let mut old = sample();
    for e in old.entries().cloned().collect::<Vec<_>>() {
        if matches!(e.signal_type, SignalType::Dhash | SignalType::Phash) {
            old.delete_entry(&e.bank, &e.entry_id);
        }
    }
    let mut b = old.bank("b").unwrap().clone();
    b.thresholds.clear();
    old.upsert_bank(b);
    let mut v1 = Vec::new();
    write_snapshot(&old, "c", &mut v1).unwrap();
    assert_eq!(u32::from_le_bytes(v1[8..12].try_into().unwrap()), VERSION_1);
    let (back, info) = read_snapshot(&v1[..]).unwrap();
    assert_eq!(info.version, VERSION_1);
    assert_eq!(sorted(&back), sorted(&old));

    // A version 1 file never holds a dHash: its code there is corruption.
    let mut forged = buf.clone();
    forged[8..12].copy_from_slice(&VERSION_1.to_le_bytes());
    assert!(matches!(
        read_snapshot(&forged[..]),
        Err(SnapshotError::Corrupt(_) | SnapshotError::Checksum { .. })
    ));
    // A newer version is refused with a typed error.
    let mut newer = buf.clone();
    newer[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
    assert!(matches!(
        read_snapshot(&newer[..]),
        Err(SnapshotError::UnsupportedVersion(v)) if v == VERSION + 1
    ));
}

fn import(format: Format, input: &[u8]) -> (Vec<ImportOp>, Vec<(u64, RejectReason)>) {
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    formats::import(format, input, &ImportOptions::new("b"), |ev| match ev {
        ImportEvent::Record(r) => ok.push(r.op),
        ImportEvent::Rejected(r) => bad.push((r.position, r.reason)),
    })
    .unwrap();
    (ok, bad)
}

#[test]
fn hash_list_and_csv_reject_bad_lines_with_reasons() {
    let text = format!(
        "dhash {}\nphash {}\ndhash {}\nphash {}zz\nHASH_DHASH {}\n",
        hex64(D1),
        hex64(!D1).to_uppercase(),
        &hex64(D1)[..15],
        &hex64(D1)[..14],
        hex64(D1 ^ 1),
    );
    let (ok, bad) = import(Format::HashList, text.as_bytes());
    assert_eq!(ok.len(), 3);
    assert_eq!(
        bad,
        vec![
            (
                3,
                RejectReason::WrongLength {
                    signal_type: SignalType::Dhash,
                    expected: 16,
                    got: 15
                }
            ),
            (
                4,
                RejectReason::BadHex {
                    signal_type: SignalType::Phash
                }
            ),
        ]
    );
    let csv = format!(
        "signal_type,signal,labels\ndhash,{},a;b\nphash,{},\nphash,{},\n",
        hex64(D1),
        "0".repeat(64),
        hex64(3)
    );
    let (ok, bad) = import(Format::TeCsv, csv.as_bytes());
    assert_eq!(ok.len(), 2);
    assert_eq!(
        bad,
        vec![(
            3,
            RejectReason::WrongLength {
                signal_type: SignalType::Phash,
                expected: 16,
                got: 64
            }
        )]
    );
}

#[test]
fn export_round_trips_in_every_one_line_format() {
    let mut db = sample();
    let owned: Vec<BankEntry> = db.entries_of("b").into_iter().cloned().collect();
    let entries: Vec<&BankEntry> = owned.iter().collect();
    assert_eq!(entries.len(), 2);
    for format in [
        Format::HashList,
        Format::TeCsv,
        Format::TeJson,
        Format::Tcap,
    ] {
        let mut buf = Vec::new();
        match format {
            Format::HashList => formats::hashlist::export("b", &entries, &mut buf).unwrap(),
            Format::TeCsv => formats::csv::export(&entries, &mut buf).unwrap(),
            Format::TeJson => formats::te_json::export(&entries, &mut buf).unwrap(),
            Format::Tcap => formats::tcap::export_page(&entries, None, None, &mut buf).unwrap(),
            Format::Vpdq => unreachable!(),
        }
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(text.contains(&hex64(D1)), "{format:?}: {text}");
        let (ok, bad) = import(format, &buf);
        assert!(bad.is_empty(), "{format:?}: {bad:?}");
        let mut copy = HashDb::new();
        copy.upsert_bank(db.bank("b").unwrap().clone());
        for op in ok.clone() {
            copy.apply(op.into_change()).unwrap();
        }
        let got = copy.entries_of("b");
        if format == Format::HashList {
            let sigs = |v: &[&BankEntry]| {
                let mut s: Vec<(SignalType, String)> = v
                    .iter()
                    .map(|e| (e.signal_type, e.signal.clone()))
                    .collect();
                s.sort();
                s
            };
            assert_eq!(sigs(&got), sigs(&entries));
        } else {
            assert_eq!(got, entries, "{format:?}");
        }
        // Re-importing into the source changes nothing (the hash list
        // carries signals only, not labels).
        if format != Format::HashList {
            for op in ok {
                assert_eq!(db.apply(op.into_change()).unwrap(), Applied::Unchanged);
            }
        }
    }
}
