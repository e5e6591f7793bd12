//! The port batcher (batch.rs), with a fake Neutron that records its requests, on a
//! single-threaded runtime (every create spawned first has queued before the batch is sent).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::Semaphore;

use super::batch::MAX_BATCH;
use super::decorators::LimitedNetwork;
use super::{ApiService, CallLimits, Limiter, PortBatcher};
use crate::api::{CreatePort, ListPorts, Network, NetworkApi, Port, SecurityGroup};
use crate::error::{Error, ErrorKind, Result};

/// A Neutron whose bulk creates are atomic: one bad request refuses the whole.
#[derive(Debug, Default)]
struct FakeNeutron {
    /// The size of each bulk request.
    bulks: Mutex<Vec<usize>>,
    singles: AtomicUsize,
    /// A port of this name is refused (its IP in use).
    bad: Option<String>,
    /// Every bulk request is answered with an error of this kind.
    bulk_error: Option<ErrorKind>,
    /// Bulk requests wait for a permit.
    held: Option<Semaphore>,
}

impl FakeNeutron {
    fn make(&self, request: &CreatePort) -> Result<Port> {
        if self.bad.as_deref() == Some(request.name.as_str()) {
            return Err(Error::conflict(format!(
                "IP address of {} already allocated",
                request.name
            )));
        }
        Ok(Port {
            id: format!("id-{}", request.name),
            name: request.name.clone(),
            network_id: request.network_id.clone(),
            device_id: String::new(),
            mac_address: String::new(),
            fixed_ips: Vec::new(),
            security_group_ids: Vec::new(),
            project_id: "p".into(),
            description: request.description.clone(),
        })
    }
}

#[async_trait]
impl NetworkApi for FakeNeutron {
    async fn find_network(&self, _id_or_name: &str) -> Result<Option<Network>> {
        Err(Error::unexpected("not used"))
    }
    async fn list_networks(&self) -> Result<Vec<Network>> {
        Err(Error::unexpected("not used"))
    }
    async fn list_ports(&self, _filter: &ListPorts) -> Result<Vec<Port>> {
        Err(Error::unexpected("not used"))
    }
    async fn get_port(&self, _id: &str) -> Result<Option<Port>> {
        Err(Error::unexpected("not used"))
    }
    async fn create_port(&self, request: &CreatePort) -> Result<Port> {
        self.singles.fetch_add(1, Ordering::SeqCst);
        self.make(request)
    }
    async fn create_ports(&self, requests: &[CreatePort]) -> Result<Vec<Result<Port>>> {
        self.bulks.lock().unwrap().push(requests.len());
        if let Some(held) = &self.held {
            held.acquire().await.expect("open").forget();
        }
        if let Some(kind) = self.bulk_error {
            return Err(Error::new(kind, "Neutron answered 503"));
        }
        let made: Result<Vec<Port>> = requests.iter().map(|r| self.make(r)).collect();
        Ok(made?.into_iter().map(Ok).collect())
    }
    async fn delete_port(&self, _id: &str) -> Result<()> {
        Err(Error::unexpected("not used"))
    }
    async fn find_security_group(&self, _id_or_name: &str) -> Result<Option<SecurityGroup>> {
        Err(Error::unexpected("not used"))
    }
    async fn list_security_groups(&self) -> Result<Vec<SecurityGroup>> {
        Err(Error::unexpected("not used"))
    }
}

/// A limited Neutron over `fake`.
fn limited(fake: &Arc<FakeNeutron>) -> Arc<dyn NetworkApi> {
    let limiter = Limiter::new(CallLimits::default());
    let gate = limiter.gate("site-b", ApiService::Network);
    let inner: Arc<dyn NetworkApi> = fake.clone();
    Arc::new(LimitedNetwork {
        ports: Arc::new(PortBatcher::new(inner.clone(), gate.clone())),
        inner,
        gate,
    })
}

