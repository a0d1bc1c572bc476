//! Self-correction records (issue 8): retained upload signals for retro-hunts, late verdicts, per-entry decision counters and quarantine.
