//! FlashArray REST 2.x client implementing `protector_core::api::ArrayApi` over HTTPS.
//!
//! Not implemented yet (issue 4); exports nothing rather than pretending.
