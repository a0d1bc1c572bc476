//! Governance records (issue 12): bank charters, proposals awaiting a second approver, the hash-chained change log and referrals.
