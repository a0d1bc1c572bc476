//! `make bench-review`: the review queue under load on PostgreSQL. Seeds
//! ITEMS review items (default 100,000) into a fresh schema through the
//! store's own write path, then REVIEWERS concurrent reviewers (default 8)
//! each loop claim → decide until DECISIONS items are decided (default: all).
//! Reports decisions per second and claim latency percentiles, checks that
//! every item was decided exactly once, and ends with one summary line:
//! `bench-review items=100000 reviewers=8 decisions_per_s=… p99_claim_ms=…`.
//!
//! Environment: VIGIL_TEST_POSTGRES_URL (default
//! postgres://postgres@127.0.0.1:5432/test), ITEMS, REVIEWERS, DECISIONS.

use chrono::Utc;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use vigil_pipeline::{Action, ReviewItem, UploadId, UploadMsg, Verdict, MESSAGE_VERSION};
use vigil_store::{Decision, DecisionInput, Role, Store};

const LEASE: Duration = Duration::from_secs(600);
const SEED_TASKS: usize = 16;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn seed_one(store: &Store, i: usize) {
    let id = format!("bench-{i:07}");
    let upload_id = UploadId::parse(&id).expect("valid id");
    let now = Utc::now();
    let msg = UploadMsg {
        v: MESSAGE_VERSION,
        upload_id: upload_id.clone(),
        media_url: format!("file:///bench/{id}"),
        content_type: Some("image/jpeg".into()),
        platform_context: Default::default(),
        received_at: now,
        platform: None,
        sample_key: None,
    };
    store.record_upload(&msg).await.expect("upload recorded");
    let verdict = Verdict {
        v: MESSAGE_VERSION,
        upload_id: upload_id.clone(),
        policy_version: "bench-1".into(),
        action: Action::Review,
        signals: vec![],
        matches: vec![],
        classifier: None,
        reasons: vec!["bench".into()],
        statement_of_reasons: None,
        decode_error: None,
        decided_at: now,
    };
    // Priorities spread over [0, 1) so the claim order has work to do.
    let item = ReviewItem {
        v: MESSAGE_VERSION,
        upload_id,
        policy_version: "bench-1".into(),
        queue_reason: "borderline_match".into(),
        priority: ((i * 7919) % 10_000) as f64 / 10_000.0,
        created_at: now,
    };
    store
        .write_verdict(&verdict, Some(&item))
        .await
        .expect("verdict and item written");
}

/// One reviewer: claim and decide until `budget` says stop. Returns the
/// claim latencies (ms) and the decided upload ids.
async fn reviewer(
    store: Store,
    name: String,
    budget: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> (Vec<f64>, Vec<String>) {
    use std::sync::atomic::Ordering;
    let mut latencies = Vec::new();
    let mut decided = Vec::new();
    loop {
        if budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
            .is_err()
        {
            break;
        }
        let t = Instant::now();
        let claim = store
            .claim_next(&name, Role::Reviewer, LEASE)
            .await
            .expect("claim");
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        let Some(c) = claim else { break };
        store
            .decide(&DecisionInput {
                upload_id: &c.upload_id,
                policy_version: &c.policy_version,
                round: c.round,
                reviewer: &name,
                decision: Decision::Uphold,
                reason: "tve_content",
                note: None,
            })
            .await
            .expect("decision stored");
        decided.push(c.upload_id);
    }
    (latencies, decided)
}

#[tokio::main]
async fn main() {
    let items = env_usize("ITEMS", 100_000);
    let reviewers = env_usize("REVIEWERS", 8);
    let decisions = env_usize("DECISIONS", items).min(items);
    let url = std::env::var("VIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("bench_review_{}", uuid::Uuid::new_v4().simple());
    let store = Store::connect(&url, (SEED_TASKS + reviewers) as u32, Some(&schema))
        .await
        .expect("PostgreSQL reachable (scripts/ensure-postgres.sh)");
    assert!(store.is_postgres(), "bench-review runs on PostgreSQL");

    eprintln!("bench-review: seeding {items} review items into schema {schema}");
    let t = Instant::now();
    let seeders: Vec<_> = (0..SEED_TASKS)
        .map(|k| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in (k..items).step_by(SEED_TASKS) {
                    seed_one(&store, i).await;
                }
            })
        })
        .collect();
    for s in seeders {
        s.await.expect("seeder");
    }
    eprintln!(
        "bench-review: seeded in {:.1} s ({:.0} items/s)",
        t.elapsed().as_secs_f64(),
        items as f64 / t.elapsed().as_secs_f64()
    );
    assert_eq!(store.queue_stats().await.expect("stats").open, items as i64);

    eprintln!("bench-review: {reviewers} reviewers claim and decide {decisions} items");
    let budget = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(decisions));
    let t = Instant::now();
    let tasks: Vec<_> = (0..reviewers)
        .map(|r| {
            tokio::spawn(reviewer(
                store.clone(),
                format!("reviewer-{r}"),
                budget.clone(),
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut decided = Vec::new();
    for task in tasks {
        let (l, d) = task.await.expect("reviewer");
        latencies.extend(l);
        decided.extend(d);
    }
    let elapsed = t.elapsed().as_secs_f64();

    let unique: HashSet<&String> = decided.iter().collect();
    assert_eq!(unique.len(), decided.len(), "an item was decided twice");
    assert_eq!(decided.len(), decisions, "fewer decisions than asked for");
    let stats = store.queue_stats().await.expect("stats");
    assert_eq!(stats.open as usize, items - decisions);
    assert_eq!(stats.claimed, 0, "claims left behind");
    store.drop_schema(&schema).await.expect("schema dropped");

    latencies.sort_by(f64::total_cmp);
    let per_s = decisions as f64 / elapsed;
    eprintln!(
        "bench-review: {decisions} decisions in {elapsed:.1} s; claim ms p50={:.2} p90={:.2} p99={:.2} max={:.2}",
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0.0)
    );
    println!(
        "bench-review items={items} reviewers={reviewers} decisions={decisions} decisions_per_s={per_s:.0} p99_claim_ms={:.2}",
        percentile(&latencies, 99.0)
    );
}
