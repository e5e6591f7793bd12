//! A drill's test servers boot in the group's boot order, as a failover's do.

use uuid::Uuid;

use super::{update_member, Drill};
use crate::engine::boot_order::{boot_in_waves, note_wave, WaveOutcomes};
use crate::error::Result;
use crate::model::WaveRun;

impl WaveOutcomes for Drill<'_> {
    fn failure(&self, member: Uuid) -> Option<String> {
        update_member(&self.record, member, |m| m.error.clone()).flatten()
    }

    fn fail(&self, member: Uuid, why: String) {
        self.update(member, |m| m.error = Some(why));
    }
}

impl Drill<'_> {
    /// Creates the test servers wave by wave, each wave verified ACTIVE before the next.
    pub(super) async fn boot_waves(&self) -> Result<()> {
        boot_in_waves(
            &self.plan.plan.members,
            self.engine.options().member_concurrency,
            self,
            |wave| self.record_wave(wave),
            |m| self.create_server(m),
            |m| self.verify_server(m),
        )
        .await
    }

    /// Keeps `wave` on the operation and in the journal (`boot_wave:<priority>.<level>`).
    async fn record_wave(&self, wave: WaveRun) -> Result<()> {
        let (step, kind, detail) = crate::engine::boot_order::wave_journal(&wave);
        self.tracker.edit(|op| note_wave(&mut op.boot_waves, wave));
        self.tracker.journal(&step, kind, detail).await;
        self.tracker.publish().await
    }
}
