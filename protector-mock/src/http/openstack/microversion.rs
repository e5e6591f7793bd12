//! API microversions as Nova and Cinder negotiate them: `OpenStack-API-Version: compute 2.47`
//! (Nova also reads the legacy `X-OpenStack-Nova-API-Version: 2.47`), `latest` for the
//! maximum, the minimum when absent; a malformed value is 400, one out of range 406.

use std::fmt;

use axum::http::header::{HeaderName, HeaderValue, VARY};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::common::{ApiError, Family};

/// A `major.minor` API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Microversion {
    pub major: u32,
    pub minor: u32,
}

impl Microversion {
    pub(crate) const fn new(major: u32, minor: u32) -> Microversion {
        Microversion { major, minor }
    }

    /// Whether this is `major.minor` or later (same major).
    pub(crate) fn at_least(self, minor: u32) -> bool {
        self.minor >= minor
    }

    fn parse(text: &str) -> Option<Microversion> {
        let (major, minor) = text.trim().split_once('.')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(major) || !digits(minor) {
            return None;
        }
        Some(Microversion {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }
}

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What one service supports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VersionRange {
    /// `compute` or `volume`, as in the header.
    pub service: &'static str,
    pub min: Microversion,
    pub max: Microversion,
    /// Nova's legacy header.
    pub legacy_header: Option<&'static str>,
    pub family: Family,
}

/// Nova: 2.1 to 2.96.
pub(crate) const COMPUTE: VersionRange = VersionRange {
    service: "compute",
    min: Microversion::new(2, 1),
    max: Microversion::new(2, 96),
    legacy_header: Some("x-openstack-nova-api-version"),
    family: Family::Compute,
};

/// Cinder: 3.0 to 3.71.
pub(crate) const VOLUME: VersionRange = VersionRange {
    service: "volume",
    min: Microversion::new(3, 0),
    max: Microversion::new(3, 71),
    legacy_header: None,
    family: Family::Volume,
};

impl VersionRange {
    /// The version a request asks for.
    pub(crate) fn requested(&self, headers: &HeaderMap) -> Result<Microversion, ApiError> {
        let mut asked: Option<String> = None;
        for value in headers.get_all("openstack-api-version") {
            let Ok(value) = value.to_str() else { continue };
            for part in value.split(',') {
                let mut words = part.split_whitespace();
                if words
                    .next()
                    .is_some_and(|s| s.eq_ignore_ascii_case(self.service))
                {
                    asked = Some(words.collect::<Vec<_>>().join(" "));
                }
            }
        }
        if asked.is_none() {
            if let Some(legacy) = self.legacy_header {
                asked = headers
                    .get(legacy)
                    .and_then(|v| v.to_str().ok())
                    .map(|s| s.trim().to_string());
            }
        }
        let Some(asked) = asked else {
            return Ok(self.min);
        };
        if asked.eq_ignore_ascii_case("latest") {
            return Ok(self.max);
        }
        let version = Microversion::parse(&asked).ok_or_else(|| {
            ApiError::bad_request(
                self.family,
                format!(
                    "API Version String {asked} is of invalid format. Must be of format MajorNum.MinorNum."
                ),
            )
        })?;
        if version < self.min || version > self.max {
            return Err(ApiError::new(
                self.family,
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "Version {version} is not supported by the API. Minimum is {} and maximum is {}.",
                    self.min, self.max
                ),
            ));
        }
        Ok(version)
    }

    /// Stamps the version a response was produced at.
    pub(crate) fn stamp(&self, response: &mut Response, version: Microversion) {
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&format!("{} {version}", self.service)) {
            headers.insert(HeaderName::from_static("openstack-api-version"), value);
        }
        let vary = match self.legacy_header {
            Some(legacy) => {
                if let Ok(value) = HeaderValue::from_str(&version.to_string()) {
                    headers.insert(HeaderName::from_static(legacy), value);
                }
                "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
            }
            None => "OpenStack-API-Version",
        };
        headers.insert(VARY, HeaderValue::from_static(vary));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn versions_are_negotiated_like_nova() {
        assert_eq!(
            COMPUTE.requested(&headers(&[])).unwrap(),
            Microversion::new(2, 1)
        );
        let both = headers(&[
            ("openstack-api-version", "compute 2.47"),
            ("x-openstack-nova-api-version", "2.3"),
        ]);
        assert_eq!(COMPUTE.requested(&both).unwrap(), Microversion::new(2, 47));
        let legacy = headers(&[("x-openstack-nova-api-version", "2.60")]);
        assert_eq!(
            COMPUTE.requested(&legacy).unwrap(),
            Microversion::new(2, 60)
        );
        let latest = headers(&[("openstack-api-version", "volume 3.5, compute latest")]);
        assert_eq!(COMPUTE.requested(&latest).unwrap(), COMPUTE.max);
        assert_eq!(VOLUME.requested(&latest).unwrap(), Microversion::new(3, 5));
        let too_new = COMPUTE
            .requested(&headers(&[("openstack-api-version", "compute 2.200")]))
            .unwrap_err();
        assert_eq!(too_new.status, StatusCode::NOT_ACCEPTABLE);
        assert_eq!(
            too_new.message,
            "Version 2.200 is not supported by the API. Minimum is 2.1 and maximum is 2.96."
        );
        let bad = COMPUTE
            .requested(&headers(&[("openstack-api-version", "compute two")]))
            .unwrap_err();
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
}
