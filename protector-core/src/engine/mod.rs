//! The engine.

/// Entry point.
#[derive(Debug)]
pub struct Protector;
