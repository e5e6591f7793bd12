//! The `protector-api` binary: serves from protector.conf and stops on SIGTERM, finishing
//! cleanly, without a password in its output.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "conf-pa55-never-logged";

#[tokio::test]
async fn the_binary_serves_its_conf_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let conf = dir.path().join("protector.conf");
    std::fs::write(
        &conf,
        format!(
            "[DEFAULT]\nsite_name = site-a\nstate_path = {state}\n\
             [api]\nbind_host = 127.0.0.1\nbind_port = {port}\nworkers = 2\n\
             [database]\nconnection = sqlite:///{state}/protector.db\n\
             [keystone_authtoken]\nauth_url = http://127.0.0.1:9/identity/v3\n\
             username = protector\npassword = {PASSWORD}\n",
            state = dir.path().display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_protector-api"))
        .arg("--config-file")
        .arg(&conf)
        .env_remove("PROTECTOR_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Waits for the listener (a readiness condition, polled), then asks.
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        match reqwest::get(&url).await {
            Ok(response) => break response.text().await.unwrap(),
            Err(_) if Instant::now() < deadline => {
                assert!(child.try_wait().unwrap().is_none(), "protector-api exited");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("protector-api never answered: {e}"),
        }
    };
    assert!(body.contains("\"v1.0\""), "{body}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("protector-api serving"), "{stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(stderr.contains("protector-api stopped"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}
