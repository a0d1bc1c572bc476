//! Banked videos for the worker: a vPDQ candidate index
//! ([`vigil_vpdq::VideoIndex`]) kept in step with the video (`vpdq`)
//! entries of the hash database.
//!
//! Bank changes reach the [`HashDb`] through the change log; the database
//! counts changes to its video entries ([`HashDb::video_generation`]), and
//! [`BankedVideos::sync`] rebuilds the index when that count has moved since
//! the last build. Rebuilding is proportional to the number of banked video
//! frames (a few thousand videos build in milliseconds), and happens on the
//! next video upload after a change, never on image uploads.
//!
//! Each banked video is indexed with its bank's vPDQ thresholds
//! ([`vigil_hashdb::VpdqThresholds`]: query share, compared share, frame
//! distance), so the same upload can match in one bank and not another.

use vigil_hashdb::{BankStatus, HashDb};
use vigil_vpdq::{parse_signal, MatchConfig, VideoIndex};

/// The video index and the database generation it was built from.
#[derive(Debug, Clone)]
pub struct BankedVideos {
    index: VideoIndex,
    config: MatchConfig,
    /// `None` until the first build.
    generation: Option<u64>,
    /// Entries left out of the last build because their text did not parse
    /// (they were validated on the way in, so this stays 0 unless the
    /// database was edited by hand).
    unreadable: usize,
}

impl BankedVideos {
    pub fn new(config: MatchConfig) -> Self {
        BankedVideos {
            index: VideoIndex::new(config),
            config,
            generation: None,
            unreadable: 0,
        }
    }

    /// Whether the index reflects `db`'s current video entries.
    pub fn is_current(&self, db: &HashDb) -> bool {
        self.generation == Some(db.video_generation())
    }

    /// Rebuild from `db` if its video entries changed since the last build;
    /// returns whether it rebuilt. Entries of disabled banks are left out
    /// (a disabled bank matches nothing); quarantined banks stay in, and
    /// the decision routes their matches to review.
    pub fn sync(&mut self, db: &HashDb) -> bool {
        if self.is_current(db) {
            return false;
        }
        let mut index = VideoIndex::new(self.config);
        let mut unreadable = 0;
        for e in db.video_entries() {
            let bank = db.bank(&e.bank);
            if bank.is_some_and(|b| b.status == BankStatus::Disabled) {
                continue;
            }
            let thresholds = bank.map(|b| b.vpdq).unwrap_or_default();
            let cfg = MatchConfig {
                distance_tolerance: thresholds.distance_tolerance,
                query_threshold_pct: thresholds.query_pct,
                compared_threshold_pct: thresholds.compared_pct,
                ..self.config
            };
            match parse_signal(&e.signal) {
                Ok(features) => {
                    index.insert_with(&format!("{}/{}", e.bank, e.entry_id), &features, &cfg);
                }
                Err(_) => unreadable += 1,
            }
        }
        self.index = index;
        self.unreadable = unreadable;
        self.generation = Some(db.video_generation());
        true
    }

    pub fn index(&self) -> &VideoIndex {
        &self.index
    }

    pub fn config(&self) -> &MatchConfig {
        &self.config
    }

    pub fn unreadable(&self) -> usize {
        self.unreadable
    }
}

impl Default for BankedVideos {
    fn default() -> Self {
        BankedVideos::new(MatchConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_hashdb::{Bank, BankAction, BankEntry, SignalType};

    const V1: &str =
        "0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.000\n\
1,100,c0f11178372c6aaccddea259648fbfd62f434c89c9e99b249772be216c8d055c,1.000\n";

    #[test]
    fn follows_the_database() {
        let mut db = HashDb::new();
        db.upsert_bank(Bank::new("v", BankAction::Takedown));
        let mut videos = BankedVideos::default();
        assert!(videos.sync(&db), "first sync builds");
        assert!(!videos.sync(&db), "nothing changed");
        let features = vigil_vpdq::parse_features(V1).unwrap();
        assert!(videos.index().matches(&features).is_empty());

        db.upsert_entry(BankEntry::derived("v", SignalType::Vpdq, V1))
            .unwrap();
        assert!(!videos.is_current(&db));
        assert!(videos.sync(&db));
        let hits = videos.index().matches(&features);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].id.starts_with("v/vpdq-"), "{}", hits[0].id);

        // A disabled bank matches nothing.
        let mut bank = db.bank("v").unwrap().clone();
        bank.status = BankStatus::Disabled;
        db.upsert_bank(bank);
        assert!(videos.sync(&db), "a bank change rebuilds");
        assert!(videos.index().matches(&features).is_empty());
    }

    #[test]
    fn each_bank_matches_with_its_own_vpdq_thresholds() {
        let banked = vigil_vpdq::parse_features(V1).unwrap();
        // The upload has the banked video's first frame and one unrelated
        // frame: half of its frames match.
        let mut query = banked.clone();
        query[1].hash = vigil_hashdb::PdqHash([0x5a; 32]);
        let mut db = HashDb::new();
        db.upsert_bank(Bank::new("strict", BankAction::Takedown));
        let mut loose = Bank::new("loose", BankAction::Takedown);
        loose.vpdq.query_pct = 50.0;
        db.upsert_bank(loose);
        for bank in ["strict", "loose"] {
            db.upsert_entry(BankEntry::derived(bank, SignalType::Vpdq, V1))
                .unwrap();
        }
        let mut videos = BankedVideos::default();
        videos.sync(&db);
        let hits = videos.index().matches(&query);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(hits[0].id.starts_with("loose/"));
        assert_eq!(hits[0].config.query_threshold_pct, 50.0);

        // Tightening the loose bank takes effect on the next sync.
        let mut b = db.bank("loose").unwrap().clone();
        b.vpdq.query_pct = 80.0;
        db.upsert_bank(b);
        assert!(videos.sync(&db));
        assert!(videos.index().matches(&query).is_empty());
    }
}
