//! dHash and pHash on the shared PDQ test images (read where they lie,
//! under `shared/testdata/pdq`): the same image hashes the same, edited
//! copies (resized, re-encoded, blurred, sharpened, recoloured) stay close,
//! unrelated images are far apart.

use std::path::{Path, PathBuf};
use vigil_decode::{decode_image, Limits};
use vigil_pipeline::imagehash::{hash_all, HASHERS};

fn data() -> PathBuf {
    vigil_testdata::require("pdq").join("pdq").join("data")
}

fn hashes(path: &Path) -> Vec<u64> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let img = decode_image(&bytes, &Limits::default()).unwrap().rgb;
    let (w, h) = (img.width() as usize, img.height() as usize);
    HASHERS
        .iter()
        .map(|hasher| hasher.hash_rgb(w, h, img.as_raw()).unwrap())
        .collect()
}

fn distances(a: &[u64], b: &[u64]) -> Vec<u32> {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).collect()
}

#[test]
fn same_edited_and_different_images() {
    let d = data();
    let orig = hashes(&d.join("bridge-mods/aaa-orig.jpg"));
    let names: Vec<&str> = HASHERS.iter().map(|h| h.signal_type().as_str()).collect();

    // The same pixels always hash the same; a byte-identical copy too.
    assert_eq!(hashes(&d.join("bridge-mods/aaa-orig.jpg")), orig);
    assert_eq!(
        hashes(&d.join("reg-test-input/dih/bridge-1-original.jpg")),
        orig
    );
    let bytes = std::fs::read(d.join("bridge-mods/aaa-orig.jpg")).unwrap();
    let img = decode_image(&bytes, &Limits::default()).unwrap().rgb;
    let all = hash_all(img.width() as usize, img.height() as usize, img.as_raw());
    assert_eq!(all.iter().map(|(_, h)| *h).collect::<Vec<_>>(), orig);

    // Edits of the same photo: resized, re-encoded, blurred, sharpened,
    // recoloured. Each within the default bank threshold (10 of 64).
    let mut worst = vec![0u32; HASHERS.len()];
    for edit in [
        "blur-a-little.jpg",
        "blur-a-lot.jpg",
        "high-contrast.jpg",
        "high-saturation.jpg",
        "sharpen-a-little.jpg",
        "sharpen-a-lot.jpg",
        "shrink-a-little.jpg",
        "shrink-a-lot.jpg",
        "square-128x128.jpg",
        "square-256x256.jpg",
        "square-512x512.jpg",
    ] {
        let got = distances(&orig, &hashes(&d.join("bridge-mods").join(edit)));
        println!("{edit}: {names:?} {got:?}");
        for (w, g) in worst.iter_mut().zip(&got) {
            *w = (*w).max(*g);
        }
    }
    println!("worst edit distance {names:?} {worst:?}");
    for (name, w) in names.iter().zip(&worst) {
        assert!(*w <= 10, "{name}: an edit is {w} bits away");
    }

    // Unrelated photos: far apart from the bridge and from each other.
    let mut others = vec![orig.clone()];
    for name in [
        "reg-test-input/labelme-subset/q0003.jpg",
        "reg-test-input/labelme-subset/q0004.jpg",
        "reg-test-input/labelme-subset/q0122.jpg",
        "reg-test-input/labelme-subset/q0291.jpg",
        "reg-test-input/labelme-subset/q0746.jpg",
        "reg-test-input/labelme-subset/q1050.jpg",
        "reg-test-input/labelme-subset/q2821.jpg",
        "reg-test-input/pen-and-coaster.png",
    ] {
        others.push(hashes(&d.join(name)));
    }
    let mut nearest = vec![64u32; HASHERS.len()];
    let mut total = vec![0u32; HASHERS.len()];
    let mut pairs = 0;
    for i in 0..others.len() {
        for j in i + 1..others.len() {
            pairs += 1;
            let got = distances(&others[i], &others[j]);
            for ((n, t), g) in nearest.iter_mut().zip(&mut total).zip(got) {
                *n = (*n).min(g);
                *t += g;
            }
        }
    }
    let mean: Vec<f64> = total.iter().map(|t| f64::from(*t) / pairs as f64).collect();
    println!("unrelated pairs: {pairs}, nearest {names:?} {nearest:?}, mean {mean:.1?}");
    // Beyond the default threshold (10), with a margin over the edits.
    for (name, n) in names.iter().zip(&nearest) {
        assert!(*n > 10, "{name}: two unrelated images are {n} bits apart");
    }
}

#[test]
fn the_analyzer_matches_banked_dhash_and_phash_and_policy_reviews_them() {
    use std::sync::{Arc, RwLock};
    use vigil_hashdb::{Bank, BankAction, BankEntry, CharterScope, HashDb, SignalType};
    let d = data();
    let orig = std::fs::read(d.join("bridge-mods/aaa-orig.jpg")).unwrap();
    let img = decode_image(&orig, &Limits::default()).unwrap().rgb;
    let mut db = HashDb::new();
    let mut bank = Bank::new("b", BankAction::Takedown);
    bank.charter = Some(CharterScope {
        takedown: true,
        restrict_jurisdictions: vec![],
    });
    db.upsert_bank(bank);
    for (t, h) in hash_all(img.width() as usize, img.height() as usize, img.as_raw()) {
        db.upsert_entry(BankEntry::derived("b", t, &format!("{h:016x}")))
            .unwrap();
    }
    let analyzer =
        vigil_pipeline::Analyzer::new(Arc::new(RwLock::new(db)), None, Limits::default());
    // A shrunk copy: both hashes match, within the default threshold.
    let copy = std::fs::read(d.join("bridge-mods/shrink-a-lot.jpg")).unwrap();
    let a = analyzer.analyze(&copy);
    let types: Vec<SignalType> = a.signals.iter().map(|s| s.signal_type).collect();
    assert_eq!(
        types,
        [
            SignalType::Md5,
            SignalType::Sha256,
            SignalType::Pdq,
            SignalType::Dhash,
            SignalType::Phash
        ]
    );
    let mut matched: Vec<SignalType> = a.matches.iter().map(|m| m.m.signal_type).collect();
    matched.sort();
    assert_eq!(matched, [SignalType::Dhash, SignalType::Phash]);
    assert!(a.matches.iter().all(|m| m.m.distance <= 10));
    let ev = vigil_pipeline::Evidence {
        upload_id: vigil_pipeline::UploadId::parse("u1").unwrap(),
        context: vigil_pipeline::PlatformContext {
            surface: "feed".into(),
            ..Default::default()
        },
        signals: a.signals,
        pdq_quality: a.pdq_quality,
        matches: a.matches,
        classifier: None,
        decode_error: None,
        now: chrono::Utc::now(),
    };
    let (v, review) = vigil_pipeline::decide(&ev, &vigil_pipeline::Policy::builtin());
    assert_eq!(v.action, vigil_pipeline::Action::Review);
    assert!(review.is_some());
    // An unrelated photo matches neither.
    let other = std::fs::read(d.join("reg-test-input/labelme-subset/q0003.jpg")).unwrap();
    assert!(analyzer.analyze(&other).matches.is_empty());
}
