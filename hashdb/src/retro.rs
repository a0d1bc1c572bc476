//! Retro-hunt matching: past uploads' retained signals against entries
//! added to the banks *after* those uploads were decided.
//!
//! Pure: the caller hands in the new entries (with their banks) and the
//! retained signals; this module answers which uploads match which new
//! entry, under the same rules as live matching (bank thresholds, status,
//! sampling, quarantine and disputes) because it runs the same
//! [`HashDb::lookup_detailed`] over a database holding only the new
//! entries.
//!
//! Cost: the new entries are indexed once (exact signals in a hash map, PDQ
//! in the multi-index-hashing [`crate::PdqIndex`]); every retained upload is
//! then one lookup. Up to [`crate::index::TAIL_MAX`] new PDQ entries sit in
//! the index's linearly scanned tail, so a hunt costs about
//! `uploads × new_entries` 256-bit popcount distances (4 `popcnt` each: on
//! the order of a second for a million retained uploads against a thousand
//! new entries on one core); larger batches are bulk-built into MIH
//! segments and each upload costs one range query.

use crate::bank::{Bank, BankEntry, HashDb, HashDbError, MatchDetail};
use crate::signal::Signals;

/// An index over the entries one retro-hunt looks for.
#[derive(Debug, Default)]
pub struct RetroHunt {
    db: HashDb,
}

impl RetroHunt {
    /// Index `entries` (whose banks are among `banks`). Entries that do not
    /// validate are returned with their error and left out.
    pub fn new(banks: Vec<Bank>, entries: Vec<BankEntry>) -> (RetroHunt, Vec<HashDbError>) {
        let (db, errors) = HashDb::load(banks, entries);
        (RetroHunt { db }, errors)
    }

    /// Number of entries hunted for.
    pub fn len(&self) -> usize {
        self.db.len()
    }

    pub fn is_empty(&self) -> bool {
        self.db.is_empty()
    }

    /// The new entries one past upload matches, nearest first.
    pub fn matches(&self, signals: &Signals) -> Vec<MatchDetail> {
        self.db.lookup_detailed(signals)
    }

    /// Every hit over `uploads`: `(index in uploads, match)`.
    pub fn hunt<'a>(
        &self,
        uploads: impl IntoIterator<Item = &'a Signals>,
    ) -> Vec<(usize, MatchDetail)> {
        let mut out = Vec::new();
        if self.is_empty() {
            return out;
        }
        for (i, s) in uploads.into_iter().enumerate() {
            for m in self.matches(s) {
                out.push((i, m));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::{BankAction, BankStatus};
    use crate::signal::SignalType;
    use vigil_pdq::PdqHash;

    fn hash(seed: u8) -> PdqHash {
        let mut b = [0u8; 32];
        for (i, x) in b.iter_mut().enumerate() {
            *x = seed.wrapping_mul(31).wrapping_add(i as u8).wrapping_mul(97);
        }
        PdqHash(b)
    }

    fn flip(h: PdqHash, n: usize) -> PdqHash {
        let mut b = h.0;
        for i in 0..n {
            b[i / 8] ^= 1 << (i % 8);
        }
        PdqHash(b)
    }

    fn upload(pdq: Option<PdqHash>, sha: u8) -> Signals {
        Signals {
            md5: [sha; 16],
            sha256: [sha; 32],
            pdq: pdq.map(|h| (h, 90)),
            dhash: None,
            phash: None,
        }
    }

    #[test]
    fn finds_past_uploads_near_new_entries_only() {
        let bank = Bank::new("late", BankAction::Takedown);
        let target = hash(1);
        let entries = vec![
            BankEntry::derived("late", SignalType::Pdq, &target.to_hex()),
            BankEntry::derived("late", SignalType::Sha256, &crate::bank::to_hex(&[7u8; 32])),
        ];
        let (hunt, errors) = RetroHunt::new(vec![bank], entries);
        assert!(errors.is_empty());
        assert_eq!(hunt.len(), 2);
        let uploads = [
            upload(Some(flip(target, 10)), 1), // near: a hit
            upload(Some(flip(target, 40)), 2), // beyond the bank threshold
            upload(Some(hash(9)), 3),          // unrelated
            upload(None, 7),                   // exact SHA-256 hit, no PDQ
        ];
        let hits = hunt.hunt(uploads.iter());
        let got: Vec<(usize, u32)> = hits.iter().map(|(i, m)| (*i, m.m.distance)).collect();
        assert_eq!(got, vec![(0, 10), (3, 0)]);
        assert!(hits.iter().all(|(_, m)| m.m.bank == "late"));
        assert!(hits.iter().all(|(_, m)| !m.suppresses_automation));
    }

    #[test]
    fn finds_past_uploads_near_a_new_dhash_entry() {
        let bank = Bank::new("late", BankAction::Takedown);
        let target: u64 = 0x0f0f_3c3c_f0f0_a5a5;
        let entry = BankEntry::derived("late", SignalType::Dhash, &format!("{target:016x}"));
        let (hunt, errors) = RetroHunt::new(vec![bank], vec![entry]);
        assert!(errors.is_empty());
        let mut near = upload(None, 1);
        near.dhash = Some(target ^ 0b111);
        let mut far = upload(None, 2);
        far.dhash = Some(!target);
        let mut other_type = upload(None, 3);
        other_type.phash = Some(target);
        let hits = hunt.hunt([near, far, other_type].iter());
        let got: Vec<(usize, SignalType, u32)> = hits
            .iter()
            .map(|(i, m)| (*i, m.m.signal_type, m.m.distance))
            .collect();
        assert_eq!(got, vec![(0, SignalType::Dhash, 3)]);
    }

    #[test]
    fn same_rules_as_live_matching() {
        let mut disabled = Bank::new("off", BankAction::Takedown);
        disabled.status = BankStatus::Disabled;
        let mut tight = Bank::new("tight", BankAction::Takedown);
        tight.pdq_threshold = 5;
        let target = hash(2);
        let mut quarantined = BankEntry::derived("tight", SignalType::Pdq, &target.to_hex());
        quarantined.quarantined = true;
        let (hunt, _) = RetroHunt::new(
            vec![disabled, tight],
            vec![
                BankEntry::derived("off", SignalType::Pdq, &target.to_hex()),
                quarantined,
            ],
        );
        let hits = hunt.hunt(
            [
                upload(Some(flip(target, 4)), 1),
                upload(Some(flip(target, 6)), 2),
            ]
            .iter(),
        );
        assert_eq!(
            hits.len(),
            1,
            "disabled bank and distance 6 > 5 are skipped"
        );
        assert_eq!(hits[0].0, 0);
        assert!(hits[0].1.entry_quarantined && hits[0].1.suppresses_automation);
        assert!(RetroHunt::default()
            .hunt([upload(None, 1)].iter())
            .is_empty());
    }
}
