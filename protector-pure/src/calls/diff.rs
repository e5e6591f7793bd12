//! How much of a volume differs from a snapshot of it (`GET /volumes/diff`).

use protector_core::{Error, ErrorKind, Result};

use crate::auth::ApiVersion;
use crate::client::FlashArrayClient;
use crate::request::Request;
use crate::wire::WireVolumeDiff;

/// The first REST version with `GET /volumes/diff`.
pub(crate) const VOLUME_DIFF_API_VERSION: ApiVersion = ApiVersion::new(2, 9);

/// Granularity of the comparison (`block_size`; the spec wants a multiple of 512). A write
/// smaller than this counts as a whole block: coarse enough to keep the answers short, fine
/// enough that the estimate of data at risk stays close to what was written.
pub(crate) const DIFF_BLOCK_SIZE: u64 = 1 << 20;

/// Bytes compared per request (`segment_length`, required by the spec, which gives no upper
/// bound). Bounded so that one answer stays small whatever the volume's size; a multiple of
/// [`DIFF_BLOCK_SIZE`], so every `segment_offset` is one as the spec requires.
pub(crate) const DIFF_SEGMENT_LENGTH: u64 = 16 << 30;

impl FlashArrayClient {
    /// Bytes of `volume` that differ from `base` (a volume snapshot such as `pg.3.vol`).
    ///
    /// Reads the volume's provisioned size (`GET /volumes?names=`), then walks it in segments
    /// of `DIFF_SEGMENT_LENGTH`: `GET /volumes/diff?names=&base_name=&block_size=
    /// &segment_offset=&segment_length=`, every page of each (the items carry no volume name,
    /// so one volume per request), summing the `length` of the extents. The volume's own
    /// `next_allocated_block_hint` is not used: the spec allows it only without a base.
    ///
    /// `NotFound` when the volume or the base does not exist (Purity's 400 "does not exist");
    /// `Unsupported` when the negotiated REST version is older than 2.9.
    pub async fn changed_bytes_since(&self, volume: &str, base: &str) -> Result<u64> {
        let version = self.api_version().await?;
        if version < VOLUME_DIFF_API_VERSION {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "compare volume {volume} with {base} on FlashArray {}: GET /volumes/diff needs REST {VOLUME_DIFF_API_VERSION} or later and the array speaks {version}; upgrade Purity to report the data at risk",
                    self.inner.label
                ),
            )
            .with_context("array", self.inner.label.clone())
            .with_context("object", volume));
        }
        let size = self
            .get_volume(volume)
            .await?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "compare volume {volume} with {base} on FlashArray {}: volume {volume} does not exist",
                    self.inner.label
                ))
                .with_context("array", self.inner.label.clone())
                .with_context("object", volume)
            })?
            .provisioned_bytes;
        let mut changed = 0u64;
        let mut offset = 0u64;
        // A volume of zero bytes still gets one request, so a missing base is reported.
        loop {
            let length = DIFF_SEGMENT_LENGTH.min(size - offset);
            let request = Request::get("volumes/diff", "compare volume with snapshot")
                .names("names", &[volume])
                .param("base_name", base)
                .param("block_size", DIFF_BLOCK_SIZE.to_string())
                .param("segment_offset", offset.to_string())
                .param("segment_length", length.to_string())
                .object(format!("{volume} with {base}"));
            let extents: Vec<WireVolumeDiff> = self.list(&request).await?;
            changed = extents
                .iter()
                .filter_map(|e| e.length)
                .fold(changed, u64::saturating_add);
            offset += length;
            if offset >= size {
                return Ok(changed);
            }
        }
    }
}
