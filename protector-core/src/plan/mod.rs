//! Plans: serde data describing what an operation will do.
