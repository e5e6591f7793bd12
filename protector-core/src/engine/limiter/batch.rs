//! The ports created at one moment go to Neutron in one request.
//!
//! A failover (a failback, a drill) creates every member's ports as soon as its chain starts,
//! off the storage path: tens to thousands of `POST /v2.0/ports` within milliseconds. Neutron
//! takes a list in one request (bulk create, atomic: all or none), so [`PortBatcher`] gathers
//! the creates that arrive while none is being sent, or while one is, and sends them as one.
//! No task of its own sends them: the callers waiting do, one at a time, so that a run that
//! ends (its process killed, its future dropped) leaves nothing sending on its behalf.
//! Each caller still journals its own intent before its create and its own outcome after (the
//! batcher only carries the call), so a resumed run adopts what an interrupted one made as
//! before. One request refused as a whole (a 4xx: nothing was made) is sent again request by
//! request, so that only a faulty request fails, with its own answer (its fixed IP in use, its
//! network gone). A transport error or a 5xx reaches every caller of the batch, as it would have
//! reached each single create: whether Neutron made the ports is unknown, and the rollback
//! looks for them by their descriptions.

use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::join_all;
use tokio::sync::{oneshot, Notify};

use super::Gate;
use crate::api::{CreatePort, NetworkApi, Port};
use crate::error::{Error, ErrorKind, Result};

/// At most this many ports in one request. Neutron's API refuses a body over 112 KiB by default
/// (oslo.middleware's `max_request_body_size`); a port's request is a few hundred bytes.
pub(super) const MAX_BATCH: usize = 100;
/// Batches sent at once while more than a full one waits (one otherwise: the creates arriving
/// while it is sent go in the next).
const MAX_SENDING: usize = 4;

type Reply = oneshot::Sender<Result<Port>>;

/// Gathers a network client's port creates into bulk requests (see the module).
#[derive(Debug)]
pub(super) struct PortBatcher {
    inner: Arc<dyn NetworkApi>,
    gate: Arc<Gate>,
    state: Mutex<Waiting>,
    /// Told when a caller stops sending: another waiting one takes over.
    sent: Notify,
}

#[derive(Debug, Default)]
struct Waiting {
    creates: Vec<(CreatePort, Reply)>,
    /// Callers sending a batch now.
    sending: usize,
}

impl PortBatcher {
    pub(super) fn new(inner: Arc<dyn NetworkApi>, gate: Arc<Gate>) -> PortBatcher {
        PortBatcher {
            inner,
            gate,
            state: Mutex::new(Waiting::default()),
            sent: Notify::new(),
        }
    }

    /// Creates one port, in a bulk request with the creates of the same moment.
    pub(super) async fn create(&self, request: &CreatePort) -> Result<Port> {
        let (reply, answer) = oneshot::channel();
        self.waiting().creates.push((request.clone(), reply));
        let mut answer = pin!(answer);
        loop {
            // Listening before looking: a sender ending after the look still wakes this one.
            let mut sent = pin!(self.sent.notified());
            sent.as_mut().enable();
            if self.take_turn() {
                Turn { batcher: self }.send().await;
            }
            tokio::select! {
                biased;
                answer = &mut answer => {
                    return answer.unwrap_or_else(|_| {
                        Err(Error::unavailable(format!(
                            "creating port '{}': the request carrying it was cut off; whether Neutron made the port is unknown",
                            request.name
                        )))
                    });
                }
                () = sent => {}
            }
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this caller sends the next batch: creates wait and nobody sends one, or more
    /// than a full batch waits and fewer than [`MAX_SENDING`] are sent.
    fn take_turn(&self) -> bool {
        let mut waiting = self.waiting();
        let queued = waiting.creates.len();
        let turn = queued > 0
            && (waiting.sending == 0 || (queued >= MAX_BATCH && waiting.sending < MAX_SENDING));
        waiting.sending += usize::from(turn);
        turn
    }

    /// Sends one batch and answers each of its callers.
    async fn send(&self, batch: Vec<(CreatePort, Reply)>) {
        let (requests, replies): (Vec<CreatePort>, Vec<Reply>) = batch.into_iter().unzip();
        let answers = if let [request] = requests.as_slice() {
            vec![self.one(request).await]
        } else {
            let outcome = {
                let _permit = self.gate.enter().await;
                self.inner.create_ports(&requests).await
            };
            match outcome {
                Ok(answers) if answers.len() == requests.len() => answers,
                Ok(answers) => {
                    let e = Error::unexpected(format!(
                        "Neutron answered {} ports to a request for {}",
                        answers.len(),
                        requests.len()
                    ));
                    requests.iter().map(|_| Err(e.shared_copy())).collect()
                }
                Err(e) if refused_whole(&e) => join_all(requests.iter().map(|r| self.one(r))).await,
                Err(e) => requests.iter().map(|_| Err(e.shared_copy())).collect(),
            }
        };
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A caller gone (cancelled) no longer wants its answer.
            let _ = reply.send(answer);
        }
    }

    async fn one(&self, request: &CreatePort) -> Result<Port> {
        let _permit = self.gate.enter().await;
        self.inner.create_port(request).await
    }
}

/// Whether a bulk create's error means Neutron refused it as a whole and made nothing (a 4xx
/// answer), so that its requests may be sent again one by one.
fn refused_whole(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::NotFound
            | ErrorKind::AlreadyExists
            | ErrorKind::Conflict
            | ErrorKind::PermissionDenied
            | ErrorKind::InvalidInput
            | ErrorKind::ValidationFailed
            | ErrorKind::Unsupported
    )
}

/// A caller's turn at sending one batch (then the turn passes: a caller whose port is made
/// goes on with its chain). Cut off (its future dropped), the batch it carried is answered with
/// an error (its callers learn it was cut off) and the turn passes as well.
struct Turn<'b> {
    batcher: &'b PortBatcher,
}

impl Turn<'_> {
    async fn send(self) {
        // The creates of this moment join the batch.
        tokio::task::yield_now().await;
        let batch: Vec<(CreatePort, Reply)> = {
            let mut waiting = self.batcher.waiting();
            // The creates of callers gone are not sent.
            waiting.creates.retain(|(_, reply)| !reply.is_closed());
            let n = waiting.creates.len().min(MAX_BATCH);
            waiting.creates.drain(..n).collect()
        };
        if !batch.is_empty() {
            self.batcher.send(batch).await;
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.batcher.waiting().sending -= 1;
        self.batcher.sent.notify_waiters();
    }
}
