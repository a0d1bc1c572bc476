//! The governance change log against both backends: every bank change is
//! chained with its actor; editing, deleting or reordering rows directly in
//! SQLite or PostgreSQL is caught at the first broken link; two processes
//! appending at once never fork the chain; proposals obey the two-person
//! rule inside the database transaction; the transparency report counts
//! referrals, guarded changes and entries added.

use sqlx::Executor;
use vigil_governance::chain::{self, signing_key_from_seed, Break, Checkpoint};
use vigil_governance::proposal::{Payload, ProposalKind, RuleError, Status};
use vigil_governance::referral::{NewReferral, ReferralStatus, Target};
use vigil_hashdb::{Bank, BankAction, BankEntry, Change, SignalType};
use vigil_store::accountability::Period;
use vigil_store::{DecideProposalError, NewProposal, Role, Store};

fn pg_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A raw connection to the same database, as an insider with database
/// access would have.
async fn raw(url: &str, schema: Option<&str>) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    if let Some(s) = schema {
        pool.execute(format!("SET search_path TO {s}").as_str())
            .await
            .unwrap();
    }
    pool
}

fn hex(i: u8) -> String {
    let mut h = [0u8; 32];
    h[0] = i;
    h[31] = 0x5a;
    h.iter().map(|b| format!("{b:02x}")).collect()
}

async fn build_log(store: &Store) {
    store
        .apply_changes_as(
            "alice",
            &[Change::UpsertBank {
                bank: Bank::new("b", BankAction::ReviewOnly),
            }],
        )
        .await
        .unwrap();
    for i in 1..=4u8 {
        store
            .apply_changes_as(
                "alice",
                &[Change::UpsertEntry {
                    entry: BankEntry::derived("b", SignalType::Pdq, &hex(i)),
                }],
            )
            .await
            .unwrap();
    }
    // A replay changes nothing and logs nothing.
    store
        .apply_changes_as(
            "alice",
            &[Change::UpsertEntry {
                entry: BankEntry::derived("b", SignalType::Pdq, &hex(1)),
            }],
        )
        .await
        .unwrap();
    store
        .log_change("bob", "note", serde_json::json!({"n": 1}))
        .await
        .unwrap();
}

async fn verify(store: &Store) -> Result<chain::Verified, Break> {
    chain::verify(
        &store.changelog().await.unwrap(),
        &store.checkpoints().await.unwrap(),
        None,
    )
}

