//! [`FlashArrayConnector`]: FlashArray clients for the engine, one per array URL and token, so
//! that a session is reused across the calls of an operation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use protector_core::api::{ArrayApi, ArrayConnector};
use protector_core::model::ArrayEndpoint;
use protector_core::Result;
use sha2::{Digest, Sha256};

use crate::FlashArrayClient;

/// Builds (and keeps) one [`FlashArrayClient`] per array endpoint.
///
/// The cache key is the URL, the CA file, the plain-http allowance and a hash of the token, so
/// a changed token gets a new client; the token itself is never kept outside the client.
#[derive(Default)]
pub struct FlashArrayConnector {
    clients: Mutex<HashMap<String, Arc<FlashArrayClient>>>,
}

impl std::fmt::Debug for FlashArrayConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("FlashArrayConnector")
            .field("clients", &count)
            .finish()
    }
}

impl FlashArrayConnector {
    /// An empty connector.
    pub fn new() -> Self {
        Self::default()
    }
}

fn key(endpoint: &ArrayEndpoint) -> String {
    let digest = Sha256::digest(endpoint.api_token.expose().as_bytes());
    format!(
        "{}|{}|{}|{}",
        endpoint.url,
        endpoint.ca_file.as_deref().unwrap_or(""),
        endpoint.allow_insecure_http,
        hex::encode(&digest[..8])
    )
}

#[async_trait]
impl ArrayConnector for FlashArrayConnector {
    async fn array(&self, endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>> {
        let key = key(endpoint);
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = Arc::new(FlashArrayClient::from_endpoint(endpoint)?);
        clients.insert(key, client.clone());
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protector_core::model::Secret;

    fn endpoint(token: &str) -> ArrayEndpoint {
        ArrayEndpoint {
            url: "https://array-a.example.com".into(),
            api_token: Secret::new(token),
            ca_file: None,
            allow_insecure_http: false,
        }
    }

    #[tokio::test]
    async fn one_client_per_endpoint_and_token() {
        let connector = FlashArrayConnector::new();
        let a = connector.array(&endpoint("T-1")).await.unwrap();
        let b = connector.array(&endpoint("T-1")).await.unwrap();
        let c = connector.array(&endpoint("T-2")).await.unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        let printed = format!("{connector:?} {}", key(&endpoint("T-secret-token")));
        assert!(!printed.contains("T-secret-token"));
    }
}
