//! What an operation's admission prepared for its run in the same process (a drill's plan:
//! its reads and its snapshot), by operation id, so that a run that starts at once does not
//! read it all again. Taken once, and only while recent: a run that starts later, or in
//! another process, prepares again.

use std::any::Any;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::runner::lock;

/// How long what an admission prepared stands for its run: the run of an operation submitted
/// with `--wait` starts at once; one that waited longer prepares again (a newer replicated
/// snapshot may have arrived).
pub(crate) const VALID_FOR: Duration = Duration::from_secs(30);

/// One preparation: the operation, when it was kept, what it is.
type Held = (Uuid, Instant, Box<dyn Any + Send>);

/// The preparations held, oldest first.
#[derive(Default)]
pub(crate) struct Admitted(Mutex<Vec<Held>>);

impl fmt::Debug for Admitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = lock(&self.0).len();
        f.debug_struct("Admitted").field("held", &held).finish()
    }
}

impl Admitted {
    /// Keeps `prepared` for the run of operation `id`; what is past its time is dropped.
    pub(crate) fn keep<T: Any + Send>(&self, id: Uuid, prepared: T) {
        let now = Instant::now();
        let mut held = lock(&self.0);
        held.retain(|(_, at, _)| now.duration_since(*at) < VALID_FOR);
        held.push((id, now, Box::new(prepared)));
    }

    /// What was kept for operation `id`, if it is recent and of type `T`; taken out either way.
    pub(crate) fn take<T: Any>(&self, id: Uuid) -> Option<T> {
        let (_, at, prepared) = {
            let mut held = lock(&self.0);
            let index = held.iter().position(|(held_id, _, _)| *held_id == id)?;
            held.swap_remove(index)
        };
        if at.elapsed() >= VALID_FOR {
            return None;
        }
        prepared.downcast::<T>().ok().map(|b| *b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn taken_once_while_recent_and_of_its_type() {
        let admitted = Admitted::default();
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        admitted.keep(a, String::from("plan a"));
        admitted.keep(b, 7u32);
        admitted.keep(c, String::from("plan c"));
        assert_eq!(admitted.take::<String>(a).as_deref(), Some("plan a"));
        assert_eq!(admitted.take::<String>(a), None, "taken once");
        assert_eq!(admitted.take::<String>(b), None, "another type");
        assert_eq!(
            admitted.take::<u32>(b),
            None,
            "taken out by the failed take"
        );
        tokio::time::advance(VALID_FOR).await;
        assert_eq!(admitted.take::<String>(c), None, "too old");
        assert_eq!(admitted.take::<String>(Uuid::new_v4()), None);
    }
}
