//! The Hex connector carried in the binary: its id, its bytes, and the trust the host gives it.

use crate::sandbox::{Connector, LoadError, Runtime, Trust};

/// The id of the bundled Hex connector, and the default connector of a source.
pub const BUNDLED_ID: &str = "hex";

/// Where the bundled connector comes from, as [`Connector::origin`] says it.
pub const BUNDLED_ORIGIN: &str = "bundled:hex";

/// The Hex connector, built from `guest/` by `build.rs` and carried inside the binary.
pub const BUNDLED_HEX_COMPONENT: &[u8] = include_bytes!(env!("EUNO_HEX_COMPONENT"));

/// Loads the bundled Hex connector, trusted as [`Trust::Bundled`].
pub async fn load_bundled(runtime: &Runtime) -> Result<Connector, LoadError> {
    let connector = runtime.load(BUNDLED_ORIGIN, BUNDLED_HEX_COMPONENT).await?;
    Ok(connector.with_trust(Trust::Bundled))
}
