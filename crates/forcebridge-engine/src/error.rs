//! The engine's error type and its classification.
//!
//! Invariant: no variant carries secret material; every message says what failed and, where there
//! is one, what to do.

use forcebridge_salesforce as sf;
use forcebridge_store as store;

/// What kind of failure an [`Error`] is, so callers (the server, the CLI) branch on a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input was rejected (bad settings, unknown event type, a recipe that does not check).
    Invalid,
    /// The thing asked for does not exist, or belongs to another tenant.
    NotFound,
    /// The call clashes with the current state (a limit reached, a duplicate, wrong state).
    Conflict,
    /// Salesforce refused the credentials or the token is expired/revoked: a person must reconnect.
    Auth,
    /// A temporary failure; the same call may succeed later.
    Retryable,
    /// Anything else (a bug, corrupt data).
    Internal,
}

/// Everything the engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// Salesforce (or the way to it) failed.
    #[error(transparent)]
    Salesforce(#[from] sf::Error),
    /// A recipe could not be loaded; the diagnostics say where and why.
    #[error("{0}")]
    Recipe(#[from] crate::recipe::RecipeError),
    /// The input was rejected; the message names the offending field.
    #[error("{0}")]
    Invalid(String),
    /// Something asked for does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// What kind of thing.
        what: &'static str,
        /// Its id or name.
        id: String,
    },
    /// The call clashes with the current state.
    #[error("{0}")]
    Conflict(String),
    /// An internal invariant failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Store(e) => match e.kind() {
                store::ErrorKind::Retryable => ErrorKind::Retryable,
                store::ErrorKind::Conflict => ErrorKind::Conflict,
                store::ErrorKind::NotFound => ErrorKind::NotFound,
                store::ErrorKind::Invalid => ErrorKind::Invalid,
                store::ErrorKind::Crypto => ErrorKind::Internal,
            },
            Error::Salesforce(e) => match e.kind() {
                sf::ErrorKind::Auth | sf::ErrorKind::TokenRevoked => ErrorKind::Auth,
                sf::ErrorKind::Transient | sf::ErrorKind::RowLock | sf::ErrorKind::LimitExhausted => {
                    ErrorKind::Retryable
                }
                sf::ErrorKind::InvalidInput | sf::ErrorKind::Permission => ErrorKind::Invalid,
                sf::ErrorKind::NotFound => ErrorKind::NotFound,
                sf::ErrorKind::Duplicate => ErrorKind::Conflict,
                sf::ErrorKind::Other => ErrorKind::Internal,
            },
            Error::Recipe(_) | Error::Invalid(_) => ErrorKind::Invalid,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
