//! The hostile corpus (`vigil_fuzz::corpus`): deterministic, big enough,
//! and every file goes through the decode target (and the other decode
//! entry points: hash-only decoding, EXIF orientation) without a panic or
//! a contained decoder panic.

use std::collections::HashSet;
use vigil_fuzz::corpus::{generate, CorpusFile, FORMATS, MAX_FILE_BYTES};
use vigil_fuzz::{exercise, Target};

#[test]
fn the_corpus_is_deterministic_and_covers_every_format() {
    let a = generate();
    let b = generate();
    assert_eq!(a, b, "two runs generate different files");
    assert!(a.len() >= 300, "only {} files", a.len());
    for format in FORMATS {
        let n = a.iter().filter(|f| f.format == format).count();
        assert!(n >= 25, "only {n} {format} files");
    }
    let mut names = HashSet::new();
    for f in &a {
        assert!(names.insert(f.name.as_str()), "{} twice", f.name);
        assert!(
            f.name.starts_with(&format!("{}/", f.format)),
            "{} is not under {}/",
            f.name,
            f.format
        );
        assert!(
            f.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b)),
            "{} is not a plain relative path",
            f.name
        );
        assert!(!f.name.contains(".."), "{}", f.name);
        assert!(
            f.bytes.len() <= MAX_FILE_BYTES,
            "{} is {} bytes",
            f.name,
            f.bytes.len()
        );
    }
    // The user-found bug class is in it.
    for name in ["png/plte-len-7", "png/plte-len-8"] {
        assert!(names.contains(name), "{name} is missing");
    }
}

/// What went wrong with `f`, if anything: a panic or a contained decoder
/// panic in any decode entry point.
fn finding(f: &CorpusFile) -> Option<String> {
    let message = |p: Box<dyn std::any::Any + Send>| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic".into())
    };
    if let Err(p) = std::panic::catch_unwind(|| exercise(Target::Decode, &f.bytes)) {
        return Some(format!("decode target: {}", message(p)));
    }
    // The fuzz target's budget: the full deploy budget (and the bombs that
    // fit in it) is exercised by services/vigil/tests/hostile_corpus.rs.
    let limits = vigil_decode::Limits {
        max_bytes: MAX_FILE_BYTES,
        max_pixels: 1 << 22,
        max_memory_bytes: 64 << 20,
    };
    let others = std::panic::catch_unwind(|| {
        let oriented = vigil_decode::decode_image_with(
            &f.bytes,
            &limits,
            &vigil_decode::DecodeOptions {
                apply_exif_orientation: true,
            },
        )
        .err();
        let for_hash = vigil_decode::decode_for_hash(&f.bytes, &limits).err();
        [
            ("exif orientation", oriented),
            ("decode_for_hash", for_hash),
        ]
        .into_iter()
        .find_map(|(what, e)| match e {
            Some(e @ vigil_decode::DecodeError::DecoderPanic { .. }) => {
                Some(format!("{what}: {e}"))
            }
            _ => None,
        })
    });
    match others {
        Ok(r) => r,
        Err(p) => Some(format!("uncontained panic: {}", message(p))),
    }
}

#[test]
fn every_corpus_file_decodes_or_fails_without_a_panic() {
    let files = generate();
    // The decoders' own panic messages are the report; keep stderr short.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let findings: Vec<String> = files
        .iter()
        .filter_map(|f| finding(f).map(|m| format!("{}: {m}", f.name)))
        .collect();
    std::panic::set_hook(hook);
    assert!(
        findings.is_empty(),
        "{} corpus file(s) made a decoder panic:\n{}",
        findings.len(),
        findings.join("\n")
    );
}
