//! Error accounting for Vigil's automated actions (DESIGN.md §8): which
//! uploads go to blind audit, how overturn and miss rates are estimated with
//! Wilson 95% intervals, and the transparency report built from those counts.
//! Pure logic: no Kafka, HTTP or SQL.
#![forbid(unsafe_code)]
