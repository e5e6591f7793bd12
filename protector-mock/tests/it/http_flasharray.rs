//! The FlashArray REST 2.x face over HTTPS: the wire conventions py-pure-client and the Cinder
//! Pure driver rely on, and the replication flow end to end, against the simulator's state.

use std::path::Path;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use protector_mock::http::flasharray::testing::{serve, ArrayServer};
use protector_mock::{InjectedError, Service, Simulator};

const VERSION: &str = "2.56";

/// A client that trusts the simulator's CA.
fn verified_client(ca_file: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca_file).expect("CA file");
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA PEM"))
        .tls_built_in_root_certs(false)
        .build()
        .expect("client")
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn items(&self) -> &Vec<Value> {
        self.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items in {}", self.body))
    }

    fn names(&self) -> Vec<String> {
        self.items()
            .iter()
            .map(|i| i["name"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn error(&self) -> (Option<&str>, &str) {
        let e = &self.body["errors"][0];
        (
            e["context"].as_str(),
            e["message"]
                .as_str()
                .unwrap_or_else(|| panic!("no error in {} ({})", self.body, self.status)),
        )
    }

    #[track_caller]
    fn expect_ok(self) -> Reply {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        self
    }

    #[track_caller]
    fn expect_400(&self, substring: &str) {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{}", self.body);
        let (_, message) = self.error();
        assert!(
            message.contains(substring),
            "{message:?} lacks {substring:?}"
        );
    }
}

/// One logged-in session with one simulated array.
struct Array {
    server: ArrayServer,
    client: reqwest::Client,
    token: String,
}

impl Array {
    async fn start(sim: &Simulator, site: &str, dir: &Path) -> Array {
        let server = serve(sim.clone(), site, dir).await.expect("serve");
        let client = verified_client(&server.ca_file);
        let mut array = Array {
            server,
            client,
            token: String::new(),
        };
        array.login().await;
        array
    }

    async fn login(&mut self) {
        let response = self
            .client
            .post(format!("{}/api/{VERSION}/login", self.server.url))
            .header("api-token", &self.server.api_token)
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::OK);
        self.token = response.headers()["x-auth-token"]
            .to_str()
            .unwrap()
            .to_string();
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}/api/{VERSION}/{path}", self.server.url))
            .header("x-auth-token", &self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }
}

struct TwoArrays {
    sim: Simulator,
    a: Array,
    b: Array,
    _dir: tempfile::TempDir,
}

async fn two_arrays() -> TwoArrays {
    let sim = Simulator::in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = Array::start(&sim, "site-a", dir.path()).await;
    let b = Array::start(&sim, "site-b", dir.path()).await;
    TwoArrays {
        sim,
        a,
        b,
        _dir: dir,
    }
}

/// The array volume behind the root disk of server `name` on site-a.
fn root_volume(sim: &Simulator, name: &str) -> String {
    let inventory = sim.inspect();
    let site = &inventory.sites["site-a"];
    let server = site.servers.iter().find(|s| s.name == name).unwrap();
    site.volumes
        .iter()
        .find(|v| v.id == server.volumes[0])
        .and_then(|v| v.array_volume.clone())
        .unwrap()
}

#[tokio::test]
async fn versions_login_and_sessions() {
    let sim = Simulator::in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut a = Array::start(&sim, "site-a", dir.path()).await;
    let url = a.server.url.clone();

    let versions: Value = a
        .client
        .get(format!("{url}/api/api_version"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let versions: Vec<&str> = versions["version"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(versions.first(), Some(&"2.0"));
    assert_eq!(versions.last(), Some(&"2.56"));

    // A wrong token: 401 in Purity's error shape, no session.
    let refused = a
        .client
        .post(format!("{url}/api/2.56/login"))
        .header("api-token", "not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get("x-auth-token").is_none());
    let body: Value = refused.json().await.unwrap();
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("refused the API token"));

    // Every version in the list routes; none outside it does.
    for version in ["2.0", "2.23", "2.56"] {
        let reply = a
            .client
            .get(format!("{url}/api/{version}/arrays"))
            .header("x-auth-token", &a.token)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{version}");
    }
    let unknown = a
        .client
        .get(format!("{url}/api/2.58/arrays"))
        .header("x-auth-token", &a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // No token, or an unknown one: 401.
    let anonymous = a
        .client
        .get(format!("{url}/api/2.56/volumes"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anonymous.json().await.unwrap();
    assert!(body["errors"][0]["message"].is_string());

    // x-request-id: echoed when sent, made up when not.
    let echoed = a
        .client
        .get(format!("{url}/api/2.56/arrays"))
        .header("x-auth-token", &a.token)
        .header("X-Request-ID", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "req-42");
    let arrays = a.get("arrays").await.expect_ok();
    assert!(!arrays.headers["x-request-id"].is_empty());
    let array = &arrays.items()[0];
    assert_eq!(array["name"], "flasharray-a");
    assert_eq!(array["os"], "Purity//FA");
    assert!(array["version"].as_str().unwrap() >= "6.1.0");
    assert!(array["id"].is_string());

    // Logout ends the session; a new login works.
    let out = a
        .client
        .post(format!("{url}/api/2.56/logout"))
        .header("x-auth-token", &a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    assert_eq!(a.get("volumes").await.status, StatusCode::UNAUTHORIZED);
    a.login().await;
    a.get("volumes").await.expect_ok();
}

#[tokio::test]
async fn the_written_ca_verifies_the_server() {
    let sim = Simulator::in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(sim.clone(), "site-a", dir.path()).await.unwrap();
    let port = server.address.port();

    let verified = verified_client(&server.ca_file);
    for host in ["127.0.0.1", "localhost"] {
        let reply = verified
            .get(format!("https://{host}:{port}/api/api_version"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{host}: {e:?}"));
        assert_eq!(reply.status(), StatusCode::OK);
    }

    // Without the CA the certificate is not trusted.
    let untrusting = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    let refused = untrusting
        .get(format!("{}/api/api_version", server.url))
        .send()
        .await;
    assert!(refused.is_err());

    // A restart on the same directory keeps the certificate, so the CA still verifies it.
    drop(server);
    let again = serve(sim, "site-a", dir.path()).await.unwrap();
    let reply = verified
        .get(format!("{}/api/api_version", again.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
}

#[tokio::test]
async fn envelope_pagination_filter_and_sort() {
    let TwoArrays { a, _dir, .. } = two_arrays().await;
    for i in 0..3 {
        a.post(
            &format!("volumes?names=page-{i}"),
            json!({"provisioned": 1_073_741_824u64}),
        )
        .await
        .expect_ok();
    }
    let all = a.get("volumes").await.expect_ok();
    assert_eq!(all.body["more_items_remaining"], false);
    assert_eq!(all.body["continuation_token"], Value::Null);
    assert_eq!(all.body["total_item_count"], Value::Null);
    let everything = all.names();
    assert!(everything.len() >= 8, "{everything:?}");

    // Pages of 2 by continuation token, also in the x-next-token header.
    let mut seen = Vec::new();
    let mut path = "volumes?limit=2".to_string();
    loop {
        let page = a.get(&path).await.expect_ok();
        assert!(page.items().len() <= 2);
        seen.extend(page.names());
        match page.body["continuation_token"].as_str() {
            Some(token) => {
                assert_eq!(page.body["more_items_remaining"], true);
                assert_eq!(page.headers["x-next-token"], token);
                path = format!("volumes?limit=2&continuation_token={}", urlencode(token));
            }
            None => {
                assert_eq!(page.body["more_items_remaining"], false);
                break;
            }
        }
    }
    assert_eq!(seen, everything);

    // total_item_count on request; limit=0 only counts.
    let counted = a
        .get("volumes?limit=1&total_item_count=true")
        .await
        .expect_ok();
    assert_eq!(counted.body["total_item_count"], everything.len());
    let count_only = a.get("volumes?limit=0").await.expect_ok();
    assert!(count_only.items().is_empty());
    assert_eq!(count_only.body["total_item_count"], everything.len());

    // Sorted: no token, page with offset.
    let sorted = a.get("volumes?sort=name-&limit=2").await.expect_ok();
    assert_eq!(sorted.body["continuation_token"], Value::Null);
    assert_eq!(sorted.body["more_items_remaining"], true);
    let mut descending = everything.clone();
    descending.sort();
    descending.reverse();
    assert_eq!(sorted.names(), descending[..2]);
    let next = a
        .get("volumes?sort=name-&limit=2&offset=2")
        .await
        .expect_ok();
    assert_eq!(next.names(), descending[2..4]);

    // Filters: the forms Cinder sends.
    let in_pod = a
        .get(&format!(
            "volumes?filter={}",
            urlencode("pod.name='cinder-pod'")
        ))
        .await
        .expect_ok();
    assert!(!in_pod.items().is_empty());
    assert!(in_pod.names().iter().all(|n| n.starts_with("cinder-pod::")));
    let pages = a
        .get(&format!(
            "volumes?filter={}&sort=provisioned,name",
            urlencode("name='page-*' and provisioned>=1073741824")
        ))
        .await
        .expect_ok();
    assert_eq!(pages.names(), ["page-0", "page-1", "page-2"]);
    let bad = a
        .get(&format!("volumes?filter={}", urlencode("name='x")))
        .await;
    bad.expect_400("Invalid filter");

    // names= with a glob and a comma list.
    let listed = a.get("volumes?names=page-0,page-2").await.expect_ok();
    assert_eq!(listed.names(), ["page-0", "page-2"]);
    let globbed = a.get("volumes?names=page-*").await.expect_ok();
    assert_eq!(globbed.items().len(), 3);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn volumes_create_rename_destroy_eradicate() {
    let TwoArrays { sim, a, _dir, .. } = two_arrays().await;
    let created = a
        .post(
            "volumes?names=scratch",
            json!({"provisioned": 2_147_483_648u64}),
        )
        .await
        .expect_ok();
    let volume = &created.items()[0];
    assert_eq!(volume["name"], "scratch");
    assert_eq!(volume["provisioned"], 2_147_483_648u64);
    assert_eq!(volume["destroyed"], false);
    assert_eq!(volume["connection_count"], 0);
    assert_eq!(volume["subtype"], "regular");
    assert_eq!(volume["pod"], Value::Null);
    assert_eq!(volume["source"], Value::Null);
    assert!(volume["serial"].as_str().unwrap().len() == 24);
    let id = volume["id"].as_str().unwrap().to_string();

    // Default size 1 MB; bad sizes and names are 400.
    let small = a.post("volumes?names=tiny", json!({})).await.expect_ok();
    assert_eq!(small.items()[0]["provisioned"], 1_048_576);
    a.post("volumes?names=odd", json!({"provisioned": 1000}))
        .await
        .expect_400("multiple of 512");
    a.post("volumes?names=bad.name", json!({"provisioned": 1_048_576}))
        .await
        .expect_400("is invalid");
    a.post("volumes?names=scratch", json!({"provisioned": 1_048_576}))
        .await
        .expect_400("already exists");

    // Rename keeps the id.
    let renamed = a
        .patch("volumes?names=scratch", json!({"name": "scratch-2"}))
        .await
        .expect_ok();
    assert_eq!(renamed.items()[0]["name"], "scratch-2");
    assert_eq!(renamed.items()[0]["id"], id.as_str());
    a.get("volumes?names=scratch")
        .await
        .expect_400("does not exist");

    // Eradicate needs destroy first; destroy shows time_remaining.
    a.delete("volumes?names=scratch-2")
        .await
        .expect_400("not destroyed");
    let destroyed = a
        .patch("volumes?names=scratch-2", json!({"destroyed": true}))
        .await
        .expect_ok();
    assert_eq!(destroyed.items()[0]["destroyed"], true);
    assert!(destroyed.items()[0]["time_remaining"].as_i64().unwrap() > 0);
    a.patch("volumes?names=scratch-2", json!({"destroyed": true}))
        .await
        .expect_400("has been destroyed");
    // The name stays taken until eradicated.
    a.post("volumes?names=scratch-2", json!({"provisioned": 1_048_576}))
        .await
        .expect_400("has been destroyed");
    a.get("volumes?names=scratch-2&destroyed=false")
        .await
        .expect_400("has been destroyed");
    let pending = a.get("volumes?destroyed=true").await.expect_ok();
    assert_eq!(pending.names(), ["scratch-2"]);

    // Recover, destroy again, eradicate.
    let recovered = a
        .patch("volumes?names=scratch-2", json!({"destroyed": false}))
        .await
        .expect_ok();
    assert_eq!(recovered.items()[0]["time_remaining"], Value::Null);
    a.patch("volumes?names=scratch-2", json!({"destroyed": true}))
        .await
        .expect_ok();
    let eradicated = a.delete("volumes?names=scratch-2").await;
    assert_eq!(eradicated.status, StatusCode::OK);
    assert_eq!(eradicated.body, Value::Null);
    a.get("volumes?names=scratch-2")
        .await
        .expect_400("does not exist");
    a.delete("volumes?names=scratch-2")
        .await
        .expect_400("does not exist");

    // Resize: grow freely, shrink only with truncate.
    let grown = a
        .patch("volumes?names=tiny", json!({"provisioned": 4_194_304}))
        .await
        .expect_ok();
    assert_eq!(grown.items()[0]["provisioned"], 4_194_304);
    a.patch("volumes?names=tiny", json!({"provisioned": 1_048_576}))
        .await
        .expect_400("truncate");
    a.patch(
        "volumes?names=tiny&truncate=true",
        json!({"provisioned": 1_048_576}),
    )
    .await
    .expect_ok();

    // A volume connected to a host cannot be destroyed.
    let attached = root_volume(&sim, "web-server-1");
    a.patch(
        &format!("volumes?names={attached}"),
        json!({"destroyed": true}),
    )
    .await
    .expect_400("cannot be deleted due to existing connections");
}

#[tokio::test]
async fn error_shapes() {
    let TwoArrays { a, _dir, .. } = two_arrays().await;
    let missing = a.get("volumes?names=does-not-exist").await;
    missing.expect_400("does not exist");
    assert_eq!(missing.error().0, Some("does-not-exist"));
    assert_eq!(
        missing.headers["content-type"], "application/json",
        "errors are JSON"
    );

    // Several names: each failing one has its own entry.
    let several = a.get("volumes?names=nope-1,nope-2").await;
    several.expect_400("does not exist");

    a.post("volumes", json!({"provisioned": 1_048_576}))
        .await
        .expect_400("names");
    let not_json = a
        .client
        .post(format!("{}/api/{VERSION}/volumes?names=x", a.server.url))
        .header("x-auth-token", &a.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    a.post("volumes?names=x", json!({"provisioned": "big"}))
        .await
        .expect_400("provisioned");
    a.post("volumes?names=x", json!({"size": 1}))
        .await
        .expect_400("Unknown field size");
    a.get("volumes?limit=many").await.expect_400("limit");
    a.post("protection-groups?names=pg1", json!({}))
        .await
        .expect_ok();
    a.post("protection-groups?names=pg1", json!({}))
        .await
        .expect_400("already exists");
    a.post(
        "protection-groups/volumes?group_names=pg1&member_names=nope",
        json!({}),
    )
    .await
    .expect_400("does not exist");

    let unknown = a.get("hosts").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.error().1.contains("does not exist"));
    let wrong_method = a.send(Method::PUT, "volumes", None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn replication_snapshot_transfer_and_copy_on_the_peer() {
    let TwoArrays { sim, a, b, _dir } = two_arrays().await;
    let volume = root_volume(&sim, "web-server-1");

    // Cinder's protection-group setup, on both arrays.
    a.post("protection-groups?names=dr-group", json!({}))
        .await
        .expect_ok();
    a.patch(
        "protection-groups?names=dr-group",
        json!({"target_retention": {"all_for_sec": 14400, "days": 7, "per_day": 3}}),
    )
    .await
    .expect_ok();
    let scheduled = a
        .patch(
            "protection-groups?names=dr-group",
            json!({"replication_schedule": {"frequency": 3_600_000}}),
        )
        .await
        .expect_ok();
    let group = &scheduled.items()[0];
    assert_eq!(group["replication_schedule"]["frequency"], 3_600_000);
    assert_eq!(group["replication_schedule"]["enabled"], false);
    assert_eq!(group["target_retention"]["all_for_sec"], 14400);
    assert_eq!(group["is_local"], true);
    let targeted = a
        .post(
            "protection-groups/targets?group_names=dr-group&member_names=flasharray-b",
            json!({}),
        )
        .await
        .expect_ok();
    assert_eq!(targeted.items()[0]["allowed"], false);
    a.post(
        "protection-groups/targets?group_names=dr-group&member_names=flasharray-b",
        json!({}),
    )
    .await
    .expect_400("already includes");

    let replica = b
        .get("protection-groups?names=flasharray-a:dr-group")
        .await
        .expect_ok();
    assert_eq!(replica.items()[0]["is_local"], false);
    assert_eq!(replica.items()[0]["source"]["name"], "flasharray-a");
    let allowed = b
        .patch(
            "protection-groups/targets?group_names=flasharray-a:dr-group",
            json!({"allowed": true}),
        )
        .await
        .expect_ok();
    assert_eq!(allowed.items()[0]["allowed"], true);
    b.patch(
        "protection-groups/targets?group_names=flasharray-a:dr-group",
        json!({"allowed": true}),
    )
    .await
    .expect_400("already allowed on");
    let targets = a
        .get("protection-groups/targets?group_names=dr-group")
        .await
        .expect_ok();
    assert_eq!(targets.items()[0]["member"]["name"], "flasharray-b");
    assert_eq!(targets.items()[0]["allowed"], true);
    assert_eq!(targets.items()[0]["status"], "replicating");
    a.patch(
        "protection-groups?names=dr-group",
        json!({"replication_schedule": {"enabled": true}}),
    )
    .await
    .expect_ok();

    a.post(
        &format!("protection-groups/volumes?group_names=dr-group&member_names={volume}"),
        json!({}),
    )
    .await
    .expect_ok();
    let members = a
        .get(&format!("protection-groups/volumes?member_names={volume}"))
        .await
        .expect_ok();
    assert_eq!(members.items()[0]["group"]["name"], "dr-group");
    assert_eq!(members.items()[0]["member"]["name"], volume.as_str());

    // Snapshot and replicate now: on the peer as flasharray-a:dr-group.1, in flight.
    let snap = a
        .post(
            "protection-group-snapshots?source_names=dr-group&replicate_now=true&apply_retention=true",
            json!({}),
        )
        .await
        .expect_ok();
    let snap_name = snap.items()[0]["name"].as_str().unwrap().to_string();
    assert_eq!(snap_name, "dr-group.1");
    assert_eq!(snap.items()[0]["source"]["name"], "dr-group");
    assert_eq!(snap.items()[0]["suffix"], "1");
    let replica_name = format!("flasharray-a:{snap_name}");
    let replica_volume_snap = format!("{replica_name}.{volume}");

    // Cut the link: the transfer stays in flight whatever the calls below cost in ticks.
    sim.set_partition(true).unwrap();
    let in_flight = b
        .get("protection-group-snapshots/transfer?names=flasharray-a:dr-group")
        .await
        .expect_ok();
    let transfer = &in_flight.items()[0];
    assert_eq!(transfer["name"], replica_name.as_str());
    assert!(transfer["progress"].as_f64().unwrap() < 1.0);
    assert_eq!(transfer["completed"], Value::Null);
    assert!(transfer["started"].is_i64());
    // Cinder's query finds nothing complete yet, and a copy from it is refused.
    let cinder_query = format!(
        "protection-group-snapshots/transfer?names=flasharray-a:dr-group&destroyed=false&filter={}&sort=started-",
        urlencode("progress=\"1.0\"")
    );
    assert!(b.get(&cinder_query).await.expect_ok().items().is_empty());
    b.post(
        "volumes?names=recovered",
        json!({"source": {"name": replica_volume_snap}}),
    )
    .await
    .expect_400("still being replicated");

    // The transfer completes over ticks once the link is back.
    sim.set_partition(false).unwrap();
    sim.tick(3).unwrap();
    let done = b.get(&cinder_query).await.expect_ok();
    assert_eq!(done.names(), [replica_name.as_str()]);
    assert_eq!(done.items()[0]["progress"], 1.0);
    assert!(done.items()[0]["completed"].is_i64());
    assert!(done.items()[0]["data_transferred"].as_u64().unwrap() > 0);
    let source_side = a
        .get(&format!(
            "protection-group-snapshots/transfer?names={snap_name}"
        ))
        .await
        .expect_ok();
    assert_eq!(source_side.items()[0]["progress"], 1.0);

    // Snapshots by group name, glob and source_names.
    for query in [
        "protection-group-snapshots?names=flasharray-a:dr-group",
        "protection-group-snapshots?names=flasharray-a:dr-group.*",
        "protection-group-snapshots?source_names=flasharray-a:dr-group",
    ] {
        assert_eq!(
            b.get(query).await.expect_ok().names(),
            [replica_name.as_str()],
            "{query}"
        );
    }

    // Cinder's volume-snapshot listing, then the failover copy with overwrite.
    let member_snaps = b
        .get(&format!(
            "volume-snapshots?filter={}",
            urlencode(&format!("name='{replica_name}.*'"))
        ))
        .await
        .expect_ok();
    assert_eq!(member_snaps.names(), [replica_volume_snap.as_str()]);
    let member = &member_snaps.items()[0];
    assert_eq!(member["source"]["name"], format!("flasharray-a:{volume}"));
    assert_eq!(member["destroyed"], false);
    assert!(member["provisioned"].as_u64().unwrap() > 0);
    assert!(!member_snaps.body.to_string().contains("fingerprint"));

    let copy = b
        .post(
            "volumes?names=recovered&overwrite=true",
            json!({"source": {"name": replica_volume_snap}}),
        )
        .await
        .expect_ok();
    assert_eq!(copy.items()[0]["name"], "recovered");
    assert_eq!(
        copy.items()[0]["source"]["name"],
        format!("flasharray-a:{volume}")
    );
    b.post(
        "volumes?names=recovered",
        json!({"source": {"name": replica_volume_snap}}),
    )
    .await
    .expect_400("already exists");
    b.post(
        "volumes?names=recovered&overwrite=true",
        json!({"source": {"name": replica_volume_snap}}),
    )
    .await
    .expect_ok();

    // The copy holds what the snapshot captured.
    let inventory = sim.inspect();
    let captured = inventory.arrays["site-a"]
        .snapshots
        .iter()
        .find(|s| s.name == snap_name)
        .unwrap()
        .fingerprints[&volume];
    assert!(captured > 0);
    assert_eq!(
        sim.array_volume_fingerprint("site-b", "recovered"),
        Some(captured)
    );

    // Destroy and eradicate the snapshot on the source.
    a.delete(&format!("protection-group-snapshots?names={snap_name}"))
        .await
        .expect_400("not destroyed");
    let destroyed = a
        .patch(
            &format!("protection-group-snapshots?names={snap_name}"),
            json!({"destroyed": true}),
        )
        .await
        .expect_ok();
    assert_eq!(destroyed.items()[0]["destroyed"], true);
    assert_eq!(
        a.get("protection-group-snapshots?source_names=dr-group&destroyed=false")
            .await
            .expect_ok()
            .items()
            .len(),
        0
    );
    a.delete(&format!("protection-group-snapshots?names={snap_name}"))
        .await
        .expect_ok();
    a.get(&format!("protection-group-snapshots?names={snap_name}"))
        .await
        .expect_400("does not exist");

    // Members out, target off, group destroyed then eradicated.
    a.delete(&format!(
        "protection-groups/volumes?group_names=dr-group&member_names={volume}"
    ))
    .await
    .expect_ok();
    a.delete(&format!(
        "protection-groups/volumes?group_names=dr-group&member_names={volume}"
    ))
    .await
    .expect_400("could not be found");
    a.delete("protection-groups/targets?group_names=dr-group&member_names=flasharray-b")
        .await
        .expect_ok();
    a.patch(
        "protection-groups?names=dr-group",
        json!({"destroyed": true}),
    )
    .await
    .expect_ok();
    a.post("protection-groups?names=dr-group", json!({}))
        .await
        .expect_400("has been destroyed");
    a.delete("protection-groups?names=dr-group")
        .await
        .expect_ok();
    a.get("protection-groups?names=dr-group")
        .await
        .expect_400("does not exist");
}

#[tokio::test]
async fn pods_stretch_promote_and_demote() {
    let TwoArrays { sim, a, b, _dir } = two_arrays().await;
    let seeded = a.get("pods?names=cinder-pod").await.expect_ok();
    let pod = &seeded.items()[0];
    assert_eq!(pod["array_count"], 2);
    assert_eq!(pod["promotion_status"], "promoted");
    let statuses: Vec<&str> = pod["arrays"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["online", "online"]);

    // Demoted on A: no writes there (a new volume is refused), then promoted again.
    let demoted = a
        .patch(
            "pods?names=cinder-pod&quiesce=true",
            json!({"requested_promotion_state": "demoted"}),
        )
        .await
        .expect_ok();
    assert_eq!(demoted.items()[0]["promotion_status"], "demoted");
    assert_eq!(demoted.items()[0]["requested_promotion_state"], "demoted");
    a.post(
        "volumes?names=cinder-pod::new-volume",
        json!({"provisioned": 1_048_576}),
    )
    .await
    .expect_400("does not accept writes");
    assert_eq!(
        b.get("pods?names=cinder-pod").await.expect_ok().items()[0]["promotion_status"],
        "promoted"
    );
    a.patch(
        "pods?names=cinder-pod",
        json!({"requested_promotion_state": "promoted"}),
    )
    .await
    .expect_ok();
    let created = a
        .post(
            "volumes?names=cinder-pod::new-volume",
            json!({"provisioned": 1_048_576}),
        )
        .await
        .expect_ok();
    assert_eq!(created.items()[0]["pod"]["name"], "cinder-pod");
    // Stretched: the volume exists on B too.
    b.get("volumes?names=cinder-pod::new-volume")
        .await
        .expect_ok();
    a.patch(
        "pods?names=cinder-pod",
        json!({"requested_promotion_state": "sideways"}),
    )
    .await
    .expect_400("requested_promotion_state");

    // A new pod: create, stretch, resync, unstretch.
    a.post("pods?names=fresh-pod", json!({})).await.expect_ok();
    a.post("pods?names=fresh-pod", json!({}))
        .await
        .expect_400("already exists");
    b.get("pods?names=fresh-pod")
        .await
        .expect_400("does not exist");
    let stretched = a
        .post(
            "pods/arrays?group_names=fresh-pod&member_names=flasharray-b",
            json!({}),
        )
        .await
        .expect_ok();
    assert_eq!(stretched.items()[0]["member"]["name"], "flasharray-b");
    a.post(
        "pods/arrays?group_names=fresh-pod&member_names=flasharray-b",
        json!({}),
    )
    .await
    .expect_400("already exists");
    sim.tick(1).unwrap();
    let on_b = b.get("pods?names=fresh-pod").await.expect_ok();
    assert_eq!(on_b.items()[0]["array_count"], 2);
    let members = a.get("pods/arrays?group_names=fresh-pod").await.expect_ok();
    assert_eq!(members.items().len(), 2);
    assert_eq!(members.items()[0]["group"]["name"], "fresh-pod");
    // pods/members, the successor of pods/arrays, names the pod `pod`.
    let members = b.get("pods/members?pod_names=fresh-pod").await.expect_ok();
    let names: Vec<&str> = members
        .items()
        .iter()
        .map(|m| m["member"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["flasharray-a", "flasharray-b"]);
    assert_eq!(members.items()[0]["pod"]["name"], "fresh-pod");
    assert_eq!(members.items()[0]["member"]["resource_type"], "arrays");
    a.delete("pods/arrays?group_names=fresh-pod&member_names=flasharray-b")
        .await
        .expect_ok();
    b.get("pods?names=fresh-pod")
        .await
        .expect_400("does not exist");

    // Destroy needs an empty (or destroy_contents) pod; eradicate needs destroyed.
    a.delete("pods?names=fresh-pod")
        .await
        .expect_400("not destroyed");
    let destroyed = a
        .patch("pods?names=fresh-pod", json!({"destroyed": true}))
        .await
        .expect_ok();
    assert_eq!(destroyed.items()[0]["destroyed"], true);
    a.delete("pods?names=fresh-pod").await.expect_ok();
    a.get("pods?names=fresh-pod")
        .await
        .expect_400("does not exist");
}

#[tokio::test]
async fn injected_faults_on_the_wire() {
    let TwoArrays {
        sim,
        mut a,
        b,
        _dir,
    } = two_arrays().await;

    sim.set_error_rate(
        "site-a",
        Service::Array,
        1.0,
        InjectedError::TooManyRequests {
            retry_after_secs: 3,
        },
    )
    .unwrap();
    let limited = a.get("volumes").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers["retry-after"], "3");
    assert!(limited.body["message"].as_str().unwrap().contains("429"));
    assert!(limited.body["errors"][0]["message"].is_string());

    sim.set_error_rate(
        "site-a",
        Service::Array,
        1.0,
        InjectedError::ServiceUnavailable,
    )
    .unwrap();
    let unavailable = a.get("volumes").await;
    assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(unavailable.headers.contains_key("retry-after"));

    sim.set_error_rate(
        "site-a",
        Service::Array,
        1.0,
        InjectedError::InternalServerError,
    )
    .unwrap();
    let internal = a.get("volumes").await;
    assert_eq!(internal.status, StatusCode::INTERNAL_SERVER_ERROR);
    // The other array is unaffected.
    b.get("volumes").await.expect_ok();

    // A timeout applies the change and never answers in time.
    sim.set_error_rate("site-a", Service::Array, 1.0, InjectedError::Timeout)
        .unwrap();
    let timed_out = a
        .client
        .post(format!(
            "{}/api/{VERSION}/volumes?names=in-doubt",
            a.server.url
        ))
        .header("x-auth-token", &a.token)
        .json(&json!({"provisioned": 1_048_576}))
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(timed_out.unwrap_err().is_timeout());
    sim.set_error_rate("site-a", Service::Array, 0.0, InjectedError::Timeout)
        .unwrap();
    a.get("volumes?names=in-doubt").await.expect_ok();

    // A targeted failure of the trait operation name fails the REST call too.
    sim.fail_next(
        "site-a",
        Service::Array,
        "copy_volume",
        protector_core::ErrorKind::Conflict,
        "Volume copy refused (simulated).",
        1,
    )
    .unwrap();
    let source = root_volume(&sim, "web-server-2");
    a.post("volumes?names=copy-1", json!({"source": {"name": source}}))
        .await
        .expect_400("refused (simulated)");
    a.post("volumes?names=copy-1", json!({"source": {"name": source}}))
        .await
        .expect_ok();

    // Powered off: connections are refused; after power on the old session is gone.
    sim.set_array_down("site-a", true).unwrap();
    let fresh = verified_client(&a.server.ca_file);
    let refused = fresh
        .get(format!("{}/api/api_version", a.server.url))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
    sim.set_array_down("site-a", false).unwrap();
    let expired = a.get("volumes").await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    a.login().await;
    a.get("volumes").await.expect_ok();
    // Sessions of the other array live on.
    b.get("volumes").await.expect_ok();
}

/// The sum of `length` over every item of every page of `path` (a `volumes/diff` query),
/// following continuation tokens; and the number of items.
async fn diff_total(array: &Array, path: &str) -> (u64, usize) {
    let mut total = 0;
    let mut count = 0;
    let mut next = path.to_string();
    loop {
        let page = array.get(&next).await.expect_ok();
        for item in page.items() {
            let offset = item["offset"].as_u64().unwrap();
            let length = item["length"].as_u64().unwrap();
            assert_eq!(offset % (4 << 20), 0, "{item}");
            assert!(length > 0, "{item}");
            assert_eq!(item["context"]["name"], "flasharray-a");
            total += length;
            count += 1;
        }
        match page.body["continuation_token"].as_str() {
            Some(token) => next = format!("{path}&continuation_token={}", urlencode(token)),
            None => return (total, count),
        }
    }
}

#[tokio::test]
async fn volume_diff_reports_what_changed_since_a_snapshot() {
    let TwoArrays { sim, a, _dir, .. } = two_arrays().await;
    let volume = root_volume(&sim, "web-server-1");
    let size = a
        .get(&format!("volumes?names={volume}"))
        .await
        .expect_ok()
        .items()[0]["provisioned"]
        .as_u64()
        .unwrap();
    a.post("protection-groups?names=pg", json!({}))
        .await
        .expect_ok();
    a.post(
        &format!("protection-groups/volumes?group_names=pg&member_names={volume}"),
        json!({}),
    )
    .await
    .expect_ok();
    a.post("protection-group-snapshots?source_names=pg", json!({}))
        .await
        .expect_ok();
    // The server keeps writing: one block a tick.
    sim.tick(10).unwrap();
    a.post("protection-group-snapshots?source_names=pg", json!({}))
        .await
        .expect_ok();
    let (first, second) = (format!("pg.1.{volume}"), format!("pg.2.{volume}"));
    // An unattached copy of the first snapshot takes no writes.
    a.post("volumes?names=copy", json!({"source": {"name": first}}))
        .await
        .expect_ok();

    let query = |names: &str, base: &str| {
        format!(
            "volumes/diff?names={names}&base_name={base}&block_size=1048576&segment_length={size}"
        )
    };
    let (changed, extents) = diff_total(&a, &query(&second, &first)).await;
    assert!(
        changed >= 10 * (4 << 20) && changed % (4 << 20) == 0,
        "ten ticks of writes, got {changed}"
    );
    assert!(extents >= 2, "{extents} extents");
    // Paged one extent at a time, the total is the same.
    let (paged, pages) = diff_total(&a, &format!("{}&limit=1", query(&second, &first))).await;
    assert_eq!((paged, pages), (changed, extents));
    // The copy holds the first snapshot: nothing differs from it, and from the second exactly
    // what the volume wrote in between.
    assert_eq!(diff_total(&a, &query("copy", &first)).await, (0, 0));
    assert_eq!(diff_total(&a, &query("copy", &second)).await.0, changed);
    // Segments: the two halves add up to the whole.
    let half = size / 2;
    let (low, _) = diff_total(
        &a,
        &format!(
            "volumes/diff?names=copy&base_name={second}&block_size=1048576&segment_length={half}"
        ),
    )
    .await;
    let (high, _) = diff_total(
        &a,
        &format!("volumes/diff?names=copy&base_name={second}&block_size=1048576&segment_offset={half}&segment_length={half}"),
    )
    .await;
    assert_eq!(low + high, changed);
    // The base by id.
    let id = a
        .get(&format!("volume-snapshots?names={first}"))
        .await
        .expect_ok()
        .items()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        diff_total(
            &a,
            &format!(
                "volumes/diff?names=copy&base_id={id}&block_size=1048576&segment_length={size}"
            )
        )
        .await,
        (0, 0)
    );

    // Errors, in Purity's envelope.
    a.get(&query("no-such-volume", &first))
        .await
        .expect_400("no-such-volume does not exist");
    a.get(&query(&volume, "pg.9.nothing"))
        .await
        .expect_400("pg.9.nothing does not exist");
    a.get(&format!(
        "volumes/diff?names={volume}&base_name={first}&segment_length=512"
    ))
    .await
    .expect_400("Missing required query parameter block_size");
    a.get(&format!(
        "volumes/diff?names={volume}&base_name={first}&block_size=512"
    ))
    .await
    .expect_400("Missing required query parameter segment_length");
    a.get(&format!(
        "volumes/diff?base_name={first}&block_size=512&segment_length=512"
    ))
    .await
    .expect_400("Missing required query parameter names");
    a.get(&format!(
        "volumes/diff?names={volume}&block_size=512&segment_length=512"
    ))
    .await
    .expect_400("base_name");
    a.get(&format!(
        "volumes/diff?names={volume}&base_name={first}&block_size=1000&segment_length=512"
    ))
    .await
    .expect_400("multiple of 512");
    a.get(&format!("volumes/diff?names={volume}&base_name={first}&block_size=1048576&segment_offset=512&segment_length=512"))
        .await
        .expect_400("segment_offset");
    // Before REST 2.9 the endpoint does not exist.
    let old = a
        .client
        .get(format!(
            "{}/api/2.8/{}",
            a.server.url,
            query(&volume, &first)
        ))
        .header("x-auth-token", &a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::NOT_FOUND);
}

/// `(name, created in ms)` of the live pg snapshots of `group` on one array.
async fn snapshots_of(array: &Array, group: &str) -> Vec<(String, i64)> {
    array
        .get(&format!(
            "protection-group-snapshots?source_names={group}&destroyed=false"
        ))
        .await
        .expect_ok()
        .items()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["created"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Checks retained snapshots against a policy at `now_ms`: every one within `all_for_sec` is
/// there, none is older than `all_for_sec + days`, and past `all_for_sec` at most one is kept
/// per period of `86400 / per_day` seconds (UTC). The array applies retention once a minute,
/// so a snapshot less than a minute past either limit may still wait for it. Returns how many
/// are past `all_for_sec` and that minute.
#[track_caller]
fn assert_retained(
    snaps: &[(String, i64)],
    taken_ms: &[i64],
    now_ms: i64,
    (all_for_sec, per_day, days): (i64, i64, i64),
) -> usize {
    let age = |created: i64| (now_ms - created) / 1000;
    for t in taken_ms.iter().filter(|t| age(**t) <= all_for_sec) {
        assert!(
            snaps.iter().any(|(_, c)| c == t),
            "the snapshot taken at {t} is younger than {all_for_sec} s and gone: {snaps:?}"
        );
    }
    const SWEEP_SECS: i64 = 60;
    let mut periods = std::collections::BTreeSet::new();
    let mut older = 0;
    for (name, created) in snaps.iter().filter(|(_, c)| age(*c) > all_for_sec) {
        assert!(
            age(*created) <= all_for_sec + days * 86_400 + SWEEP_SECS,
            "{name} outlived its retention"
        );
        if age(*created) <= all_for_sec + SWEEP_SECS {
            continue;
        }
        older += 1;
        let period = created.div_euclid(86_400_000 / per_day);
        assert!(
            periods.insert(period),
            "two snapshots kept in the period of {name}"
        );
    }
    older
}

#[tokio::test]
async fn retention_is_time_based_per_group_and_shown() {
    let TwoArrays { sim, a, b, _dir } = two_arrays().await;
    let volume = root_volume(&sim, "web-server-1");
    a.post("protection-groups?names=ret", json!({}))
        .await
        .expect_ok();
    a.post(
        &format!("protection-groups/volumes?group_names=ret&member_names={volume}"),
        json!({}),
    )
    .await
    .expect_ok();
    a.post(
        "protection-groups/targets?group_names=ret&member_names=flasharray-b",
        json!({}),
    )
    .await
    .expect_ok();
    b.patch(
        "protection-groups/targets?group_names=flasharray-a:ret",
        json!({"allowed": true}),
    )
    .await
    .expect_ok();
    // Purity's default on both sides, shown by the group and by its replica.
    for (array, group) in [(&a, "ret"), (&b, "flasharray-a:ret")] {
        let shown = array
            .get(&format!("protection-groups?names={group}"))
            .await
            .expect_ok();
        for side in ["source_retention", "target_retention"] {
            assert_eq!(
                shown.items()[0][side],
                json!({"all_for_sec": 86_400, "per_day": 4, "days": 7}),
                "{group} {side}"
            );
        }
    }

    // A retained snapshot and one taken without retention, then a schedule every minute: under
    // the default (everything for a day) a hundred firings prune nothing.
    for query in ["apply_retention=true", "apply_retention=false"] {
        let suffix = if query.ends_with("true") {
            "kept"
        } else {
            "manual"
        };
        a.post(
            &format!("protection-group-snapshots?source_names=ret&replicate_now=true&{query}"),
            json!({ "suffix": suffix }),
        )
        .await
        .expect_ok();
    }
    a.patch(
        "protection-groups?names=ret",
        json!({"replication_schedule": {"enabled": true, "frequency": 60_000}}),
    )
    .await
    .expect_ok();
    sim.tick(100 * 60).unwrap();
    let source = snapshots_of(&a, "ret").await;
    let target = snapshots_of(&b, "flasharray-a:ret").await;
    assert_eq!(source.len(), 102, "{source:?}");
    assert_eq!(target.len(), 102, "{target:?}");
    assert!(source.iter().any(|(n, _)| n == "ret.kept"));
    assert!(target.iter().any(|(n, _)| n == "flasharray-a:ret.kept"));

    // Shorter policies, hourly firings, 30 hours: the minute snapshots age out, the hourly
    // ones are thinned to `per_day` a day past `all_for_sec`, each side by its own policy.
    let source_policy = (3600, 2, 1);
    let target_policy = (600, 4, 1);
    let patched = a
        .patch(
            "protection-groups?names=ret",
            json!({
                "source_retention": {"all_for_sec": 3600, "per_day": 2, "days": 1},
                "target_retention": {"all_for_sec": 600, "per_day": 4, "days": 1},
                "replication_schedule": {"frequency": 3_600_000},
            }),
        )
        .await
        .expect_ok();
    assert_eq!(
        patched.items()[0]["source_retention"],
        json!({"all_for_sec": 3600, "per_day": 2, "days": 1})
    );
    let replica = b
        .get("protection-groups?names=flasharray-a:ret")
        .await
        .expect_ok();
    assert_eq!(
        replica.items()[0]["target_retention"],
        json!({"all_for_sec": 600, "per_day": 4, "days": 1})
    );
    let mut taken: Vec<i64> = Vec::new();
    for _ in 0..30 {
        sim.tick(3600).unwrap();
        let newest = snapshots_of(&a, "ret").await.last().unwrap().1;
        taken.push(newest);
    }
    let now_ms = sim.now().timestamp_millis();
    let source = snapshots_of(&a, "ret").await;
    let target = snapshots_of(&b, "flasharray-a:ret").await;
    let retained = |snaps: &[(String, i64)], manual: &str| -> Vec<(String, i64)> {
        snaps.iter().filter(|(n, _)| n != manual).cloned().collect()
    };
    let source_older = assert_retained(
        &retained(&source, "ret.manual"),
        &taken,
        now_ms,
        source_policy,
    );
    let target_older = assert_retained(
        &retained(&target, "flasharray-a:ret.manual"),
        &taken,
        now_ms,
        target_policy,
    );
    // Thinned to at most one per period, not emptied: a day past `all_for_sec` spans at most
    // three 12-hour periods on the source and five 6-hour periods on the target (the oldest
    // partly beyond the horizon).
    assert!((1..=3).contains(&source_older), "{source:?}");
    assert!((3..=5).contains(&target_older), "{target:?}");
    // The snapshot without retention stays on both sides; the retained one is gone.
    assert!(source.iter().any(|(n, _)| n == "ret.manual"));
    assert!(target.iter().any(|(n, _)| n == "flasharray-a:ret.manual"));
    assert!(!source.iter().any(|(n, _)| n == "ret.kept"));
    assert!(!target.iter().any(|(n, _)| n == "flasharray-a:ret.kept"));
}

/// `GET protection-group-snapshots?source_names=` with named groups lists exactly their
/// snapshots, oldest first, not those of a group whose name starts the same, as a pattern
/// selecting the same groups does; an unknown name is refused.
#[tokio::test]
async fn snapshots_of_named_groups_are_theirs_alone() {
    let TwoArrays { a, _dir, .. } = two_arrays().await;
    for group in ["pg", "pg-2", "pgx"] {
        a.post(&format!("protection-groups?names={group}"), json!({}))
            .await
            .expect_ok();
    }
    for group in ["pg", "pg-2", "pg", "pgx", "pg-2", "pg"] {
        a.post(
            &format!("protection-group-snapshots?source_names={group}"),
            json!({}),
        )
        .await
        .expect_ok();
    }
    let names = |path: &str| {
        let a = &a;
        let path = path.to_string();
        async move {
            a.get(&path)
                .await
                .expect_ok()
                .items()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names("protection-group-snapshots?source_names=pg").await,
        ["pg.1", "pg.2", "pg.3"]
    );
    assert_eq!(
        names("protection-group-snapshots?source_names=pg-2,pg").await,
        ["pg.1", "pg-2.1", "pg.2", "pg-2.2", "pg.3"]
    );
    assert_eq!(
        names("protection-group-snapshots?source_names=pg,pg").await,
        ["pg.1", "pg.2", "pg.3"]
    );
    assert_eq!(
        names("protection-group-snapshots?source_names=pg-*").await,
        ["pg-2.1", "pg-2.2"]
    );
    assert_eq!(
        names("protection-group-snapshots/transfer?source_names=pgx").await,
        ["pgx.1"]
    );
    a.get("protection-group-snapshots?source_names=pg,nope")
        .await
        .expect_400("does not exist");
    // Names without sources: a snapshot by its name, a group's snapshots by the group's name,
    // oldest first, as a pattern selecting the same ones does.
    assert_eq!(
        names("protection-group-snapshots?names=pg.3,pg-2.1").await,
        ["pg-2.1", "pg.3"]
    );
    assert_eq!(
        names("protection-group-snapshots?names=pg-2,pgx.1").await,
        ["pg-2.1", "pgx.1", "pg-2.2"]
    );
    assert_eq!(
        names("protection-group-snapshots?names=pg").await,
        ["pg.1", "pg.2", "pg.3"]
    );
    assert_eq!(
        names("protection-group-snapshots?names=pg.*").await,
        ["pg.1", "pg.2", "pg.3"]
    );
    assert_eq!(
        names("protection-group-snapshots/transfer?names=pg-2.2").await,
        ["pg-2.2"]
    );
    for missing in ["pg.9", "pg-2.3", "pg-2.2,pgx.2", "nope"] {
        a.get(&format!("protection-group-snapshots?names={missing}"))
            .await
            .expect_400("does not exist");
    }
}
