//! Secrets out of what is shown: header lists, JSON bodies and text quoted in errors and logs.
//!
//! Tokens travel only in headers marked sensitive ([`sensitive_header`]), so that reqwest's and
//! hyper's `Debug` leave them out; a request's `Debug` shows its headers and body through
//! [`Headers`] and [`redact_json`]; a service's error body is quoted only after
//! [`redact_text`] has replaced the secrets this client holds.

use std::fmt;

use reqwest::header::{HeaderValue, InvalidHeaderValue};
use serde_json::Value;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Headers whose value is a credential.
const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-auth-token",
    "x-subject-token",
    "x-service-token",
    "api-token",
];

/// JSON keys whose value is a credential.
const SENSITIVE_KEYS: &[&str] = &[
    "password",
    "secret",
    "token",
    "id_token",
    "access_token",
    "refresh_token",
    "api_token",
    "api-token",
    "auth_token",
    "x-auth-token",
    "x-subject-token",
    "client_secret",
    "connection_key",
    "passphrase",
    "private_key",
];

/// Whether a header carries a credential (case-insensitive).
pub fn is_sensitive_header(name: &str) -> bool {
    SENSITIVE_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
}

/// Whether a JSON key names a credential (case-insensitive).
pub fn is_sensitive_key(key: &str) -> bool {
    SENSITIVE_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// A header value marked sensitive, so that it never shows in reqwest's or hyper's `Debug`.
pub fn sensitive_header(value: &str) -> Result<HeaderValue, InvalidHeaderValue> {
    let mut value = HeaderValue::from_str(value)?;
    value.set_sensitive(true);
    Ok(value)
}

/// `value` with the value of every credential key replaced by [`REDACTED`]. Objects and lists
/// under such a key are searched rather than dropped (Keystone's `"password": {"user": ...}`
/// keeps the user's name and loses only the password).
pub fn redact_json(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, inner)| {
                    let shown = match inner {
                        Value::Object(_) | Value::Array(_) => redact_json(inner),
                        Value::Null => Value::Null,
                        _ if is_sensitive_key(key) => Value::String(REDACTED.to_string()),
                        _ => inner.clone(),
                    };
                    (key.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_json).collect()),
        other => other.clone(),
    }
}

/// `text` with every occurrence of each non-empty secret replaced by [`REDACTED`]: for a
/// service's answer quoted in an error, which may echo a token or password back.
pub fn redact_text(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_string();
    // Longest first, so that a secret containing another is replaced whole.
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        if text.contains(secret) {
            text = text.replace(secret, REDACTED);
        }
    }
    text
}

/// [`redact_text`] over bytes: an answer's body, read as UTF-8 (lossily).
pub fn redact_body(body: &[u8], secrets: &[&str]) -> Vec<u8> {
    if secrets.iter().all(|s| s.is_empty()) {
        return body.to_vec();
    }
    redact_text(&String::from_utf8_lossy(body), secrets).into_bytes()
}

/// A list of headers whose `Debug` shows credential values as [`REDACTED`].
pub struct Headers<'a, N, V>(pub &'a [(N, V)]);

impl<N: AsRef<str>, V: AsRef<str>> fmt::Debug for Headers<'_, N, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, value)| {
                let name = name.as_ref();
                let value = if is_sensitive_header(name) {
                    REDACTED
                } else {
                    value.as_ref()
                };
                (name, value)
            }))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_credentials_are_replaced_and_the_rest_kept() {
        let body = json!({"auth": {"identity": {
            "methods": ["password"],
            "password": {"user": {"name": "admin", "password": "hunter2"}},
            "application_credential": {"id": "ac", "secret": "s3cr3t"}}},
            "API_Token": "t-1", "list": [{"token": "t-2"}], "token": {"expires_at": "x"}});
        let shown = redact_json(&body).to_string();
        for secret in ["hunter2", "s3cr3t", "t-1", "t-2"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        for kept in ["admin", "\"ac\"", "expires_at", "methods"] {
            assert!(shown.contains(kept), "{shown}");
        }
    }

    #[test]
    fn text_and_headers_lose_their_secrets() {
        assert_eq!(
            redact_text("bad token abc and abcdef", &["abc", "abcdef", ""]),
            "bad token [redacted] and [redacted]"
        );
        assert_eq!(redact_body(b"no secret", &[""]), b"no secret");
        let headers = [
            ("X-Subject-Token", "gAAAA-token"),
            ("OpenStack-API-Version", "compute 2.74"),
        ];
        let shown = format!("{:?}", Headers(&headers));
        assert_eq!(
            shown,
            r#"[("X-Subject-Token", "[redacted]"), ("OpenStack-API-Version", "compute 2.74")]"#
        );
        let value = sensitive_header("gAAAA-token").unwrap();
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("gAAAA"));
    }
}