async fn tamper(store: &Store, raw: &sqlx::AnyPool) {
    build_log(store).await;
    let log = store.changelog().await.unwrap();
    assert_eq!(
        log.len(),
        6,
        "bank, four entries and a note; the replay is not logged"
    );
    assert_eq!(log[1].kind, "entry_added");
    assert_eq!(log[1].actor, "alice");
    let ok = verify(store).await.unwrap();
    assert_eq!(ok.records, 6);

    // Edit: change what record 3 says.
    let original = log[2].payload.clone();
    sqlx::query("UPDATE gov_changelog SET payload = $1 WHERE seq = 3")
        .bind(original.replace("\"b\"", "\"other\""))
        .execute(raw)
        .await
        .unwrap();
    assert_eq!(verify(store).await, Err(Break::HashMismatch { seq: 3 }));
    sqlx::query("UPDATE gov_changelog SET actor = 'mallory' WHERE seq = 5")
        .execute(raw)
        .await
        .unwrap();
    // Still the first broken link.
    assert_eq!(verify(store).await.unwrap_err().seq(), 3);
    sqlx::query("UPDATE gov_changelog SET payload = $1 WHERE seq = 3")
        .bind(original.as_str())
        .execute(raw)
        .await
        .unwrap();
    assert_eq!(verify(store).await, Err(Break::HashMismatch { seq: 5 }));
    sqlx::query("UPDATE gov_changelog SET actor = 'alice' WHERE seq = 5")
        .execute(raw)
        .await
        .unwrap();
    assert!(verify(store).await.is_ok());

    // Delete: remove record 4.
    let r4 = &log[3];
    sqlx::query("DELETE FROM gov_changelog WHERE seq = 4")
        .execute(raw)
        .await
        .unwrap();
    let e = verify(store).await.unwrap_err();
    assert_eq!(e.seq(), 4, "{e}");
    assert!(matches!(e, Break::Sequence { .. }));
    // Renumbering the rest to close the gap does not help.
    for s in 5i64..=6 {
        sqlx::query("UPDATE gov_changelog SET seq = $1 WHERE seq = $2")
            .bind(s - 1)
            .bind(s)
            .execute(raw)
            .await
            .unwrap();
    }
    assert_eq!(verify(store).await.unwrap_err().seq(), 4);
    for s in [5i64, 4] {
        sqlx::query("UPDATE gov_changelog SET seq = $1 WHERE seq = $2")
            .bind(s + 1)
            .bind(s)
            .execute(raw)
            .await
            .unwrap();
    }
    sqlx::query(
        "INSERT INTO gov_changelog (seq, at, actor, kind, payload, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(r4.seq)
    .bind(r4.at.as_str())
    .bind(r4.actor.as_str())
    .bind(r4.kind.as_str())
    .bind(r4.payload.as_str())
    .bind(r4.prev_hash.as_str())
    .bind(r4.hash.as_str())
    .execute(raw)
    .await
    .unwrap();
    assert!(verify(store).await.is_ok(), "restored");

    // Reorder: swap records 2 and 5.
    for (from, to) in [(2, -2), (5, 2), (-2, 5)] {
        sqlx::query("UPDATE gov_changelog SET seq = $1 WHERE seq = $2")
            .bind(to as i64)
            .bind(from as i64)
            .execute(raw)
            .await
            .unwrap();
    }
    let e = verify(store).await.unwrap_err();
    assert_eq!(e.seq(), 2, "{e}");

    // A signed checkpoint pins history: restore the order, sign the head,
    // then rewrite record 2 and recompute every later hash (what an insider
    // who knows the scheme would do): the chain is consistent again, the
    // checkpoint is not.
    for (from, to) in [(2, -2), (5, 2), (-2, 5)] {
        sqlx::query("UPDATE gov_changelog SET seq = $1 WHERE seq = $2")
            .bind(to as i64)
            .bind(from as i64)
            .execute(raw)
            .await
            .unwrap();
    }
    let key = signing_key_from_seed([42; 32]);
    let (seq, hash) = store.changelog_head().await.unwrap().unwrap();
    store
        .add_checkpoint(&Checkpoint::sign(&key, seq, &hash, "2026-11-24T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(verify(store).await.unwrap().signed_through, 6);
    let log = store.changelog().await.unwrap();
    let mut head: Option<(i64, String)> = Some((1, log[0].hash.clone()));
    for r in &log[1..] {
        let payload = if r.seq == 2 {
            serde_json::json!({"forged": true})
        } else {
            serde_json::from_str(&r.payload).unwrap()
        };
        let new = chain::next_record(
            head.as_ref().map(|(s, h)| (*s, h.as_str())),
            &r.at,
            &chain::NewRecord {
                actor: r.actor.clone(),
                kind: r.kind.clone(),
                payload,
            },
        );
        sqlx::query(
            "UPDATE gov_changelog SET payload = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
        )
        .bind(new.payload.as_str())
        .bind(new.prev_hash.as_str())
        .bind(new.hash.as_str())
        .bind(new.seq)
        .execute(raw)
        .await
        .unwrap();
        head = Some((new.seq, new.hash));
    }
    let records = store.changelog().await.unwrap();
    assert!(chain::verify(&records, &[], None).is_ok());
    assert!(matches!(
        verify(store).await,
        Err(Break::CheckpointMismatch { seq: 6, .. })
    ));
}

/// Two stores (two connection pools: two processes) append at once.
async fn concurrent(a: &Store, b: &Store) {
    let before = a.changelog_len().await.unwrap();
    let run = |s: Store, who: &'static str| async move {
        for i in 0..25 {
            s.log_change(who, "note", serde_json::json!({"i": i}))
                .await
                .unwrap();
        }
    };
    let (x, y) = tokio::join!(
        tokio::spawn(run(a.clone(), "a")),
        tokio::spawn(run(b.clone(), "b"))
    );
    x.unwrap();
    y.unwrap();
    assert_eq!(a.changelog_len().await.unwrap(), before + 50);
    let v = chain::verify(&a.changelog().await.unwrap(), &[], None).unwrap();
    assert_eq!(v.records, before + 50);
}

async fn two_person_rule(store: &Store) {
    store.upsert_user("alice", Role::Lead, "x").await.unwrap();
    store.upsert_user("bob", Role::Admin, "x").await.unwrap();
    store
        .upsert_user("rita", Role::Reviewer, "x")
        .await
        .unwrap();
    let p = NewProposal {
        kind: ProposalKind::EntriesAdd,
        summary: "add one".into(),
        payload: Payload::BankChanges { changes: vec![] },
        diff: "+ entry".into(),
    };
    let id = store.create_proposal("alice", &p).await.unwrap();
    assert_eq!(store.pending_proposal_count().await.unwrap(), 1);
    let own = store.decide_proposal(&id, "alice", true, None).await;
    assert!(matches!(
        own,
        Err(DecideProposalError::Rule(RuleError::OwnProposal))
    ));
    let low = store.decide_proposal(&id, "rita", true, None).await;
    assert!(matches!(
        low,
        Err(DecideProposalError::Rule(RuleError::RoleTooLow))
    ));
    let ghost = store.decide_proposal(&id, "nobody", true, None).await;
    assert!(matches!(
        ghost,
        Err(DecideProposalError::Rule(RuleError::RoleTooLow))
    ));
    let done = store
        .decide_proposal(&id, "bob", true, Some("ok"))
        .await
        .unwrap();
    assert_eq!(done.status, Status::Approved);
    assert_eq!(done.decided_role.as_deref(), Some("admin"));
    assert!(matches!(
        store.decide_proposal(&id, "bob", false, None).await,
        Err(DecideProposalError::Rule(RuleError::NotPending(_)))
    ));
    let kinds: Vec<String> = store
        .changelog()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert!(kinds.contains(&"user_upsert".to_string()));
    assert!(kinds.contains(&"proposal_created".to_string()));
    assert!(kinds.contains(&"proposal_approved".to_string()));
}

#[tokio::test]
async fn sqlite_change_log_catches_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let store = Store::connect(&url, 4, None).await.unwrap();
    let r = raw(&url, None).await;
    tamper(&store, &r).await;
}

#[tokio::test]
async fn postgres_change_log_catches_tampering() {
    let schema = format!("vigil_test_{}", uuid::Uuid::new_v4().simple());
    let store = Store::connect(&pg_url(), 4, Some(&schema)).await.unwrap();
    let r = raw(&pg_url(), Some(&schema)).await;
    tamper(&store, &r).await;
    drop(r);
    store.drop_schema(&schema).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_appends_do_not_fork_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let a = Store::connect(&url, 2, None).await.unwrap();
    let b = Store::connect(&url, 2, None).await.unwrap();
    concurrent(&a, &b).await;
    two_person_rule(&a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_appends_do_not_fork_the_chain() {
    let schema = format!("vigil_test_{}", uuid::Uuid::new_v4().simple());
    let a = Store::connect(&pg_url(), 3, Some(&schema)).await.unwrap();
    let b = Store::connect(&pg_url(), 3, Some(&schema)).await.unwrap();
    concurrent(&a, &b).await;
    two_person_rule(&a).await;
    drop(b);
    a.drop_schema(&schema).await.unwrap();
}

fn order(issuer: &str, jurisdictions: &[&str]) -> NewReferral {
    NewReferral {
        issuer: issuer.into(),
        legal_basis: "EU TCO Regulation 2021/784 art. 3".into(),
        reference: None,
        jurisdictions: jurisdictions.iter().map(|j| j.to_string()).collect(),
        deadline: None,
        targets: vec![Target::Hash {
            signal_type: "pdq".into(),
            signal: hex(9),
        }],
    }
}

/// Seed referrals, proposals and bank entries, then read the governance
/// numbers back from the transparency report.
async fn governance_in_the_report(store: &Store, raw: &sqlx::AnyPool) {
    store.upsert_user("alice", Role::Lead, "x").await.unwrap();
    store.upsert_user("bob", Role::Admin, "x").await.unwrap();
    store.upsert_user("lena", Role::Lead, "x").await.unwrap();

    // Four referrals received on 2026-11-02 at 10:00: Europol (DE+FR) acted
    // on after 10 min, Europol (DE) contested after 30 min, BKA (DE)
    // refused after 60 min, BKA (AT) still open.
    let received = "2026-11-02T10:00:00.000000Z";
    let handled = [
        (
            order("Europol IRU", &["DE", "FR"]),
            Some((ReferralStatus::Acted, "2026-11-02T10:10:00.000000Z")),
        ),
        (
            order("Europol IRU", &["DE"]),
            Some((ReferralStatus::Contested, "2026-11-02T10:30:00.000000Z")),
        ),
        (
            order("BKA", &["DE"]),
            Some((ReferralStatus::Refused, "2026-11-02T11:00:00.000000Z")),
        ),
        (order("BKA", &["AT"]), None),
    ];
    for (r, outcome) in handled {
        let id = store.add_referral("alice", &r, received).await.unwrap();
        if let Some((status, at)) = outcome {
            let reason = (status != ReferralStatus::Acted).then_some("news footage");
            assert!(store
                .set_referral_status(&id, status, "bob", reason)
                .await
                .unwrap());
            // Handling times fixed for the test (the store stamps the clock).
            sqlx::query("UPDATE gov_referrals SET handled_at = $1 WHERE referral_id = $2")
                .bind(at)
                .bind(id.as_str())
                .execute(raw)
                .await
                .unwrap();
        }
    }

    // Guarded changes: an entries batch approved by an admin, a charter
    // approved by a lead, a threshold raise rejected, a policy pending.
    let proposal = |kind| NewProposal {
        kind,
        summary: "s".into(),
        payload: Payload::BankChanges { changes: vec![] },
        diff: "d".into(),
    };
    let a = store
        .create_proposal("alice", &proposal(ProposalKind::EntriesAdd))
        .await
        .unwrap();
    store.decide_proposal(&a, "bob", true, None).await.unwrap();
    let b = store
        .create_proposal("alice", &proposal(ProposalKind::CharterChange))
        .await
        .unwrap();
    store.decide_proposal(&b, "lena", true, None).await.unwrap();
    let c = store
        .create_proposal("lena", &proposal(ProposalKind::ThresholdRaise))
        .await
        .unwrap();
    store
        .decide_proposal(&c, "alice", false, Some("too wide"))
        .await
        .unwrap();
    store
        .create_proposal("alice", &proposal(ProposalKind::PolicyVersion))
        .await
        .unwrap();

    // Entries: three into `tk`, one into `rv`; a replay adds nothing.
    for (bank, action) in [("tk", BankAction::Takedown), ("rv", BankAction::ReviewOnly)] {
        store
            .apply_changes_as(
                "bob",
                &[Change::UpsertBank {
                    bank: Bank::new(bank, action),
                }],
            )
            .await
            .unwrap();
    }
    for (bank, i) in [("tk", 1u8), ("tk", 2), ("tk", 3), ("rv", 4), ("tk", 1)] {
        store
            .apply_changes_as(
                "bob",
                &[Change::UpsertEntry {
                    entry: BankEntry::derived(bank, SignalType::Pdq, &hex(i)),
                }],
            )
            .await
            .unwrap();
    }

    let report = store
        .transparency_report(&Period::default(), chrono::Utc::now())
        .await
        .unwrap();
    let g = report.governance.clone().expect("the governance section");
    assert_eq!(g.referrals.total, 4);
    assert_eq!(
        (
            g.referrals.acted,
            g.referrals.contested,
            g.referrals.refused,
            g.referrals.open
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(g.referrals.acted_share, 0.25);
    assert_eq!(g.referrals.median_handling_seconds, Some(1800.0));
    let europol = &g.referrals_by_issuer["Europol IRU"];
    assert_eq!((europol.total, europol.acted, europol.contested), (2, 1, 1));
    assert_eq!(europol.acted_share, 0.5);
    assert_eq!(europol.median_handling_seconds, Some(1200.0));
    let bka = &g.referrals_by_issuer["BKA"];
    assert_eq!((bka.total, bka.refused, bka.open), (2, 1, 1));
    assert_eq!(bka.median_handling_seconds, Some(3600.0));
    assert_eq!(g.referrals_by_jurisdiction["DE"].total, 3);
    assert_eq!(g.referrals_by_jurisdiction["FR"].acted, 1);
    assert_eq!(g.referrals_by_jurisdiction["AT"].open, 1);
    assert_eq!(g.bank_changes_by_kind["entries_add"]["approved"], 1);
    assert_eq!(g.bank_changes_by_kind["charter_change"]["approved"], 1);
    assert_eq!(g.bank_changes_by_kind["threshold_raise"]["rejected"], 1);
    assert_eq!(g.bank_changes_by_kind["policy_version"]["pending"], 1);
    assert_eq!(g.bank_changes_by_approver_role.get("admin"), Some(&1));
    assert_eq!(g.bank_changes_by_approver_role.get("lead"), Some(&1));
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    assert_eq!(g.entries_added_by_bank_month["tk"][&month], 3);
    assert_eq!(g.entries_added_by_bank_month["rv"][&month], 1);

    // JSON and HTML carry the numbers.
    let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(v["governance"]["referrals_by_issuer"]["BKA"]["refused"], 1);
    assert_eq!(
        v["governance"]["referrals"]["median_handling_seconds"],
        1800.0
    );
    let html = report.to_html();
    assert!(html.contains("<td>Europol IRU</td><td>2</td><td>1 (50.0%)</td><td>1 (50.0%)</td><td>0 (0.0%)</td><td>0</td><td>20.0 min</td>"), "{html}");
    assert!(html.contains(&format!("<td>tk</td><td>{month}</td><td>3</td>")));

    // A period before all of it: nothing received, proposed or added.
    let before = Period {
        from: Some("2000-01-01T00:00:00.000000Z".into()),
        to: Some("2000-02-01T00:00:00.000000Z".into()),
    };
    let g = store
        .transparency_report(&before, chrono::Utc::now())
        .await
        .unwrap()
        .governance
        .unwrap();
    assert_eq!(g.referrals.total, 0);
    assert!(g.bank_changes_by_kind.is_empty() && g.entries_added_by_bank_month.is_empty());
    // The referrals' own period (received on 2026-11-02) holds only them.
    let day = Period {
        from: Some("2026-11-02T00:00:00.000000Z".into()),
        to: Some("2026-11-03T00:00:00.000000Z".into()),
    };
    let g = store
        .transparency_report(&day, chrono::Utc::now())
        .await
        .unwrap()
        .governance
        .unwrap();
    assert_eq!(g.referrals.total, 4);
}

#[tokio::test]
async fn sqlite_transparency_report_counts_governance() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let store = Store::connect(&url, 4, None).await.unwrap();
    let r = raw(&url, None).await;
    governance_in_the_report(&store, &r).await;
}

#[tokio::test]
async fn postgres_transparency_report_counts_governance() {
    let schema = format!("vigil_test_{}", uuid::Uuid::new_v4().simple());
    let store = Store::connect(&pg_url(), 4, Some(&schema)).await.unwrap();
    let r = raw(&pg_url(), Some(&schema)).await;
    governance_in_the_report(&store, &r).await;
    drop(r);
    store.drop_schema(&schema).await.unwrap();
}
