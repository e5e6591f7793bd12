//! The array itself and its volumes.

use protector_core::api::{ArrayConnection, ArrayInfo, ArrayVolume, CopyVolume};
use protector_core::{Error, ErrorKind, Result};
use serde_json::json;

use crate::client::FlashArrayClient;
use crate::error::{array_says, is_missing};
use crate::filter::Filter;
use crate::request::Request;
use crate::wire::{WireArray, WireArrayConnection, WireVolume};

/// Names per `GET /volumes?names=`: a query of about 4 KB for protector's volume names.
const NAMES_PER_READ: usize = 50;

impl FlashArrayClient {
    /// Name, id and Purity version (`GET /arrays`). Also the reachability check: it always asks
    /// the array.
    pub async fn array_info(&self) -> Result<ArrayInfo> {
        let arrays: Vec<WireArray> = self
            .list(&Request::get("arrays", "read array identity"))
            .await?;
        let info: ArrayInfo = arrays.into_iter().next().map(Into::into).ok_or_else(|| {
            Error::unexpected(format!(
                "FlashArray {} listed no array in GET /arrays",
                self.inner.label
            ))
        })?;
        *self.inner.array_info.lock().await = Some(info.clone());
        Ok(info)
    }

    /// This array's connections to its peers (`GET /array-connections`).
    pub async fn array_connections(&self) -> Result<Vec<ArrayConnection>> {
        let connections: Vec<WireArrayConnection> = self
            .list(&Request::get("array-connections", "list array connections"))
            .await?;
        Ok(connections.into_iter().map(Into::into).collect())
    }

    /// This array's name, asked once and remembered.
    pub(crate) async fn local_array_name(&self) -> Result<String> {
        if let Some(info) = self.inner.array_info.lock().await.as_ref() {
            return Ok(info.name.clone());
        }
        Ok(self.array_info().await?.name)
    }

    /// A volume by name, destroyed or not (`GET /volumes?names=`). `Ok(None)` when missing.
    pub async fn get_volume(&self, name: &str) -> Result<Option<ArrayVolume>> {
        let request = Request::get("volumes", "read volume")
            .names("names", &[name])
            .object(name);
        match self.list::<WireVolume>(&request).await {
            Ok(volumes) => Ok(volumes.into_iter().next().map(Into::into)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Volumes by name, destroyed or not, in the order of `names` (`None` for a missing one):
    /// `GET /volumes?names=` for up to [`NAMES_PER_READ`] at a time. The array refuses the
    /// whole read when one name does not exist; that read's names are then read one by one.
    pub async fn get_volumes(&self, names: &[String]) -> Result<Vec<Option<ArrayVolume>>> {
        let mut out = Vec::with_capacity(names.len());
        for chunk in names.chunks(NAMES_PER_READ) {
            let wanted: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let request = Request::get("volumes", "read volumes")
                .names("names", &wanted)
                .object(wanted.join(","));
            match self.list::<WireVolume>(&request).await {
                Ok(volumes) => {
                    let mut by_name: std::collections::HashMap<String, ArrayVolume> = volumes
                        .into_iter()
                        .map(|v| {
                            let v = ArrayVolume::from(v);
                            (v.name.clone(), v)
                        })
                        .collect();
                    out.extend(chunk.iter().map(|name| by_name.remove(name)));
                }
                Err(e) if is_missing(&e) => {
                    for name in chunk {
                        out.push(self.get_volume(name).await?);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Volumes whose name starts with `name_prefix`, destroyed or not, by name
    /// (`GET /volumes?filter=name='<prefix>*'`).
    pub async fn list_volumes(&self, name_prefix: &str) -> Result<Vec<ArrayVolume>> {
        let request = Request::get("volumes", "list volumes")
            .filter(&Filter::like("name", &format!("{name_prefix}*")))
            .object(format!("{name_prefix}*"));
        let volumes: Vec<WireVolume> = self.list(&request).await?;
        let mut volumes: Vec<ArrayVolume> = volumes
            .into_iter()
            .map(Into::<ArrayVolume>::into)
            .filter(|v| v.name.starts_with(name_prefix))
            .collect();
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(volumes)
    }

    /// Creates volume `request.name` from a snapshot or volume (`POST /volumes?names=` with
    /// `{"source": {"name": …}}`, `overwrite=true` when asked).
    ///
    /// `AlreadyExists` when the name is taken and `overwrite` is false; `NotFound` when the
    /// source does not exist.
    pub async fn copy_volume(&self, request: &CopyVolume) -> Result<ArrayVolume> {
        let call = Request::post("volumes", "copy volume")
            .names("names", &[&request.name])
            .flag("overwrite", request.overwrite)
            .body(json!({"source": {"name": request.source}}))
            .object(format!("{} from {}", request.name, request.source));
        let volumes: Vec<WireVolume> = self.items(&call).await?;
        volumes.into_iter().next().map(Into::into).ok_or_else(|| {
            Error::unexpected(format!(
                "copy volume {} on FlashArray {}: the array answered without the new volume",
                request.name, self.inner.label
            ))
        })
    }

    /// Renames a volume (`PATCH /volumes?names=` with `{"name": …}`).
    pub async fn rename_volume(&self, name: &str, new_name: &str) -> Result<()> {
        let call = Request::patch("volumes", "rename volume")
            .names("names", &[name])
            .body(json!({"name": new_name}))
            .object(format!("{name} to {new_name}"));
        self.run(&call).await
    }

    /// Destroys a volume (`PATCH /volumes?names=` with `{"destroyed": true}`); recoverable
    /// until eradicated. A missing or already destroyed volume is success.
    pub async fn destroy_volume(&self, name: &str) -> Result<()> {
        let call = Request::patch("volumes", "destroy volume")
            .names("names", &[name])
            .body(json!({"destroyed": true}))
            .object(name);
        match self.run(&call).await {
            Err(e)
                if is_missing(&e) || array_says(&e, &["been destroyed", "already destroyed"]) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// Eradicates a destroyed volume (`DELETE /volumes?names=`). A missing volume is success; a
    /// live one is `Conflict` (checked first, since Purity's text for it is not known).
    pub async fn eradicate_volume(&self, name: &str) -> Result<()> {
        match self.get_volume(name).await? {
            None => return Ok(()),
            Some(volume) if !volume.destroyed => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "eradicate volume {name} on FlashArray {}: the volume is not destroyed; destroy it first",
                        self.inner.label
                    ),
                )
                .with_context("array", self.inner.label.clone())
                .with_context("object", name));
            }
            Some(_) => {}
        }
        let call = Request::delete("volumes", "eradicate volume")
            .names("names", &[name])
            .object(name);
        match self.run(&call).await {
            Err(e) if is_missing(&e) => Ok(()),
            other => other,
        }
    }
}