/// A task creating port `i` through `network`.
fn create(network: &Arc<dyn NetworkApi>, i: usize) -> tokio::task::JoinHandle<Result<Port>> {
    let network = network.clone();
    tokio::spawn(async move {
        network
            .create_port(&CreatePort {
                network_id: "n1".into(),
                name: format!("vm-{i}-port-0"),
                fixed_ips: Vec::new(),
                security_group_ids: Vec::new(),
                description: format!("protector:op:create_port:vm-{i}:0"),
            })
            .await
    })
}

/// `n` creates at once through a limited Neutron over `fake`; their answers in order.
async fn create_at_once(fake: &Arc<FakeNeutron>, n: usize) -> Vec<Result<Port>> {
    let network = limited(fake);
    let calls: Vec<_> = (0..n).map(|i| create(&network, i)).collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.expect("joined"));
    }
    answers
}

#[tokio::test(flavor = "current_thread")]
async fn the_creates_of_one_moment_go_in_one_request_each_answered_with_its_port() {
    let fake = Arc::new(FakeNeutron::default());
    let answers = create_at_once(&fake, 20).await;
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer.expect("made").name, format!("vm-{i}-port-0"));
    }
    assert_eq!(*fake.bulks.lock().unwrap(), [20]);
    assert_eq!(fake.singles.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_request_holds_at_most_a_batch() {
    let fake = Arc::new(FakeNeutron::default());
    let n = MAX_BATCH * 2 + 50;
    let answers = create_at_once(&fake, n).await;
    assert!(answers.iter().all(Result::is_ok));
    let bulks = fake.bulks.lock().unwrap().clone();
    assert!(bulks.iter().all(|&b| b <= MAX_BATCH), "{bulks:?}");
    assert_eq!(bulks.iter().sum::<usize>(), n);
    assert_eq!(bulks.len(), 3, "{bulks:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_request_is_sent_again_one_by_one_so_only_the_faulty_create_fails() {
    let fake = Arc::new(FakeNeutron {
        bad: Some("vm-3-port-0".into()),
        ..FakeNeutron::default()
    });
    let answers = create_at_once(&fake, 5).await;
    for (i, answer) in answers.into_iter().enumerate() {
        if i == 3 {
            let e = answer.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Conflict);
            assert!(e.message().contains("vm-3-port-0"), "{e}");
        } else {
            assert_eq!(answer.expect("made").name, format!("vm-{i}-port-0"));
        }
    }
    assert_eq!(*fake.bulks.lock().unwrap(), [5]);
    assert_eq!(fake.singles.load(Ordering::SeqCst), 5);
}

#[tokio::test(flavor = "current_thread")]
async fn an_unanswered_request_fails_every_create_of_it_without_sending_them_again() {
    // Whether Neutron made the ports is unknown: sending them again could make them twice.
    let fake = Arc::new(FakeNeutron {
        bulk_error: Some(ErrorKind::Unavailable),
        ..FakeNeutron::default()
    });
    let answers = create_at_once(&fake, 4).await;
    for answer in answers {
        assert_eq!(answer.unwrap_err().kind(), ErrorKind::Unavailable);
    }
    assert_eq!(fake.singles.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_sender_cut_off_fails_its_batch_and_the_next_create_is_sent_by_its_caller() {
    let fake = Arc::new(FakeNeutron {
        held: Some(Semaphore::new(0)),
        ..FakeNeutron::default()
    });
    let network = limited(&fake);
    let (sender, carried) = (create(&network, 0), create(&network, 1));
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        *fake.bulks.lock().unwrap(),
        [2],
        "both in one request, held"
    );
    // The caller sending it is gone (its operation's future dropped).
    sender.abort();
    assert!(sender.await.unwrap_err().is_cancelled());
    let e = carried.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(
        e.message()
            .contains("whether Neutron made the port is unknown"),
        "{e}"
    );
    // The turn passed: a later create is sent by its own caller.
    let later = create(&network, 2).await.unwrap().expect("made");
    assert_eq!(later.name, "vm-2-port-0");
    assert_eq!(fake.singles.load(Ordering::SeqCst), 1);
}
