//! HashDb: banks, entries, the change log, lookup rules.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vigil_hashdb::*;

fn hex_pdq(rng: &mut StdRng) -> PdqHash {
    let mut b = [0u8; 32];
    rng.fill(&mut b);
    PdqHash(b)
}

fn flip(h: &PdqHash, bits: u32) -> PdqHash {
    let mut o = *h;
    for b in 0..bits {
        o.0[(b / 8) as usize] ^= 1 << (b % 8);
    }
    o
}

fn signals(pdq: Option<PdqHash>) -> Signals {
    Signals {
        md5: [1; 16],
        sha256: [2; 32],
        pdq: pdq.map(|h| (h, 90)),
        dhash: None,
        phash: None,
    }
}

#[test]
fn lookup_respects_bank_thresholds_status_and_exact_signals() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut db = HashDb::new();
    db.upsert_bank(Bank::new("tvec", BankAction::Takedown));
    let mut tight = Bank::new("tight", BankAction::ReviewOnly);
    tight.pdq_threshold = 10;
    db.upsert_bank(tight);
    let h = hex_pdq(&mut rng);
    db.upsert_entry(BankEntry::new("tvec", "a", SignalType::Pdq, &h.to_hex()))
        .unwrap();
    db.upsert_entry(BankEntry::new(
        "tight",
        "b",
        SignalType::Pdq,
        &h.to_hex().to_uppercase(),
    ))
    .unwrap();
    db.upsert_entry(BankEntry::new(
        "tvec",
        "m",
        SignalType::Md5,
        &hex::encode([1u8; 16]),
    ))
    .unwrap();
    assert_eq!(db.len(), 3);

    let m = db.lookup(&signals(Some(flip(&h, 20))));
    let got: Vec<(&str, &str, u32)> = m
        .iter()
        .map(|m| (m.bank.as_str(), m.entry_id.as_str(), m.distance))
        .collect();
    assert_eq!(got, vec![("tvec", "m", 0), ("tvec", "a", 20)]);

    let m = db.lookup(&signals(Some(flip(&h, 5))));
    assert_eq!(m.len(), 3);
    assert_eq!(db.entry("tight", "b").unwrap().signal, h.to_hex());

    let mut off = db.bank("tvec").unwrap().clone();
    off.status = BankStatus::Disabled;
    db.upsert_bank(off);
    let m = db.lookup(&signals(Some(flip(&h, 5))));
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].bank, "tight");
}

#[test]
fn bad_entries_are_typed_errors() {
    let mut db = HashDb::new();
    db.upsert_bank(Bank::new("b", BankAction::Takedown));
    assert!(matches!(
        db.upsert_entry(BankEntry::new("nope", "x", SignalType::Md5, "00")),
        Err(HashDbError::UnknownBank { .. })
    ));
    for (t, s) in [
        (SignalType::Md5, "00"),
        (SignalType::Md5, &"zz".repeat(16) as &str),
        (SignalType::Pdq, &"0".repeat(63) as &str),
        (SignalType::Sha256, &"0".repeat(32) as &str),
    ] {
        assert!(matches!(
            db.upsert_entry(BankEntry::new("b", "x", t, s)),
            Err(HashDbError::BadSignal { .. })
        ));
    }
    assert!(db.is_empty());
}

#[test]
fn allow_list_and_disputed_entries_suppress_automation() {
    let mut db = HashDb::new();
    db.upsert_bank(Bank::new("bad", BankAction::Takedown));
    db.upsert_bank(Bank::new("news", BankAction::Allow));
    let h = PdqHash([0x5a; 32]);
    db.upsert_entry(BankEntry::derived("bad", SignalType::Pdq, &h.to_hex()))
        .unwrap();
    db.upsert_entry(BankEntry::derived("news", SignalType::Pdq, &h.to_hex()))
        .unwrap();
    let d = db.lookup_detailed(&signals(Some(h)));
    assert_eq!(d.len(), 2);
    let news = d.iter().find(|d| d.m.bank == "news").unwrap();
    assert!(news.suppresses_automation);
    assert!(news.reason.as_ref().unwrap().contains("allow-list"));
    let bad = d.iter().find(|d| d.m.bank == "bad").unwrap();
    assert!(!bad.suppresses_automation);

    let mut e = db.entries_of("bad")[0].clone();
    e.provenance = Some(Provenance {
        opinion: Some(Opinion::Negative),
        ..Provenance::default()
    });
    db.upsert_entry(e).unwrap();
    let d = db.lookup_detailed(&signals(Some(h)));
    assert!(d.iter().all(|d| d.suppresses_automation));
}

