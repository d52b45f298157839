//! The store's one error type and its classification.
//!
//! Invariant: no variant carries secret material — messages name ids, tables and causes only, so
//! an error can always be logged or shown.

/// What kind of failure an [`Error`] is, so callers branch on a class instead of on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Transient (connection lost, database busy, pool timeout): the same call may succeed later.
    Retryable,
    /// The call clashes with the current state (a duplicate, a lost lease, a limit reached).
    Conflict,
    /// The thing asked for does not exist (or belongs to another tenant).
    NotFound,
    /// The input was rejected; retrying the same call will fail the same way.
    Invalid,
    /// Encryption, decryption or key handling failed: a wrong or missing master key, or tampering.
    Crypto,
}

/// Everything the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database returned an error or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("migration failed: {0}; fix the database state and run `forcebridge migrate` again")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The database was migrated by a newer forcebridge: it has a migration this build lacks.
    /// Running against it could misread rows, so the store refuses to open.
    #[error(
        "the database has migration {version}, which this forcebridge does not know: a newer \
         version migrated it; upgrade forcebridge (never downgrade a migrated database)"
    )]
    NewerSchema {
        /// The unknown migration's version.
        version: i64,
    },
    /// A row that was asked for does not exist, or belongs to another tenant.
    #[error("{what} {id} not found")]
    NotFound {
        /// What kind of thing (table-level name).
        what: &'static str,
        /// The id that was looked up.
        id: String,
    },
    /// The call conflicts with the current state (e.g. a replay of a job that is not dead).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The job's lease is no longer held by the caller: it expired and was reaped or re-leased,
    /// or the job was cancelled. The caller must drop its work on the job.
    #[error("lease on job {job_id} is no longer held (expired, re-leased or cancelled)")]
    LeaseLost {
        /// The job whose lease was lost.
        job_id: i64,
    },
    /// An owner already has as many connections as allowed.
    #[error("user {owner} already has {limit} connections, the limit; remove one or raise the limit")]
    ConnectionLimit {
        /// The owning user.
        owner: String,
        /// The configured limit.
        limit: u32,
    },
    /// The input was rejected.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A cryptographic operation failed; the message says which and what to do.
    #[error("vault: {0}")]
    Crypto(String),
    /// A stored value could not be decoded (e.g. an unknown enum string written by a newer version).
    #[error("corrupt row in {table}: {detail}")]
    Corrupt {
        /// The table the row came from.
        table: &'static str,
        /// What could not be decoded.
        detail: String,
    },
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Database(e) => classify_sqlx(e),
            Error::Migrate(_) | Error::NewerSchema { .. } => ErrorKind::Invalid,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Conflict(_) | Error::LeaseLost { .. } | Error::ConnectionLimit { .. } => {
                ErrorKind::Conflict
            }
            Error::Invalid(_) | Error::Corrupt { .. } => ErrorKind::Invalid,
            Error::Crypto(_) => ErrorKind::Crypto,
        }
    }

    /// True when the same call may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        self.kind() == ErrorKind::Retryable
    }

    pub(crate) fn not_found(what: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            what,
            id: id.to_string(),
        }
    }

    pub(crate) fn corrupt(table: &'static str, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            table,
            detail: detail.into(),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::VersionMissing(version) => Error::NewerSchema { version },
            e => Error::Migrate(e),
        }
    }
}

/// Database errors: unique violations are conflicts, lock/serialization/IO failures are retryable.
fn classify_sqlx(e: &sqlx::Error) -> ErrorKind {
    match e {
        sqlx::Error::RowNotFound => ErrorKind::NotFound,
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => ErrorKind::Retryable,
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match code.as_str() {
                // PostgreSQL: serialization failure, deadlock, lock not available, admin shutdown.
                "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03" => ErrorKind::Retryable,
                // SQLite: SQLITE_BUSY (5), SQLITE_LOCKED (6) and their extended codes.
                c if c == "5" || c == "6" || c == "517" || c == "261" || c == "262" => ErrorKind::Retryable,
                _ if db.is_unique_violation() => ErrorKind::Conflict,
                _ if db.is_foreign_key_violation() || db.is_check_violation() => ErrorKind::Invalid,
                _ => ErrorKind::Invalid,
            }
        }
        _ => ErrorKind::Invalid,
    }
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
