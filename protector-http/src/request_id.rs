//! Request ids: the one a service gives an answer (for errors and logs, so that an operator can
//! find the call in the service's logs), and the one a client sends.

use reqwest::header::HeaderMap;

/// Where OpenStack services put the request id: `x-openstack-request-id`, or Nova's older
/// `x-compute-request-id`.
pub const OPENSTACK_HEADERS: &[&str] = &["x-openstack-request-id", "x-compute-request-id"];

/// The header a FlashArray reads the client's request id from, and echoes.
pub const FLASHARRAY_HEADER: &str = "x-request-id";

/// The first non-empty, printable value among the `names` headers.
pub fn from_headers(headers: &HeaderMap, names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|name| headers.get(*name))
        .filter_map(|value| value.to_str().ok())
        .map(str::trim)
        .find(|value| !value.is_empty())
        .map(str::to_string)
}

/// A new request id to send: a random UUID.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn first_present_header_wins() {
        let mut headers = HeaderMap::new();
        assert_eq!(from_headers(&headers, OPENSTACK_HEADERS), None);
        headers.insert(
            "x-compute-request-id",
            HeaderValue::from_static("req-compute"),
        );
        assert_eq!(
            from_headers(&headers, OPENSTACK_HEADERS).as_deref(),
            Some("req-compute")
        );
        headers.insert("x-openstack-request-id", HeaderValue::from_static("req-1"));
        assert_eq!(
            from_headers(&headers, OPENSTACK_HEADERS).as_deref(),
            Some("req-1")
        );
        headers.insert(FLASHARRAY_HEADER, HeaderValue::from_static(""));
        assert_eq!(from_headers(&headers, &[FLASHARRAY_HEADER]), None);
        assert_ne!(new_request_id(), new_request_id());
    }
}