#[test]
fn change_log_is_idempotent_and_tombstones_propagate() {
    let mut db = HashDb::new();
    let bank = Bank::new("b", BankAction::Takedown);
    let h = PdqHash([9; 32]);
    let entry = BankEntry::derived("b", SignalType::Pdq, &h.to_hex());
    let changes = vec![
        Change::UpsertBank { bank: bank.clone() },
        Change::UpsertEntry {
            entry: entry.clone(),
        },
    ];
    for c in &changes {
        let json = serde_json::to_string(c).unwrap();
        let back: Change = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, c);
    }
    assert_eq!(db.apply(changes[0].clone()).unwrap(), Applied::Inserted);
    assert_eq!(db.apply(changes[1].clone()).unwrap(), Applied::Inserted);
    assert_eq!(db.apply(changes[1].clone()).unwrap(), Applied::Unchanged);
    assert_eq!(db.apply(changes[0].clone()).unwrap(), Applied::Unchanged);
    assert_eq!(changes[1].key(), format!("b/{}", entry.entry_id));
    assert_eq!(db.lookup(&signals(Some(h))).len(), 1);

    let del = Change::DeleteEntry {
        bank: "b".into(),
        entry_id: entry.entry_id.clone(),
    };
    assert_eq!(db.apply(del.clone()).unwrap(), Applied::Deleted);
    assert_eq!(db.apply(del).unwrap(), Applied::Absent);
    assert!(db.lookup(&signals(Some(h))).is_empty());
    assert_eq!(
        db.apply(Change::DeleteBank { name: "b".into() }).unwrap(),
        Applied::Deleted
    );
    assert!(db.bank("b").is_none());
}

#[test]
fn derived_ids_are_stable() {
    let a = BankEntry::derive_id("b", SignalType::Pdq, &"AB".repeat(32));
    let b = BankEntry::derive_id("b", SignalType::Pdq, &"ab".repeat(32));
    let c = BankEntry::derive_id("c", SignalType::Pdq, &"ab".repeat(32));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.starts_with("pdq-") && a.len() == 4 + 24);
}

#[test]
fn bulk_load_matches_incremental_and_compaction_keeps_results() {
    let mut rng = StdRng::seed_from_u64(2);
    let banks = vec![
        Bank::new("x", BankAction::Takedown),
        Bank::new("y", BankAction::ReviewOnly),
    ];
    let entries: Vec<BankEntry> = (0..9000)
        .map(|i| {
            let bank = if i % 3 == 0 { "y" } else { "x" };
            BankEntry::derived(bank, SignalType::Pdq, &hex_pdq(&mut rng).to_hex())
        })
        .collect();
    let mut bad = BankEntry::new("x", "bad", SignalType::Pdq, "00");
    bad.labels.push("l".into());
    let mut all = entries.clone();
    all.push(bad);
    all.push(entries[5].clone()); // a duplicate: replaces, not doubles
    let (bulk, errors) = HashDb::load(banks.clone(), all);
    assert_eq!(errors.len(), 1);
    assert_eq!(bulk.len(), entries.len());

    let mut inc = HashDb::new();
    for b in banks {
        inc.upsert_bank(b);
    }
    for e in &entries {
        inc.upsert_entry(e.clone()).unwrap();
    }
    for e in entries.iter().step_by(97) {
        let h = PdqHash::from_hex(&e.signal).unwrap();
        let q = signals(Some(flip(&h, 12)));
        assert_eq!(bulk.lookup(&q), inc.lookup(&q));
    }
    // Delete most entries: the index compacts itself and stays exact.
    for e in entries.iter().skip(100) {
        assert!(inc.delete_entry(&e.bank, &e.entry_id));
    }
    inc.compact();
    assert_eq!(inc.pdq_index().dead(), 0);
    assert_eq!(inc.len(), 100);
    for e in entries.iter().take(100) {
        let h = PdqHash::from_hex(&e.signal).unwrap();
        let m = inc.lookup(&signals(Some(h)));
        assert_eq!(m[0].entry_id, e.entry_id);
    }
    assert_eq!(
        inc.bank_stats("x").unwrap().entries + inc.bank_stats("y").unwrap().entries,
        100
    );
}

