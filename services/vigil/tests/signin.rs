//! Sign-in cannot be used to exhaust the server (docs/hardening.md): every
//! attempt is counted per account, per client address and per pair before
//! the password is checked, the counts are shared by every replica through
//! the database, and at most `signin_concurrent_checks` argon2 checks run
//! at once.

mod common;

use common::*;
use std::net::IpAddr;
use vigil::Roles;
use vigil_store::Role;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_from_one_address_are_counted_before_any_check() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let roles = Roles {
        hook: false,
        workers: false,
        review: true,
    };
    let t = spawn_app_with(config, roles, dir).await;
    // 64 guesses at once for accounts that do not exist (no account needed).
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (c, base) = (t.client.clone(), t.base.clone());
        tasks.push(tokio::spawn(async move {
            let r = c
                .post(format!("{base}/api/login"))
                .json(&serde_json::json!({"username": format!("nobody{i}"), "password": "guess guess guess"}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.headers().contains_key("retry-after"))
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let refused = statuses.iter().filter(|(s, _)| *s == 429).count();
    let checked = statuses.iter().filter(|(s, _)| *s == 401).count();
    // 30 per address per window: the rest never reached a password check.
    assert_eq!(checked, 30, "{statuses:?}");
    assert_eq!(refused, 34, "{statuses:?}");
    assert!(
        statuses.iter().all(|(s, ra)| *s != 429 || *ra),
        "429 carries Retry-After"
    );
    let m = t.metrics().await;
    assert_eq!(
        metric_value(&m, "vigil_review_logins_total{outcome=\"rate_limited\"}"),
        34.0
    );
    t.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_counts_and_success_clears_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let store = vigil_store::Store::connect(
        &format!("sqlite://{}", dir.path().join("vigil.db").display()),
        4,
        None,
    )
    .await
    .unwrap();
    let media = vigil_store::MediaStore::open(&dir.path().join("media")).unwrap();
    vigil_review::add_user(&store, "lead1", Role::Lead, PASSWORD)
        .await
        .unwrap();
    // Two replicas of the review service over one database.
    let replica = || {
        vigil_review::ReviewState::new(
            store.clone(),
            media.clone(),
            None,
            vigil_review::ReviewConfig::default(),
        )
    };
    let (a, b) = (replica(), replica());
    let here: Option<IpAddr> = Some("198.51.100.7".parse().unwrap());
    let sign_in = vigil_review::api::sign_in;
    // Four wrong guesses on replica A, the fifth on B: the pair's limit of
    // five is reached across both.
    for _ in 0..4 {
        assert_eq!(
            sign_in(&a, "lead1", "wrong password!", here)
                .await
                .unwrap_err()
                .status,
            401
        );
    }
    assert_eq!(
        sign_in(&b, "lead1", "wrong password!", here)
            .await
            .unwrap_err()
            .status,
        401
    );
    // The sixth attempt is refused before the password is looked at, even
    // the right one, on either replica.
    let p = sign_in(&b, "lead1", PASSWORD, here).await.unwrap_err();
    assert_eq!((p.status.as_u16(), p.kind), (429, "rate_limited"));
    assert!(p.retry_after.is_some());
    // The lead, from another address, is not locked out by those guesses.
    let elsewhere: Option<IpAddr> = Some("203.0.113.20".parse().unwrap());
    assert!(sign_in(&a, "lead1", PASSWORD, elsewhere).await.is_ok());
    t_clear(&store).await;
}

/// After a successful sign-in the account's counters start over.
async fn t_clear(store: &vigil_store::Store) {
    let window = std::time::Duration::from_secs(900);
    // account:lead1 was cleared by the success; counting again starts at 1.
    assert_eq!(
        store
            .count_signin_attempt("account:lead1", window)
            .await
            .unwrap(),
        1
    );
    // The address of the guesses keeps its count.
    assert!(
        store
            .count_signin_attempt("address:198.51.100.7", window)
            .await
            .unwrap()
            > 6
    );
}
