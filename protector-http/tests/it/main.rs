//! protector-http's plumbing over real sockets: the retry loop against wiremock, broken
//! connections and an untrusted certificate against small hand-made servers, and secrecy.

mod retries;
mod secrets;
mod support;
mod transport;
