//! The tamper-evident change log: records chained by SHA-256 over a
//! canonical JSON form, Ed25519-signed checkpoints over the chain's head,
//! the verifier that finds the first broken link, and the export file an
//! outside auditor checks with the public key alone.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// First line of an export file.
pub const EXPORT_FORMAT: &str = "vigil-changelog/1";

/// One record of the change log, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainRecord {
    /// 1, 2, 3, … without gaps.
    pub seq: i64,
    /// RFC 3339 UTC.
    pub at: String,
    /// Who made the change (a user name, `system`, or `operator`).
    pub actor: String,
    /// Bounded kind, e.g. `entry_upsert`, `charter_set`, `proposal_approved`.
    pub kind: String,
    /// The change itself, in canonical JSON.
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What goes into a new record; the log assigns seq, prev and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub actor: String,
    pub kind: String,
    pub payload: serde_json::Value,
}

/// JSON with object keys sorted and no insignificant whitespace, so the
/// same value always gives the same bytes (whatever map type serde_json
/// was built with).
pub fn canonical_json(v: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&m[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The hash of a record: SHA-256 over the canonical JSON of every field
/// but the hash itself.
pub fn record_hash(
    seq: i64,
    at: &str,
    actor: &str,
    kind: &str,
    payload: &str,
    prev: &str,
) -> String {
    let body = serde_json::json!({
        "seq": seq, "at": at, "actor": actor, "kind": kind, "payload": payload, "prev_hash": prev,
    });
    hex::encode(Sha256::digest(canonical_json(&body).as_bytes()))
}

/// The record that follows `head` (None: the first).
pub fn next_record(head: Option<(i64, &str)>, at: &str, new: &NewRecord) -> ChainRecord {
    let (seq, prev) = match head {
        Some((s, h)) => (s + 1, h.to_string()),
        None => (1, GENESIS.to_string()),
    };
    let payload = canonical_json(&new.payload);
    let hash = record_hash(seq, at, &new.actor, &new.kind, &payload, &prev);
    ChainRecord {
        seq,
        at: at.to_string(),
        actor: new.actor.clone(),
        kind: new.kind.clone(),
        payload,
        prev_hash: prev,
        hash,
    }
}

/// A signed statement that the chain's record `seq` has hash `hash`: it
/// fixes every record up to `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at: String,
    /// Hex of the Ed25519 public key that signed it.
    pub public_key: String,
    /// Hex of the Ed25519 signature over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    pub fn message(seq: i64, hash: &str, at: &str) -> Vec<u8> {
        format!("vigil-changelog-checkpoint\n{seq}\n{hash}\n{at}\n").into_bytes()
    }

    pub fn sign(key: &SigningKey, seq: i64, hash: &str, at: &str) -> Checkpoint {
        let sig = key.sign(&Self::message(seq, hash, at));
        Checkpoint {
            seq,
            hash: hash.to_string(),
            at: at.to_string(),
            public_key: hex::encode(key.verifying_key().to_bytes()),
            signature: hex::encode(sig.to_bytes()),
        }
    }

    /// Whether the signature is `key`'s over this checkpoint.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = hex::decode(&self.signature) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        key.verify(&Self::message(self.seq, &self.hash, &self.at), &sig)
            .is_ok()
    }
}

/// A key pair as stored: the signing key file holds 64 hex digits (the
/// 32-byte seed), the `.pub` file beside it the public key's 64 hex digits.
pub fn signing_key_from_hex(text: &str) -> Result<SigningKey, KeyError> {
    let bytes = hex::decode(text.trim()).map_err(|_| KeyError::NotHex)?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| KeyError::WrongLength)?;
    Ok(SigningKey::from_bytes(&seed))
}

pub fn verifying_key_from_hex(text: &str) -> Result<VerifyingKey, KeyError> {
    let bytes = hex::decode(text.trim()).map_err(|_| KeyError::NotHex)?;
    let raw: [u8; 32] = bytes.try_into().map_err(|_| KeyError::WrongLength)?;
    VerifyingKey::from_bytes(&raw).map_err(|_| KeyError::NotAPoint)
}

/// A signing key from 32 random bytes the caller supplies (from the OS).
pub fn signing_key_from_seed(seed: [u8; 32]) -> SigningKey {
    SigningKey::from_bytes(&seed)
}

