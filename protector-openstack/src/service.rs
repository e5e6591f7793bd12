//! What the Nova, Cinder and Neutron clients share: endpoint selection, version discovery,
//! microversion negotiation, 404-as-`None` and pagination.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use protector_core::{Error, ErrorKind, Result};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::auth::require_catalog;
use crate::catalog::ServiceType;
use crate::config::parse_url;
use crate::error::Family;
use crate::page::{Field, Page, PageSeed};
use crate::session::Session;
use crate::transport::{Request, Response, TokenSource};

/// An API microversion such as `2.74`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Microversion(pub(crate) u16, pub(crate) u16);

impl Microversion {
    fn parse(text: &str) -> Option<Self> {
        let (major, minor) = text.trim().split_once('.')?;
        Some(Microversion(major.parse().ok()?, minor.parse().ok()?))
    }
}

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// The microversions a call works with: it asks for `preferred`, or for the service's maximum
/// when that is lower but still at least `min`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Versions {
    pub(crate) min: Microversion,
    pub(crate) preferred: Microversion,
}

impl Versions {
    /// Exactly `version`.
    pub(crate) const fn exactly(major: u16, minor: u16) -> Self {
        Versions {
            min: Microversion(major, minor),
            preferred: Microversion(major, minor),
        }
    }

    /// From `min` up to `preferred`.
    pub(crate) const fn range(min: (u16, u16), preferred: (u16, u16)) -> Self {
        Versions {
            min: Microversion(min.0, min.1),
            preferred: Microversion(preferred.0, preferred.1),
        }
    }
}

/// The resolved endpoint of a service.
#[derive(Debug)]
struct Endpoint {
    /// Base URL, ending in `/`.
    base: Url,
}

/// The base of every service client.
pub(crate) struct ServiceClient {
    session: Arc<Session>,
    service: ServiceType,
    /// An endpoint given by the caller, before the configuration's override and the catalog.
    explicit: Option<String>,
    endpoint: OnceCell<Endpoint>,
    /// The highest microversion the service announced (`None`: it did not say), read from its
    /// version document the first time it refuses a call's microversion (406). Until then each
    /// call asks for its preferred one: a service as new as the client never costs a round
    /// trip for discovery.
    discovered: OnceCell<Option<Microversion>>,
}

impl fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceClient")
            .field("cloud", &self.session.config().name())
            .field("service", &self.service)
            .field("endpoint", &self.endpoint.get().map(|e| e.base.as_str()))
            .finish()
    }
}

impl ServiceClient {
    pub(crate) fn new(session: Arc<Session>, service: ServiceType) -> Self {
        ServiceClient {
            session,
            service,
            explicit: None,
            endpoint: OnceCell::new(),
            discovered: OnceCell::new(),
        }
    }

    /// A client of `service` at `url` (its `%(tenant_id)s`/`%(project_id)s` replaced by the
    /// token's project), whatever the catalog says.
    pub(crate) fn with_endpoint(
        session: Arc<Session>,
        service: ServiceType,
        url: impl Into<String>,
    ) -> Self {
        ServiceClient {
            explicit: Some(url.into()),
            ..ServiceClient::new(session, service)
        }
    }

    /// The endpoint's base URL, resolved now if no request did yet (from the caller's URL,
    /// the configuration's override or the token's catalog: contacts Keystone for a token).
    /// `Unsupported` when the catalog has no such service.
    pub(crate) async fn base(&self) -> Result<&Url> {
        Ok(&self.endpoint.get_or_try_init(|| self.resolve()).await?.base)
    }

    /// The endpoint's base URL once resolved (by the first request).
    pub(crate) fn resolved_base(&self) -> Option<&Url> {
        self.endpoint.get().map(|e| &e.base)
    }

    fn family(&self) -> Family {
        match self.service {
            ServiceType::Identity => Family::Identity,
            ServiceType::Compute => Family::Compute,
            ServiceType::BlockStorage => Family::BlockStorage,
            ServiceType::Network => Family::Network,
            ServiceType::Protector => Family::Protector,
        }
    }

    /// The project the token is scoped to.
    pub(crate) async fn project_id(&self) -> Result<String> {
        Ok(self
            .session
            .token()
            .await?
            .project_id
            .clone()
            .unwrap_or_default())
    }

