//! Operation leases in table `operation_leases`: compare-and-set statements judged by the
//! database server's clock.
//!
//! Every statement is one autocommitted compare-and-set whose outcome is read from its
//! affected-row count (sqlx asks for found rows, so a row that matched counts even when no
//! value changed): no row lock is held from one statement to the next, which Galera would not
//! honour across nodes. Two claimants that write through different Galera nodes at once are
//! ordered by certification: the loser gets a deadlock error and runs its statement again, now
//! seeing the winner's row. Times are `UTC_TIMESTAMP(6)`, the server's clock in UTC: unlike
//! `NOW(6)` it does not depend on the session's time zone, which a `DATETIME` does not record.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::{deadlock_backoff, error_number, is_deadlock, MySqlStore, DEADLOCK_ATTEMPTS};
use crate::error::{Error, Result};
use crate::store::{Lease, LeaseAttempt};

/// How many times a claim runs again when the row changed between its statements (released,
/// lapsed or taken by someone else in between).
const CLAIM_ATTEMPTS: u32 = 5;

/// MariaDB's `ER_DUP_ENTRY`.
const DUPLICATE_KEY: u16 = 1062;

/// A lease as read, with whether it has lapsed by the server's clock.
struct Found {
    lease: Lease,
    lapsed: bool,
}

impl MySqlStore {
    /// Runs one statement, again after a lost deadlock (or Galera certification failure).
    async fn retrying<T, F, Fut>(&self, what: &str, statement: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<T, sqlx::Error>>,
    {
        let mut attempt = 1;
        loop {
            match statement().await {
                Err(err) if is_deadlock(&err) && attempt < DEADLOCK_ATTEMPTS => {
                    deadlock_backoff(attempt).await;
                    attempt += 1;
                }
                other => return other.map_err(|err| self.db_error(what, err)),
            }
        }
    }

    pub(super) async fn take_lease(
        &self,
        id: &Uuid,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseAttempt> {
        let what =
            format!("taking the lease of operation {id} for {holder} in table operation_leases");
        let micros = ttl_micros(&what, ttl)?;
        let op = id.to_string();
        for _ in 0..CLAIM_ATTEMPTS {
            // Ours already, or lapsed: take it.
            let taken = self
                .retrying(&what, || {
                    sqlx::query(
                        "UPDATE operation_leases \
                         SET holder = ?, expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND \
                         WHERE operation_id = ? AND (holder = ? OR expires_at <= UTC_TIMESTAMP(6))",
                    )
                    .bind(holder)
                    .bind(micros)
                    .bind(&op)
                    .bind(holder)
                    .execute(&self.pool)
                })
                .await?
                .rows_affected()
                == 1;
            // Nobody's: create it. A duplicate key means a row exists (a live lease of
            // another holder, or one that appeared since the update).
            let created = !taken
                && self
                    .retrying(&what, || async {
                        let inserted = sqlx::query(
                            "INSERT INTO operation_leases (operation_id, holder, expires_at) \
                             VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND)",
                        )
                        .bind(&op)
                        .bind(holder)
                        .bind(micros)
                        .execute(&self.pool)
                        .await;
                        match inserted {
                            Ok(_) => Ok(true),
                            Err(err) if error_number(&err) == Some(DUPLICATE_KEY) => Ok(false),
                            Err(err) => Err(err),
                        }
                    })
                    .await?;
            match self.read_lease(&what, id).await? {
                Some(found) if found.lease.holder == holder => {
                    return Ok(LeaseAttempt::Acquired(found.lease))
                }
                // Someone else's live lease, which stopped our update and our insert.
                Some(found) if !taken && !created && !found.lapsed => {
                    return Ok(LeaseAttempt::Held(found.lease))
                }
                // Released, lapsed or taken over between the statements: look again.
                _ => {}
            }
        }
        Err(Error::unavailable(format!(
            "{what}: the lease kept changing hands ({CLAIM_ATTEMPTS} attempts): retry"
        ))
        .with_context("database", self.target.clone()))
    }

    pub(super) async fn extend_lease(
        &self,
        id: &Uuid,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool> {
        let what =
            format!("renewing the lease of operation {id} for {holder} in table operation_leases");
        let micros = ttl_micros(&what, ttl)?;
        let op = id.to_string();
        let renewed = self
            .retrying(&what, || {
                sqlx::query(
                    "UPDATE operation_leases \
                     SET expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND \
                     WHERE operation_id = ? AND holder = ?",
                )
                .bind(micros)
                .bind(&op)
                .bind(holder)
                .execute(&self.pool)
            })
            .await?;
        Ok(renewed.rows_affected() == 1)
    }

    pub(super) async fn drop_lease(&self, id: &Uuid, holder: &str) -> Result<()> {
        let what =
            format!("releasing the lease of operation {id} for {holder} in table operation_leases");
        let op = id.to_string();
        self.retrying(&what, || {
            sqlx::query("DELETE FROM operation_leases WHERE operation_id = ? AND holder = ?")
                .bind(&op)
                .bind(holder)
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    pub(super) async fn find_lease(&self, id: &Uuid) -> Result<Option<Lease>> {
        let what = format!("reading the lease of operation {id} from table operation_leases");
        Ok(self.read_lease(&what, id).await?.map(|found| found.lease))
    }

    async fn read_lease(&self, what: &str, id: &Uuid) -> Result<Option<Found>> {
        let row = sqlx::query(
            "SELECT holder, DATE_FORMAT(expires_at, '%Y-%m-%dT%H:%i:%s.%fZ'), \
             CAST(expires_at <= UTC_TIMESTAMP(6) AS SIGNED) \
             FROM operation_leases WHERE operation_id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| self.db_error(what, err))?;
        let Some(row) = row else { return Ok(None) };
        let text = |index: usize| -> Result<String> {
            // Read as bytes: a binary collation makes sqlx refuse the column as text.
            let bytes: Vec<u8> = row.try_get(index).map_err(|err| self.db_error(what, err))?;
            String::from_utf8(bytes).map_err(|err| {
                Error::unexpected(format!("{what}: the stored lease is not UTF-8 ({err})"))
            })
        };
        let holder = text(0)?;
        let expires = text(1)?;
        let lapsed: i64 = row.try_get(2).map_err(|err| self.db_error(what, err))?;
        let expires_at = DateTime::parse_from_rfc3339(&expires)
            .map_err(|err| {
                Error::unexpected(format!(
                    "{what}: the stored end of the lease ({expires}) is not a time ({err})"
                ))
            })?
            .with_timezone(&Utc);
        Ok(Some(Found {
            lease: Lease {
                operation_id: *id,
                holder,
                expires_at,
            },
            lapsed: lapsed != 0,
        }))
    }
}

/// `ttl` in microseconds, as `INTERVAL … MICROSECOND` takes it.
fn ttl_micros(what: &str, ttl: Duration) -> Result<u64> {
    u64::try_from(ttl.as_micros())
        .ok()
        .filter(|micros| *micros <= 366 * 24 * 3600 * 1_000_000)
        .ok_or_else(|| {
            Error::invalid(format!(
                "{what}: a lease of {ttl:?} is too long: give a ttl of at most a few hours"
            ))
        })
}