pub use ed25519_dalek::{SigningKey as Ed25519SigningKey, VerifyingKey as Ed25519VerifyingKey};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is not hex")]
    NotHex,
    #[error("the key is not 32 bytes (64 hex digits)")]
    WrongLength,
    #[error("the public key is not a valid Ed25519 point")]
    NotAPoint,
}

/// The first problem a verification found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error("record at position {position}: expected seq {expected}, found {found} (a record was deleted, inserted or moved)")]
    Sequence {
        position: usize,
        expected: i64,
        found: i64,
    },
    #[error("record {seq}: prev_hash does not match the hash of record {prev_seq} (records removed or reordered before it)")]
    PrevMismatch { seq: i64, prev_seq: i64 },
    #[error("record {seq}: its content does not match its hash (the record was edited)")]
    HashMismatch { seq: i64 },
    #[error("checkpoint at record {seq}: the signature does not verify with the given public key")]
    BadSignature { seq: i64 },
    #[error("checkpoint at record {seq} was signed by another key ({public_key})")]
    ForeignKey { seq: i64, public_key: String },
    #[error("checkpoint at record {seq}: the chain there has hash {found}, the signed one is {signed} (history rewritten)")]
    CheckpointMismatch {
        seq: i64,
        signed: String,
        found: String,
    },
    #[error("checkpoint at record {seq} is past the end of the log ({len} records: records were removed from the end)")]
    Truncated { seq: i64, len: i64 },
}

impl Break {
    /// The seq of the first record (or checkpoint) that fails.
    pub fn seq(&self) -> i64 {
        match self {
            Break::Sequence { expected, .. } => *expected,
            Break::PrevMismatch { seq, .. }
            | Break::HashMismatch { seq }
            | Break::BadSignature { seq }
            | Break::ForeignKey { seq, .. }
            | Break::CheckpointMismatch { seq, .. }
            | Break::Truncated { seq, .. } => *seq,
        }
    }
}

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: i64,
    pub head: String,
    /// Checkpoints whose signature and hash were checked.
    pub checkpoints: usize,
    /// The last record covered by a verified signature (0: none).
    pub signed_through: i64,
}

/// Recompute the chain over `records` (in the order given, which must be
/// seq order) and check `checkpoints` against it. With `key`, every
/// checkpoint must be signed by it; without, signatures are checked against
/// the key each checkpoint names (which proves nothing about who signed:
/// pass the public key to rely on it). Returns the first broken link.
pub fn verify(
    records: &[ChainRecord],
    checkpoints: &[Checkpoint],
    key: Option<&VerifyingKey>,
) -> Result<Verified, Break> {
    let mut prev = GENESIS.to_string();
    for (i, r) in records.iter().enumerate() {
        let expected = i as i64 + 1;
        if r.seq != expected {
            return Err(Break::Sequence {
                position: i + 1,
                expected,
                found: r.seq,
            });
        }
        // A record whose own hash still fits its content but follows the
        // wrong predecessor shows a removal or reordering; a record whose
        // content no longer fits its hash was edited.
        let own = record_hash(r.seq, &r.at, &r.actor, &r.kind, &r.payload, &r.prev_hash);
        if own != r.hash {
            return Err(Break::HashMismatch { seq: r.seq });
        }
        if r.prev_hash != prev {
            return Err(Break::PrevMismatch {
                seq: r.seq,
                prev_seq: r.seq - 1,
            });
        }
        prev = r.hash.clone();
    }
    let len = records.len() as i64;
    let mut signed_through = 0;
    let mut cps: Vec<&Checkpoint> = checkpoints.iter().collect();
    cps.sort_by_key(|c| c.seq);
    for c in &cps {
        let vk = match key {
            Some(k) => {
                if hex::encode(k.to_bytes()) != c.public_key {
                    return Err(Break::ForeignKey {
                        seq: c.seq,
                        public_key: c.public_key.clone(),
                    });
                }
                *k
            }
            None => verifying_key_from_hex(&c.public_key)
                .map_err(|_| Break::BadSignature { seq: c.seq })?,
        };
        if !c.verify(&vk) {
            return Err(Break::BadSignature { seq: c.seq });
        }
        if c.seq < 1 || c.seq > len {
            return Err(Break::Truncated { seq: c.seq, len });
        }
        let found = &records[(c.seq - 1) as usize].hash;
        if *found != c.hash {
            return Err(Break::CheckpointMismatch {
                seq: c.seq,
                signed: c.hash.clone(),
                found: found.clone(),
            });
        }
        signed_through = signed_through.max(c.seq);
    }
    Ok(Verified {
        records: len,
        head: prev,
        checkpoints: cps.len(),
        signed_through,
    })
}