#[test]
fn sampling_is_deterministic_and_roughly_the_rate() {
    let mut b = Bank::new("s", BankAction::Takedown);
    b.sampling_rate = Some(0.25);
    let mut rng = StdRng::seed_from_u64(3);
    let mut hits = 0;
    for _ in 0..4000 {
        let mut sha = [0u8; 32];
        rng.fill(&mut sha);
        assert_eq!(b.samples(&sha), b.samples(&sha));
        hits += b.samples(&sha) as usize;
    }
    assert!((800..1200).contains(&hits), "{hits}");
    let mut db = HashDb::new();
    b.sampling_rate = Some(1.5);
    assert!(db.upsert_bank_checked(b).is_err());
}

#[test]
fn counters() {
    let mut db = HashDb::new();
    db.upsert_bank(Bank::new("b", BankAction::Takedown));
    let e = BankEntry::derived("b", SignalType::Md5, &"a".repeat(32));
    db.upsert_entry(e.clone()).unwrap();
    assert!(db.record_outcome("b", &e.entry_id, Outcome::Matched));
    assert!(db.record_outcome("b", &e.entry_id, Outcome::Overturned));
    assert!(!db.record_outcome("b", "nope", Outcome::Upheld));
    let st = db.bank_stats("b").unwrap();
    assert_eq!((st.matches, st.overturned, st.entries), (1, 1, 1));
    // One decision, overturned: a candidate for quarantine at 50%.
    assert!(db.quarantine_candidates(2, 0.5).is_empty());
    let c = db.quarantine_candidates(1, 0.5);
    assert_eq!(c.len(), 1);
    let mut q = c[0].clone();
    q.quarantined = true;
    db.apply(Change::UpsertEntry { entry: q }).unwrap();
    assert!(db.quarantine_candidates(1, 0.5).is_empty());
    let d = db.lookup_detailed(&Signals {
        md5: [0xaa; 16],
        sha256: [0; 32],
        pdq: None,
        dhash: None,
        phash: None,
    });
    assert_eq!(d.len(), 1);
    assert!(d[0].suppresses_automation);
    assert!(d[0].reason.as_ref().unwrap().contains("quarantined"));
}

#[test]
fn hashdb_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<HashDb>();
    shared::<PdqIndex>();
}

/// The per-bank id tables hold only places: ids shared across banks,
/// replacements, deletes, freed places reused and whole banks dropped all
/// keep `entry`, `entries_of` and `len` in step with a plain model.
#[test]
fn id_tables_follow_a_model_through_replaces_deletes_and_bank_drops() {
    use std::collections::BTreeMap;
    let mut rng = StdRng::seed_from_u64(9);
    let mut db = HashDb::new();
    for b in ["a", "b", "c"] {
        db.upsert_bank(Bank::new(b, BankAction::ReviewOnly));
    }
    let mut model: BTreeMap<(String, String), String> = BTreeMap::new();
    for step in 0..20_000u32 {
        let bank = ["a", "b", "c"][rng.gen_range(0..3)];
        // Few ids, so the same id recurs in a bank and across banks.
        let id = format!("e{}", rng.gen_range(0..500));
        let key = (bank.to_string(), id.clone());
        match rng.gen_range(0..10) {
            0..=5 => {
                let hex = hex_pdq(&mut rng).to_hex();
                db.upsert_entry(BankEntry::new(bank, &id, SignalType::Pdq, &hex))
                    .unwrap();
                model.insert(key, hex);
            }
            6..=8 => assert_eq!(db.delete_entry(bank, &id), model.remove(&key).is_some()),
            _ if step % 997 == 0 => {
                db.delete_bank(bank);
                db.upsert_bank(Bank::new(bank, BankAction::ReviewOnly));
                model.retain(|(b, _), _| b != bank);
            }
            _ => {}
        }
    }
    assert_eq!(db.len(), model.len());
    for ((bank, id), hex) in &model {
        assert_eq!(&db.entry(bank, id).expect("present").signal, hex);
    }
    for bank in ["a", "b", "c"] {
        let ids: Vec<&str> = db
            .entries_of(bank)
            .iter()
            .map(|e| e.entry_id.as_str())
            .collect();
        let want: Vec<&str> = model
            .keys()
            .filter(|(b, _)| b == bank)
            .map(|(_, id)| id.as_str())
            .collect();
        assert_eq!(ids, want, "bank {bank}");
    }
    assert!(db.entry("a", "e-missing").is_none());
}
