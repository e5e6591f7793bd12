//! Error mapping and retries over the wire: status → kind, Retry-After, 5xx, timeouts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use protector_core::api::{ComputeApi, CreatePort, CreateServer, NetworkApi};
use protector_core::error::RetryStatus;
use protector_core::ErrorKind;
use protector_openstack::{ClientOptions, RetryConfig, RetryEvent};
use serde_json::json;
use wiremock::ResponseTemplate;

use super::support::*;

fn flavors() -> serde_json::Value {
    json!({"flavors": [{"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}]})
}

fn port_request() -> CreatePort {
    CreatePort {
        network_id: "n1".into(),
        name: "p".into(),
        fixed_ips: Vec::new(),
        security_group_ids: Vec::new(),
        description: String::new(),
    }
}

#[tokio::test]
async fn statuses_map_to_kinds_with_request_ids() {
    let options = ClientOptions::default().with_retry(RetryConfig::disabled());
    let f = Fixture::with_options(options).await;
    #[rustfmt::skip]
    let table = [
        (400, ErrorKind::InvalidInput,     false),
        (403, ErrorKind::PermissionDenied, false),
        (404, ErrorKind::NotFound,         false),
        (405, ErrorKind::Unsupported,      false),
        (406, ErrorKind::Unsupported,      false),
        (408, ErrorKind::Timeout,          true),
        (409, ErrorKind::Conflict,         false),
        (413, ErrorKind::InvalidInput,     false),
        (429, ErrorKind::RateLimited,      true),
        (500, ErrorKind::Unavailable,      true),
        (501, ErrorKind::Unsupported,      false),
        (502, ErrorKind::Unavailable,      true),
        (503, ErrorKind::Unavailable,      true),
        (504, ErrorKind::Unavailable,      true),
    ];
    for (status, kind, retryable) in table {
        let _guard = nova("GET", "flavors/detail", "2.1")
            .respond_with(nova_fault(status, "someFault", &format!("status {status}")))
            .expect(1)
            .mount_as_scoped(&f.server)
            .await;
        let err = f.cloud.compute().list_flavors().await.unwrap_err();
        assert_eq!((status, err.kind()), (status, kind), "{err}");
        assert_eq!((status, err.is_retryable()), (status, retryable));
        assert_eq!(
            err.context_value("http_status"),
            Some(status.to_string().as_str())
        );
        assert_eq!(err.context_value("request_id"), Some("req-nova"));
        assert_eq!(err.context_value("service"), Some("Nova"));
        assert_eq!(err.context_value("cloud"), Some("test"));
        assert!(
            err.message().contains(&format!("answered {status} ")),
            "{err}"
        );
        assert!(
            err.message().contains(&format!(": status {status}")),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_503_is_retried_until_it_succeeds() {
    let events = Arc::new(Mutex::new(Vec::<RetryEvent>::new()));
    let f = Fixture::with_options(recording_options(&events)).await;
    nova("GET", "flavors/detail", "2.1")
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&f.server)
        .await;
    nova("GET", "flavors/detail", "2.1")
        .respond_with(json_response(200, flavors()))
        .with_priority(2)
        .expect(1)
        .mount(&f.server)
        .await;
    assert_eq!(f.cloud.compute().list_flavors().await.unwrap().len(), 1);
    let events = events.lock().unwrap();
    let reasons: Vec<(u32, &str)> = events
        .iter()
        .map(|e| (e.retry, e.reason.as_str()))
        .collect();
    assert_eq!(reasons, [(1, "HTTP 503"), (2, "HTTP 503")]);
    assert_eq!(events[0].operation, "list flavors");
}

#[tokio::test]
async fn a_429_waits_as_long_as_retry_after_says() {
    let events = Arc::new(Mutex::new(Vec::<RetryEvent>::new()));
    let f = Fixture::with_options(recording_options(&events)).await;
    nova("GET", "flavors/detail", "2.1")
        .respond_with(
            nova_fault(429, "overLimit", "Rate limit exceeded").insert_header("Retry-After", "1"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    nova("GET", "flavors/detail", "2.1")
        .respond_with(json_response(200, flavors()))
        .with_priority(2)
        .mount(&f.server)
        .await;
    f.cloud.compute().list_flavors().await.unwrap();
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].delay, Duration::from_secs(1));
    assert_eq!(events[0].reason, "HTTP 429");
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_ends_the_retries() {
    let f = Fixture::start().await;
    nova("GET", "flavors/detail", "2.1")
        .respond_with(
            nova_fault(429, "overLimit", "Rate limit exceeded")
                .insert_header("Retry-After", "3600"),
        )
        .expect(1)
        .mount(&f.server)
        .await;
    let err = f.cloud.compute().list_flavors().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_retryable(), "the caller may still try later");
}

#[tokio::test]
async fn a_5xx_on_a_get_is_retried_then_persistent() {
    let f = Fixture::start().await;
    nova("GET", "flavors/detail", "2.1")
        .respond_with(
            ResponseTemplate::new(502).set_body_string("<html><h1>502 Bad Gateway</h1></html>"),
        )
        .expect(4)
        .mount(&f.server)
        .await;
    let err = f.cloud.compute().list_flavors().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.retry_status(), RetryStatus::Persistent);
    assert!(err.message().contains("502 Bad Gateway"), "{err}");
}

#[tokio::test]
async fn a_500_on_a_post_is_not_sent_again() {
    let events = Arc::new(Mutex::new(Vec::<RetryEvent>::new()));
    let f = Fixture::with_options(recording_options(&events)).await;
    neutron("POST", "ports")
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&f.server)
        .await;
    let err = f
        .cloud
        .network()
        .create_port(&port_request())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.is_retryable());
    assert!(
        err.message()
            .ends_with("it may have been executed: check before sending it again"),
        "{err}"
    );
    assert!(events.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_503_on_a_post_is_sent_again() {
    let f = Fixture::start().await;
    neutron("POST", "ports")
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&f.server)
        .await;
    neutron("POST", "ports")
        .respond_with(json_response(
            201,
            json!({"port": {"id": "p1", "network_id": "n1"}}),
        ))
        .with_priority(2)
        .expect(1)
        .mount(&f.server)
        .await;
    assert_eq!(
        f.cloud
            .network()
            .create_port(&port_request())
            .await
            .unwrap()
            .id,
        "p1"
    );
}

fn short_timeout_options(events: &Arc<Mutex<Vec<RetryEvent>>>) -> ClientOptions {
    recording_options(events).with_timeout(Duration::from_millis(300))
}

#[tokio::test]
async fn a_timed_out_get_is_retried() {
    let events = Arc::new(Mutex::new(Vec::<RetryEvent>::new()));
    let f = Fixture::with_options(short_timeout_options(&events)).await;
    nova("GET", "flavors/detail", "2.1")
        .respond_with(json_response(200, flavors()).set_delay(Duration::from_secs(2)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    nova("GET", "flavors/detail", "2.1")
        .respond_with(json_response(200, flavors()))
        .with_priority(2)
        .expect(1)
        .mount(&f.server)
        .await;
    assert_eq!(f.cloud.compute().list_flavors().await.unwrap().len(), 1);
    let reasons: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.reason.clone())
        .collect();
    assert_eq!(reasons, ["timed out"]);
}

#[tokio::test]
async fn a_timed_out_create_is_not_sent_again() {
    let events = Arc::new(Mutex::new(Vec::<RetryEvent>::new()));
    let f = Fixture::with_options(short_timeout_options(&events)).await;
    nova("POST", "servers", "2.74")
        .respond_with(
            json_response(202, json!({"server": {"id": "late"}})).set_delay(Duration::from_secs(2)),
        )
        .expect(1)
        .mount(&f.server)
        .await;
    let request = CreateServer {
        name: "web".into(),
        flavor_id: "1".into(),
        key_name: None,
        availability_zone: None,
        block_devices: Vec::new(),
        port_ids: vec!["p1".into()],
        metadata: Default::default(),
    };
    let err = f.cloud.compute().create_server(&request).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(!err.is_retryable());
    assert_eq!(
        err.message(),
        "create server 'web' failed: Nova did not answer in time; it may have been executed: check before sending it again"
    );
    assert!(events.lock().unwrap().is_empty());
}