/// One line of an export file (JSON Lines, after the format line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExportLine {
    Record(ChainRecord),
    Checkpoint(Checkpoint),
}

/// Write records and checkpoints as an export file.
pub fn write_export(
    records: &[ChainRecord],
    checkpoints: &[Checkpoint],
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    writeln!(out, "{EXPORT_FORMAT}")?;
    for r in records {
        let line =
            serde_json::to_string(&ExportLine::Record(r.clone())).map_err(std::io::Error::other)?;
        writeln!(out, "{line}")?;
    }
    for c in checkpoints {
        let line = serde_json::to_string(&ExportLine::Checkpoint(c.clone()))
            .map_err(std::io::Error::other)?;
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a Vigil change-log export (first line is not {EXPORT_FORMAT:?})")]
    Format,
    #[error("line {line}: {detail}")]
    Line { line: usize, detail: String },
}

/// Read an export file back.
pub fn read_export(
    input: impl std::io::BufRead,
) -> Result<(Vec<ChainRecord>, Vec<Checkpoint>), ExportError> {
    let mut lines = input.lines();
    let first = lines.next().transpose()?;
    if first.as_deref().map(str::trim) != Some(EXPORT_FORMAT) {
        return Err(ExportError::Format);
    }
    let (mut records, mut checkpoints) = (Vec::new(), Vec::new());
    for (i, l) in lines.enumerate() {
        let l = l?;
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<ExportLine>(&l) {
            Ok(ExportLine::Record(r)) => records.push(r),
            Ok(ExportLine::Checkpoint(c)) => checkpoints.push(c),
            Err(e) => {
                return Err(ExportError::Line {
                    line: i + 2,
                    detail: e.to_string(),
                })
            }
        }
    }
    Ok((records, checkpoints))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: usize) -> Vec<ChainRecord> {
        let mut out: Vec<ChainRecord> = Vec::new();
        for i in 0..n {
            let head = out.last().map(|r| (r.seq, r.hash.as_str()));
            let r = next_record(
                head,
                &format!("2026-01-01T00:00:{i:02}Z"),
                &NewRecord {
                    actor: "alice".into(),
                    kind: "entry_upsert".into(),
                    payload: json!({"bank": "b", "n": i, "z": [1, {"y": 2, "x": 1}]}),
                },
            );
            out.push(r);
        }
        out
    }

    fn key(b: u8) -> SigningKey {
        signing_key_from_seed([b; 32])
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v = json!({"b": 1, "a": {"d": [3, {"f": 1, "e": 2}], "c": "x\"y"}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":"x\"y","d":[3,{"e":2,"f":1}]},"b":1}"#
        );
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(c[0].prev_hash, GENESIS);
        assert_eq!(c[1].prev_hash, c[0].hash);
        let v = verify(&c, &[], None).unwrap();
        assert_eq!((v.records, v.head.as_str()), (5, c[4].hash.as_str()));
        assert_eq!(verify(&[], &[], None).unwrap().records, 0);
    }

    #[test]
    fn edits_deletions_and_reorders_are_found_at_the_first_broken_link() {
        let c = chain(6);
        let mut edited = c.clone();
        edited[2].payload = edited[2].payload.replace("\"n\":2", "\"n\":7");
        assert_eq!(
            verify(&edited, &[], None),
            Err(Break::HashMismatch { seq: 3 })
        );
        let mut actor = c.clone();
        actor[4].actor = "mallory".into();
        assert_eq!(verify(&actor, &[], None).unwrap_err().seq(), 5);

        let mut deleted = c.clone();
        deleted.remove(3);
        assert_eq!(verify(&deleted, &[], None).unwrap_err().seq(), 4);
        // Deleted and renumbered: the seq fits, the link does not.
        for r in deleted.iter_mut().skip(3) {
            r.seq -= 1;
        }
        assert_eq!(verify(&deleted, &[], None).unwrap_err().seq(), 4);

        let mut reordered = c.clone();
        reordered.swap(1, 2);
        assert_eq!(verify(&reordered, &[], None).unwrap_err().seq(), 2);
        // Reordered with seqs swapped back: the second record's prev is wrong.
        reordered[1].seq = 2;
        reordered[2].seq = 3;
        assert!(matches!(
            verify(&reordered, &[], None),
            Err(Break::HashMismatch { seq: 2 })
        ));
    }

    #[test]
    fn checkpoints_catch_a_rewritten_history_and_a_foreign_key() {
        let c = chain(4);
        let k = key(7);
        let cp = Checkpoint::sign(&k, 3, &c[2].hash, "2026-01-01T01:00:00Z");
        let vk = k.verifying_key();
        let v = verify(&c, std::slice::from_ref(&cp), Some(&vk)).unwrap();
        assert_eq!((v.checkpoints, v.signed_through), (1, 3));

        // An insider rewrites record 2 and recomputes every hash after it:
        // the chain is consistent again, the signed checkpoint is not.
        let mut rewritten = c[..1].to_vec();
        for (i, r) in c.iter().enumerate().skip(1) {
            let payload: serde_json::Value = serde_json::from_str(&r.payload).unwrap();
            let payload = if i == 1 {
                json!({"forged": true})
            } else {
                payload
            };
            let head = rewritten.last().map(|r| (r.seq, r.hash.as_str()));
            rewritten.push(next_record(
                head,
                &r.at,
                &NewRecord {
                    actor: r.actor.clone(),
                    kind: r.kind.clone(),
                    payload,
                },
            ));
        }
        assert!(verify(&rewritten, &[], Some(&vk)).is_ok());
        assert!(matches!(
            verify(&rewritten, std::slice::from_ref(&cp), Some(&vk)),
            Err(Break::CheckpointMismatch { seq: 3, .. })
        ));
        // Truncating below a checkpoint is caught too.
        assert!(matches!(
            verify(&c[..2], std::slice::from_ref(&cp), Some(&vk)),
            Err(Break::Truncated { seq: 3, len: 2 })
        ));
        // A checkpoint re-signed by the insider's own key is refused when
        // the auditor pins the real public key.
        let forged = Checkpoint::sign(&key(9), 3, &rewritten[2].hash, "2026-01-01T01:00:00Z");
        assert!(matches!(
            verify(&rewritten, std::slice::from_ref(&forged), Some(&vk)),
            Err(Break::ForeignKey { seq: 3, .. })
        ));
        let mut tampered = cp.clone();
        tampered.at = "2027-01-01T00:00:00Z".into();
        assert_eq!(
            verify(&c, &[tampered], Some(&vk)),
            Err(Break::BadSignature { seq: 3 })
        );
    }

    #[test]
    fn export_round_trips_and_rejects_foreign_files() {
        let c = chain(3);
        let k = key(1);
        let cp = Checkpoint::sign(&k, 3, &c[2].hash, "2026-01-01T01:00:00Z");
        let mut buf = Vec::new();
        write_export(&c, std::slice::from_ref(&cp), &mut buf).unwrap();
        let (r, cps) = read_export(buf.as_slice()).unwrap();
        assert_eq!((r, cps), (c, vec![cp]));
        assert!(matches!(
            read_export("hello\n".as_bytes()),
            Err(ExportError::Format)
        ));
        let bad = format!("{EXPORT_FORMAT}\n{{\"type\":\"record\"}}\n");
        assert!(matches!(
            read_export(bad.as_bytes()),
            Err(ExportError::Line { line: 2, .. })
        ));
    }

    #[test]
    fn keys_parse_from_hex() {
        let k = key(3);
        let hexed = hex::encode(k.to_bytes());
        assert_eq!(
            signing_key_from_hex(&hexed).unwrap().to_bytes(),
            k.to_bytes()
        );
        let pubhex = hex::encode(k.verifying_key().to_bytes());
        assert_eq!(verifying_key_from_hex(&pubhex).unwrap(), k.verifying_key());
        assert_eq!(signing_key_from_hex("zz").unwrap_err(), KeyError::NotHex);
        assert_eq!(
            signing_key_from_hex("abcd").unwrap_err(),
            KeyError::WrongLength
        );
    }
}
