//! Requests as data: method, resource path, query, body and whether sending twice is harmless.
//! Building one is pure; [`crate::FlashArrayClient`] sends it.

use std::fmt;

use protector_http::is_idempotent;
use protector_http::redact::redact_json;
use reqwest::{Method, Url};

use crate::auth::ApiVersion;
use crate::filter::{Filter, Sort};

/// One authenticated REST call, before the version and session are known. `Debug` shows
/// credential fields of the body (a connection key) as `[redacted]`.
#[derive(Clone, PartialEq)]
pub(crate) struct Request {
    pub(crate) method: Method,
    /// Resource path after `/api/<version>/` (`volumes`, `protection-groups/targets`).
    pub(crate) path: &'static str,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<serde_json::Value>,
    /// Whether the request may be sent again after a timeout or a 5xx.
    pub(crate) idempotent: bool,
    /// What the call does, for messages (`destroy volume`).
    pub(crate) operation: &'static str,
    /// The object(s) it concerns, for messages.
    pub(crate) object: Option<String>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body", &self.body.as_ref().map(redact_json))
            .field("idempotent", &self.idempotent)
            .field("operation", &self.operation)
            .field("object", &self.object)
            .finish()
    }
}

impl Request {
    /// A request; GET and DELETE are idempotent (and PUT, HEAD), POST and PATCH are not.
    pub(crate) fn new(method: Method, path: &'static str, operation: &'static str) -> Request {
        let idempotent = is_idempotent(&method);
        Request {
            method,
            path,
            query: Vec::new(),
            body: None,
            idempotent,
            operation,
            object: None,
        }
    }

    pub(crate) fn get(path: &'static str, operation: &'static str) -> Request {
        Request::new(Method::GET, path, operation)
    }

    pub(crate) fn post(path: &'static str, operation: &'static str) -> Request {
        Request::new(Method::POST, path, operation)
    }

    pub(crate) fn patch(path: &'static str, operation: &'static str) -> Request {
        Request::new(Method::PATCH, path, operation)
    }

    pub(crate) fn delete(path: &'static str, operation: &'static str) -> Request {
        Request::new(Method::DELETE, path, operation)
    }

    /// Adds a query parameter.
    pub(crate) fn param(mut self, key: &'static str, value: impl Into<String>) -> Request {
        self.query.push((key, value.into()));
        self
    }

    /// Adds a comma-separated list parameter (`names=a,b`).
    pub(crate) fn names<S: AsRef<str>>(self, key: &'static str, names: &[S]) -> Request {
        let joined = names
            .iter()
            .map(|n| n.as_ref())
            .collect::<Vec<_>>()
            .join(",");
        self.param(key, joined)
    }

    /// Adds `key=true` when `on`; leaves the parameter out otherwise, as Pure's clients do.
    pub(crate) fn flag(self, key: &'static str, on: bool) -> Request {
        if on {
            self.param(key, "true")
        } else {
            self
        }
    }

    /// Adds `filter=`.
    pub(crate) fn filter(self, filter: &Filter) -> Request {
        self.param("filter", filter.to_string())
    }

    /// Adds `sort=`.
    pub(crate) fn sort(self, sort: &Sort) -> Request {
        self.param("sort", sort.to_string())
    }

    /// Sets the JSON body.
    pub(crate) fn body(mut self, body: serde_json::Value) -> Request {
        self.body = Some(body);
        self
    }

    /// Names the object(s) concerned, for messages.
    pub(crate) fn object(mut self, object: impl Into<String>) -> Request {
        self.object = Some(object.into());
        self
    }

    /// The full URL at `version` on the array at `base`.
    pub(crate) fn url(&self, base: &Url, version: ApiVersion) -> Url {
        resource_url(base, &format!("/api/{version}/{}", self.path), &self.query)
    }
}

/// `base` with `path` and the percent-encoded `query` (`:` → `%3A`, `'` → `%27`, …).
pub(crate) fn resource_url(base: &Url, path: &str, query: &[(&'static str, String)]) -> Url {
    let mut url = base.clone();
    url.set_path(path);
    url.set_query(None);
    if !query.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_url_with_encoded_query() {
        let base = Url::parse("https://array-a.example.com").unwrap();
        let request = Request::get("protection-group-snapshots/transfer", "list transfers")
            .names("names", &["array-a:pg"])
            .flag("destroyed", false)
            .flag("replicate_now", true)
            .filter(&Filter::eq("progress", 1.0))
            .sort(&Sort::desc("started"));
        assert!(request.idempotent);
        assert_eq!(
            request.url(&base, ApiVersion::new(2, 56)).as_str(),
            "https://array-a.example.com/api/2.56/protection-group-snapshots/transfer?names=array-a%3Apg&replicate_now=true&filter=progress%3D%221.0%22&sort=started-"
        );
        let request = Request::get("volume-snapshots", "list")
            .filter(&Filter::like("name", "array-a:cinder-group.2.*"));
        assert_eq!(
            request.url(&base, ApiVersion::new(2, 4)).query(),
            Some("filter=name%3D%27array-a%3Acinder-group.2.*%27")
        );
    }

    #[test]
    fn methods_default_idempotency() {
        assert!(Request::delete("volumes", "x").idempotent);
        assert!(!Request::post("volumes", "x").idempotent);
        assert!(!Request::patch("volumes", "x").idempotent);
        let r = Request::post("pods", "x").names("names", &["a", "b"]);
        assert_eq!(r.query, vec![("names", "a,b".to_string())]);
    }
}
