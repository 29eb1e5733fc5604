//! How a command ended, and the exit status for it: every typed error of the library becomes an
//! [`Outcome`] here, each variant mapped by name (no catch-all), so that a new variant must be
//! given its exit status.

use crate::connectors::{InstallError, LookupError};
use crate::inventory::InventoryError;
use crate::run::RunError;
use crate::sandbox::LoadError;
use crate::scheduler::ServeError;
use crate::source::SourceError;
use crate::web::WebError;

/// How a command ended; `main` turns it into the exit status and, but for success, one line on
/// stderr.
#[derive(Debug)]
pub enum Outcome {
    /// Success.
    Ok,
    /// Bad arguments, source file or connector.
    Config(String),
    /// A run failed; the inventory is unchanged.
    RunFailed(String),
    /// A run succeeded but its cleanup was refused by the guard.
    CleanupRefused(String),
    /// `connectors test`: the connector breaks a promise of the contract.
    Nonconforming(String),
    /// Anything else.
    Internal(String),
}

impl Outcome {
    /// The process exit status.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Internal(_) => 1,
            Self::Config(_) => 2,
            Self::RunFailed(_) => 3,
            Self::CleanupRefused(_) => 4,
            Self::Nonconforming(_) => 5,
        }
    }
}

impl From<RunError> for Outcome {
    fn from(error: RunError) -> Self {
        let message = error.to_string();
        match error {
            RunError::Source(_) | RunError::InvalidSetting { .. } => Self::Config(message),
            RunError::Busy(_) | RunError::Failed { .. } => Self::RunFailed(message),
            RunError::Inventory { .. } => Self::Internal(message),
        }
    }
}

impl From<SourceError> for Outcome {
    fn from(error: SourceError) -> Self {
        Self::Config(error.to_string())
    }
}

impl From<LoadError> for Outcome {
    fn from(error: LoadError) -> Self {
        let message = error.to_string();
        match error {
            LoadError::Compile { .. }
            | LoadError::Version { .. }
            | LoadError::Contract { .. }
            | LoadError::Spec { .. }
            | LoadError::Engine(_) => Self::Config(message),
        }
    }
}

impl From<LookupError> for Outcome {
    fn from(error: LookupError) -> Self {
        let message = error.to_string();
        match error {
            LookupError::UnknownId { .. } | LookupError::Read { .. } | LookupError::Load(_) => {
                Self::Config(message)
            }
        }
    }
}

impl From<InstallError> for Outcome {
    fn from(error: InstallError) -> Self {
        let message = error.to_string();
        match error {
            InstallError::Read { .. }
            | InstallError::Load(_)
            | InstallError::InvalidId { .. }
            | InstallError::Taken { .. }
            | InstallError::Write { .. } => Self::Config(message),
            InstallError::Store(_) => Self::Internal(message),
        }
    }
}

impl From<ServeError> for Outcome {
    fn from(error: ServeError) -> Self {
        let message = error.to_string();
        // `serve` has always ended with 2 when it cannot start, whatever the reason.
        match error {
            ServeError::NoSources
            | ServeError::SourcesDir { .. }
            | ServeError::Inventory(_)
            | ServeError::Connectors(_)
            | ServeError::Signals(_) => Self::Config(message),
        }
    }
}

impl From<WebError> for Outcome {
    fn from(error: WebError) -> Self {
        let message = error.to_string();
        // Like `serve` itself: a server that cannot start is a configuration error (2).
        match error {
            WebError::NeedsToken { .. }
            | WebError::Bind { .. }
            | WebError::WeakToken
            | WebError::Connectors(_) => Self::Config(message),
        }
    }
}

impl From<InventoryError> for Outcome {
    fn from(error: InventoryError) -> Self {
        Self::Internal(error.to_string())
    }
}
