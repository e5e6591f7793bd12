//! Runnable examples of protector; see `examples/examples/`.
