//! The secrecy test in a binary of its own: it captures log output with a thread-local tracing
//! subscriber, and tracing's global per-callsite interest cache is shared with any test running
//! in parallel in the same process, which made the capture miss lines under load.

#![allow(dead_code)]

#[path = "it/support.rs"]
mod support;

#[path = "it/secrets.rs"]
mod secrets;
