//! Accountability records (issue 8): blind audit samples and their outcomes, shadow-policy disagreements, and the counts the estimators and the transparency report read.