    /// A request to `path` (segments, each percent-encoded) under the service's endpoint, with
    /// the microversion headers when `versions` is given.
    pub(crate) async fn request(
        &self,
        method: Method,
        path: &[&str],
        operation: impl Into<String>,
        versions: Option<Versions>,
    ) -> Result<Request> {
        let operation = operation.into();
        let endpoint = self.endpoint.get_or_try_init(|| self.resolve()).await?;
        let mut url = endpoint.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                Error::unexpected(format!(
                    "{operation}: endpoint {} has no path",
                    endpoint.base
                ))
            })?
            .pop_if_empty()
            .extend(path);
        let mut request = Request::new(self.family(), method, url, operation);
        if let Some(versions) = versions {
            let max = self.discovered.get().copied().flatten();
            let version = self.negotiate(versions, max, &request.operation)?;
            request.microversion = Some(version);
            request.versions = Some(versions);
            request = match self.service {
                ServiceType::Compute => request
                    .header("OpenStack-API-Version", format!("compute {version}"))
                    .header("X-OpenStack-Nova-API-Version", version.to_string()),
                ServiceType::BlockStorage => {
                    request.header("OpenStack-API-Version", format!("volume {version}"))
                }
                ServiceType::Identity | ServiceType::Network | ServiceType::Protector => request,
            };
        }
        Ok(request)
    }

    fn negotiate(
        &self,
        versions: Versions,
        max: Option<Microversion>,
        operation: &str,
    ) -> Result<Microversion> {
        match max {
            None => Ok(versions.preferred),
            Some(max) if max >= versions.preferred => Ok(versions.preferred),
            Some(max) if max >= versions.min => Ok(max),
            Some(max) => Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{operation}: needs {} API microversion {} or later, the cloud offers up to {max}; upgrade the service",
                    self.service, versions.min
                ),
            )
            .with_context("cloud", self.session.config().name())),
        }
    }

    /// Sends a request built by [`ServiceClient::request`]. When the service refuses its
    /// microversion (406: older than the client), the service's version document is read
    /// (once per client) and the request sent again at the highest version both support;
    /// below the call's minimum that is `Unsupported`, saying so.
    pub(crate) async fn send(&self, request: &Request) -> Result<Response> {
        match self.session.send(request).await {
            Err(refused) if request.microversion.is_some() && is_not_acceptable(&refused) => {
                match self.renegotiated(request).await? {
                    Some(again) => self.session.send(&again).await,
                    None => Err(refused),
                }
            }
            other => other,
        }
    }

    /// `request` at the highest microversion the version document allows, when that is not
    /// the one the service refused; `None` when there is no other to try.
    async fn renegotiated(&self, request: &Request) -> Result<Option<Request>> {
        let (Some(versions), Some(asked)) = (request.versions, request.microversion) else {
            return Ok(None);
        };
        let endpoint = self.endpoint.get_or_try_init(|| self.resolve()).await?;
        let project_id = self.project_id().await?;
        let max = *self
            .discovered
            .get_or_try_init(|| self.discover(&endpoint.base, &project_id))
            .await?;
        tracing::debug!(service = %self.service, refused = %asked, max_version = ?max, "microversion refused; read the version document");
        if max.is_none() {
            return Ok(None);
        }
        let version = self.negotiate(versions, max, &request.operation)?;
        Ok((version != asked).then(|| request.at_microversion(version)))
    }

    /// Sends a request; a 404 is `Ok(None)`.
    pub(crate) async fn send_optional(&self, request: &Request) -> Result<Option<Response>> {
        match self.send(request).await {
            Ok(response) => Ok(Some(response)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends a request and reads `key` of the answer as `T`; a 404 is `Ok(None)`.
    pub(crate) async fn get_optional<T: DeserializeOwned>(
        &self,
        request: &Request,
        key: &str,
    ) -> Result<Option<T>> {
        match self.send_optional(request).await? {
            Some(response) => Ok(Some(take(&response, key)?)),
            None => Ok(None),
        }
    }

    /// Every item of the `collection` list, following `next` links page by page.
    ///
    /// Only the query of a `next` link is used, on our own endpoint: services behind a proxy
    /// often write links with an internal host, and the token must never go to another host.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        mut request: Request,
        collection: &str,
    ) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut seen = HashSet::new();
        loop {
            let response = self.send(&request).await?;
            // The items are read as `T` while the body is parsed (no `Value` tree of the page).
            let page: Page<T> = response.json_seed(PageSeed::new(collection))?;
            let Some(entries) = page.items else {
                return Err(response.decode_error(format!("no '{collection}' list")));
            };
            let empty = entries.is_empty();
            items.extend(entries);
            let Some(next) = next_link(&page.links, collection) else {
                break;
            };
            let next_url = request
                .url
                .join(&next)
                .map_err(|e| response.decode_error(format!("bad next link: {e}")))?;
            let query = next_url.query().map(str::to_string);
            if empty || !seen.insert(query.clone()) {
                break;
            }
            request.url.set_query(query.as_deref());
        }
        Ok(items)
    }

    async fn resolve(&self) -> Result<Endpoint> {
        let config = self.session.config();
        let token = self.session.token().await?;
        let project_id = token.project_id.clone().unwrap_or_default();
        let raw = match self
            .explicit
            .as_deref()
            .or_else(|| config.endpoint_override(self.service))
        {
            Some(url) => [
                "$(project_id)s",
                "%(project_id)s",
                "$(tenant_id)s",
                "%(tenant_id)s",
            ]
            .iter()
            .fold(url.to_string(), |url, pattern| {
                url.replace(pattern, &project_id)
            }),
            None => {
                require_catalog(&token, config.name())?;
                token
                    .catalog
                    .endpoint(self.service, config.interface(), config.region_name())
                    .map_err(|e| e.with_context("cloud", config.name()))?
            }
        };
        let mut base = parse_url(config.name(), &format!("{} endpoint", self.service), &raw)?;
        let mut segments: Vec<String> = path_segments(&base);
        if self.service == ServiceType::Network && segments.last().is_none_or(|s| s != "v2.0") {
            segments.push("v2.0".into());
        }
        // protector-api's root (`http://host:8788`) is as good as its catalog endpoint.
        if self.service == ServiceType::Protector && !segments.iter().any(|s| s == "v1") {
            segments.push("v1".into());
            segments.push(project_id.clone());
        }
        set_path(&mut base, &segments);
        tracing::debug!(cloud = config.name(), service = %self.service, endpoint = %base, "resolved endpoint");
        Ok(Endpoint { base })
    }

    /// The highest microversion, from the version document at the endpoint's version root
    /// (Cinder's catalog URL ends with the project id, which is dropped for this). A service
    /// that has no document (4xx) has no other version to offer: its refusal stands.
    async fn discover(&self, base: &Url, project_id: &str) -> Result<Option<Microversion>> {
        let mut segments = path_segments(base);
        if !project_id.is_empty() && segments.last().is_some_and(|s| s == project_id) {
            segments.pop();
        }
        let mut url = base.clone();
        set_path(&mut url, &segments);
        let request = Request::new(
            self.family(),
            Method::GET,
            url,
            format!("discover {} versions", self.service),
        )
        .anonymous();
        let response = match self.session.send(&request).await {
            Ok(response) => response,
            Err(e) if is_client_error(&e) => {
                tracing::debug!(service = %self.service, error = %e, "no version document; using preferred microversions");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let document: Value = response.json()?;
        let wanted = match self.service {
            ServiceType::Compute => "v2.1",
            _ => "v3",
        };
        let versions: Vec<&Value> = match (document.get("version"), document.get("versions")) {
            (Some(one), _) => vec![one],
            (None, Some(Value::Array(all))) => all.iter().collect(),
            (None, Some(Value::Object(o))) => o
                .get("values")
                .and_then(Value::as_array)
                .map(|v| v.iter().collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let chosen = versions
            .iter()
            .find(|v| {
                v.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| id.starts_with(wanted))
            })
            .or(if versions.len() == 1 {
                versions.first()
            } else {
                None
            });
        Ok(chosen
            .and_then(|v| v.get("version"))
            .and_then(Value::as_str)
            .and_then(Microversion::parse))
    }
}

/// For fields the services send as `null` as well as absent: the type's default.
pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The service refused the request's microversion (406 Not Acceptable: "Version 2.96 is not
/// supported by the API. Minimum is 2.1 and maximum is 2.95.").
fn is_not_acceptable(error: &Error) -> bool {
    error.context_value("http_status") == Some("406")
}

/// A 4xx other than 429: the service answered, but has no such document for us (some
/// deployments put even the version document behind authentication).
fn is_client_error(error: &Error) -> bool {
    error
        .context_value("http_status")
        .and_then(|s| s.parse::<u16>().ok())
        .is_some_and(|s| (400..500).contains(&s) && s != 429)
}

/// `key` of the answer as `T`, read straight from the body ([`Field`]).
pub(crate) fn take<T: DeserializeOwned>(response: &Response, key: &str) -> Result<T> {
    response
        .json_seed(Field::<T>::new(key))?
        .ok_or_else(|| response.decode_error(format!("no '{key}' in the answer")))
}

/// The `next` link of a page: Nova and Cinder write `<collection>_links`, Neutron too when
/// paginating; some deployments use plain `links`.
fn next_link(page: &Value, collection: &str) -> Option<String> {
    [format!("{collection}_links"), "links".to_string()]
        .iter()
        .filter_map(|key| page.get(key)?.as_array())
        .flatten()
        .find(|link| link.get("rel").and_then(Value::as_str) == Some("next"))
        .and_then(|link| link.get("href")?.as_str().map(str::to_string))
}

fn path_segments(url: &Url) -> Vec<String> {
    url.path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// Sets the path to `segments` with a trailing `/`.
fn set_path(url: &mut Url, segments: &[String]) {
    let mut path = String::from("/");
    for segment in segments {
        path.push_str(segment);
        path.push('/');
    }
    url.set_path(&path);
    url.set_query(None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn next_links_come_from_either_key() {
        let nova = json!({"servers": [], "servers_links": [{"rel": "next", "href": "https://x/v2.1/servers/detail?marker=a"}]});
        assert_eq!(
            next_link(&nova, "servers").as_deref(),
            Some("https://x/v2.1/servers/detail?marker=a")
        );
        let plain = json!({"volumes": [], "links": [{"rel": "self", "href": "s"}, {"rel": "next", "href": "n"}]});
        assert_eq!(next_link(&plain, "volumes").as_deref(), Some("n"));
        assert_eq!(next_link(&json!({"ports": []}), "ports"), None);
    }

    #[test]
    fn microversions_parse_and_order() {
        assert_eq!(Microversion::parse("2.104"), Some(Microversion(2, 104)));
        assert!(Microversion(2, 104) > Microversion(2, 74));
        assert_eq!(Microversion::parse(""), None);
        assert_eq!(Microversion(3, 8).to_string(), "3.8");
    }
}
