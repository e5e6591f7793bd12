//! Placeholder: replaced by the encryption-at-rest implementation.

/// Key used to encrypt secrets at rest.
#[derive(Debug)]
pub struct SecretKey;
