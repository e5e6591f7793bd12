//! The retry loop against wiremock: what is retried, how long it waits, how often.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use protector_http::{Failure, RetryEvent, TransportFailure};
use reqwest::Method;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

fn recorder() -> Arc<Mutex<Vec<RetryEvent>>> {
    Arc::new(Mutex::new(Vec::new()))
}

async fn answer_first(server: &MockServer, verb: &str, first: ResponseTemplate, times: u64) {
    Mock::given(method(verb))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .expect(times)
        .mount(server)
        .await;
}

async fn then_ok(server: &MockServer, verb: &str) {
    Mock::given(method(verb))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .with_priority(2)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_503_with_retry_after_is_retried_after_that_wait_then_succeeds() {
    let server = MockServer::start().await;
    answer_first(
        &server,
        "GET",
        ResponseTemplate::new(503).insert_header("Retry-After", "1"),
        1,
    )
    .await;
    then_ok(&server, "GET").await;
    let events = recorder();
    let sent = send(&fast_retry(&events), &client(), Method::GET, &server.uri()).await;
    assert_eq!(sent.result.unwrap().status, 200);
    assert_eq!(sent.retries, 1);
    let events = events.lock().unwrap();
    // The service's one second, not the 1-5 ms backoff.
    assert_eq!(
        *events,
        [RetryEvent {
            operation: "test call".into(),
            retry: 1,
            delay: Duration::from_secs(1),
            reason: "HTTP 503".into(),
        }]
    );
}

#[tokio::test]
async fn a_503_on_a_post_is_sent_again_as_it_was_not_processed() {
    let server = MockServer::start().await;
    answer_first(&server, "POST", ResponseTemplate::new(503), 2).await;
    then_ok(&server, "POST").await;
    let events = recorder();
    let sent = send(&fast_retry(&events), &client(), Method::POST, &server.uri()).await;
    assert_eq!(sent.result.unwrap().status, 200);
    assert_eq!(sent.retries, 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_ends_the_retries_at_once() {
    let server = MockServer::start().await;
    answer_first(
        &server,
        "GET",
        ResponseTemplate::new(429).insert_header("Retry-After", "3600"),
        1,
    )
    .await;
    let events = recorder();
    let sent = send(&fast_retry(&events), &client(), Method::GET, &server.uri()).await;
    let answer = sent.result.unwrap();
    assert_eq!(answer.status, 429);
    assert_eq!(
        protector_http::retry_after(&answer.headers),
        Some(Duration::from_secs(3600))
    );
    assert_eq!(sent.retries, 0);
    assert!(events.lock().unwrap().is_empty());
}

#[tokio::test]
async fn attempts_are_bounded_by_max_retries() {
    let server = MockServer::start().await;
    // 1 attempt + 3 retries, no more.
    answer_first(&server, "GET", ResponseTemplate::new(503), 4).await;
    let events = recorder();
    let sent = send(&fast_retry(&events), &client(), Method::GET, &server.uri()).await;
    assert_eq!(sent.result.unwrap().status, 503);
    assert_eq!(sent.retries, 3);
    let retries: Vec<u32> = events.lock().unwrap().iter().map(|e| e.retry).collect();
    assert_eq!(retries, [1, 2, 3]);
    server.verify().await;
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn the_retry_budget_bounds_the_time_spent() {
    let server = MockServer::start().await;
    answer_first(&server, "GET", ResponseTemplate::new(503), 1).await;
    let events = recorder();
    let retry = fast_retry(&events).with_retry_timeout(Duration::ZERO);
    let sent = send(&retry, &client(), Method::GET, &server.uri()).await;
    assert_eq!(sent.result.unwrap().status, 503);
    assert_eq!(sent.retries, 0);
}

#[tokio::test]
async fn a_500_is_retried_for_a_get_but_never_for_a_post() {
    let server = MockServer::start().await;
    answer_first(&server, "GET", ResponseTemplate::new(500), 1).await;
    then_ok(&server, "GET").await;
    answer_first(&server, "POST", ResponseTemplate::new(500), 1).await;
    let events = recorder();
    let retry = fast_retry(&events);
    let get = send(&retry, &client(), Method::GET, &server.uri()).await;
    assert_eq!((get.result.unwrap().status.as_u16(), get.retries), (200, 1));
    let post = send(&retry, &client(), Method::POST, &server.uri()).await;
    assert_eq!(
        (post.result.unwrap().status.as_u16(), post.retries),
        (500, 0)
    );
    assert!(protector_http::may_have_run(Failure::Status(500), false));
}

#[tokio::test]
async fn a_401_comes_back_at_once_for_the_client_to_reauthenticate() {
    let server = MockServer::start().await;
    answer_first(&server, "GET", ResponseTemplate::new(401), 1).await;
    let events = recorder();
    let sent = send(&fast_retry(&events), &client(), Method::GET, &server.uri()).await;
    assert_eq!(
        (sent.result.unwrap().status.as_u16(), sent.retries),
        (401, 0)
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_even_for_a_post() {
    let events = recorder();
    let sent = send(
        &fast_retry(&events),
        &client(),
        Method::POST,
        &closed_port_url(),
    )
    .await;
    let failed = sent.result.unwrap_err();
    assert_eq!(failed.failure, TransportFailure::Connect);
    assert_eq!(sent.retries, 3);
    let reasons: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.reason.clone())
        .collect();
    assert_eq!(reasons, ["connection failed"; 3]);
}

#[test]
fn the_retry_loop_can_run_on_any_thread() {
    fn assert_send<T: Send>(_: &T) {}
    let events = recorder();
    let retry = fast_retry(&events);
    let client = client();
    let future = send(&retry, &client, Method::GET, "http://127.0.0.1:1/");
    assert_send(&future);
}
