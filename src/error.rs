//! The crate's error type and the numeric codes of the original SDK (SPEC §10).

use std::fmt;
use std::sync::Arc;

/// `Result` with the crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Numeric result codes, exactly as the original SDK and its server report them.
///
/// Every [`Error`] maps to one of these through [`Error::code`], so that an app (or, later, the
/// C API) can show or forward the same number the original SDK would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(i32)]
pub enum ErrorCode {
    /// 0: success.
    Success = 0,
    /// 6004: the conversation is invalid (for example it does not exist).
    InvalidConversation = 6004,
    /// 6013: the SDK is not initialised (the manager has been shut down).
    NotInitialized = 6013,
    /// 6014: not logged in.
    NotLoggedIn = 6014,
    /// 6017: invalid parameters (bad IDs, bad names, reserved mark bits, ...).
    InvalidParameters = 6017,
    /// 6019: a database operation failed.
    DatabaseFailed = 6019,
    /// 6022: an I/O operation failed.
    IoFailed = 6022,
    /// 6027: invalid JSON.
    InvalidJson = 6027,
    /// 7012: internal error.
    Internal = 7012,
    /// 7013: the interface is not supported.
    NotSupported = 7013,
    /// 9508: the network is disconnected.
    NetworkDisconnected = 9508,
    /// 9520: the network ack timed out.
    NetworkAckTimeout = 9520,
    /// 50002: the server found the parameters invalid.
    ServerInvalidParameters = 50002,
    /// 50004: the server had an internal error.
    ServerInternal = 50004,
    /// 51006: a batch was empty or held more than the batch limit (100).
    BatchSize = 51006,
    /// 51007: a folder operation failed.
    FolderOperationFailed = 51007,
    /// 51008: more than 1000 conversations would carry marks, custom data or group membership.
    TooManyDecorated = 51008,
    /// 51009: the folder does not exist.
    FolderNotFound = 51009,
    /// 51010: more than 20 folders.
    TooManyFolders = 51010,
    /// 51011: a folder name is empty or longer than 32 bytes.
    FolderNameLength = 51011,
    /// 51012: more than 50 pinned conversations.
    TooManyPinned = 51012,
}

impl ErrorCode {
    /// The numeric value, as the original SDK reports it.
    #[must_use]
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The code for a number, if it is one this crate knows.
    #[must_use]
    pub fn from_i32(code: i32) -> Option<Self> {
        use ErrorCode::*;
        [
            Success,
            InvalidConversation,
            NotInitialized,
            NotLoggedIn,
            InvalidParameters,
            DatabaseFailed,
            IoFailed,
            InvalidJson,
            Internal,
            NotSupported,
            NetworkDisconnected,
            NetworkAckTimeout,
            ServerInvalidParameters,
            ServerInternal,
            BatchSize,
            FolderOperationFailed,
            TooManyDecorated,
            FolderNotFound,
            TooManyFolders,
            FolderNameLength,
            TooManyPinned,
        ]
        .into_iter()
        .find(|c| c.as_i32() == code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_i32())
    }
}

/// Everything that can go wrong in `timconv`.
///
/// Match on the variant for the precise cause, or call [`Error::code`] for the SDK's numeric
/// code. A call that returns an `Error` changed nothing and emitted no event.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A conversation ID that is not `c2c_<user>` / `group_<group>`, or a raw ID that is empty,
    /// or a type that cannot name a conversation (0, or the deprecated system type).
    #[error("invalid conversation id {id:?}: {reason}")]
    InvalidConversationId {
        /// The text that was refused.
        id: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The conversation does not exist locally.
    #[error("conversation {0} does not exist")]
    ConversationNotFound(String),
    /// A parameter is out of its documented domain.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// Mark bits 4..=31 are reserved by the SDK and cannot be set.
    #[error("mark bits {0:#x} are reserved (bits 4..=31)")]
    ReservedMarkBits(u64),
    /// Custom data longer than the limit.
    #[error("custom data of {len} bytes is over the limit of {max} bytes")]
    CustomDataTooLarge {
        /// Its length in bytes.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A batch that is empty or holds more items than allowed.
    #[error("batch of {len} items; allowed 1..={max}")]
    BatchSize {
        /// Number of items given.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// Pinning would exceed the maximum number of pinned conversations.
    #[error("at most {max} conversations can be pinned")]
    TooManyPinned {
        /// The configured maximum.
        max: usize,
    },
    /// Marks, custom data and group membership would cover too many conversations.
    #[error("at most {max} conversations can carry marks, custom data or groups")]
    TooManyDecorated {
        /// The configured maximum.
        max: usize,
    },
    /// Creating a group would exceed the maximum number of folders.
    #[error("at most {max} folders can exist")]
    TooManyFolders {
        /// The configured maximum.
        max: usize,
    },
    /// A group name that is empty or too long.
    #[error("folder name of {len} bytes; allowed 1..={max}")]
    FolderNameLength {
        /// Its length in bytes.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The named folder does not exist.
    #[error("folder {0:?} does not exist")]
    FolderNotFound(String),
    /// A folder of that name already exists.
    #[error("folder {0:?} already exists")]
    FolderAlreadyExists(String),
    /// JSON that could not be decoded.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// The storage backend failed.
    #[error("storage failed: {0}")]
    Store(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The database file is not a database, or is damaged.
    #[error("the database is corrupt or not a database: {0}")]
    CorruptDatabase(String),
    /// The store file is held by another manager (in this process or another one) and was not
    /// touched. Close that manager first ([`ConversationManager::shutdown`]); a dropped manager
    /// releases its file once its writer has stopped.
    ///
    /// [`ConversationManager::shutdown`]: crate::ConversationManager::shutdown
    #[error("{} is in use by another conversation manager{}", path.display(),
        holder.map(|p| format!(" (process {p})")).unwrap_or_default())]
    StoreInUse {
        /// The store file.
        path: std::path::PathBuf,
        /// The process holding it, when it could be told.
        holder: Option<u32>,
    },
    /// A file operation failed (a missing directory, no permission, a full disk...).
    #[error("cannot {what} {}", path.display())]
    Io {
        /// What could not be done ("open", "create", "lock"...).
        what: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The database file was written by a newer version of this crate; it was not touched.
    #[error(
        "unsupported database schema version {found} (this version supports up to {supported})"
    )]
    UnsupportedSchema {
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this crate knows.
        supported: i64,
    },
    /// Some conversations of a batch call failed (see
    /// [`BatchOutcome::into_result`](crate::BatchOutcome::into_result)); the others succeeded.
    #[error("{} of the conversations failed", failures.len())]
    PartlyFailed {
        /// The failures, in order.
        failures: Vec<crate::ConversationOutcome>,
    },
    /// The manager has been shut down (its writer is gone).
    #[error("the conversation manager is shut down")]
    Closed,
    /// The manager was opened outside a Tokio runtime, which its writer task needs.
    #[error("a conversation manager must be opened within a Tokio runtime")]
    NoRuntime,
    /// An internal invariant failed; please report it.
    #[error("internal error: {0}")]
    Internal(String),
    /// Server sync failed: the network or the server, with the code the transport reported
    /// (9508 disconnected, 9520 timed out, or a server code).
    #[error("sync failed: {0}")]
    Sync(#[from] crate::transport::TransportError),
    /// Sync was asked for, but the manager has no transport (it works local-only).
    #[error("no sync transport is configured")]
    SyncUnavailable,
}

impl Error {
    /// The numeric code of SPEC §10 for this error.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidConversationId { .. }
            | Error::InvalidParameter(_)
            | Error::ReservedMarkBits(_)
            | Error::CustomDataTooLarge { .. }
            | Error::FolderAlreadyExists(_) => ErrorCode::InvalidParameters,
            Error::ConversationNotFound(_) => ErrorCode::InvalidConversation,
            Error::BatchSize { .. } => ErrorCode::BatchSize,
            Error::TooManyPinned { .. } => ErrorCode::TooManyPinned,
            Error::TooManyDecorated { .. } => ErrorCode::TooManyDecorated,
            Error::TooManyFolders { .. } => ErrorCode::TooManyFolders,
            Error::FolderNameLength { .. } => ErrorCode::FolderNameLength,
            Error::FolderNotFound(_) => ErrorCode::FolderNotFound,
            Error::InvalidJson(_) => ErrorCode::InvalidJson,
            Error::Store(_)
            | Error::CorruptDatabase(_)
            | Error::UnsupportedSchema { .. }
            | Error::StoreInUse { .. } => ErrorCode::DatabaseFailed,
            Error::Io { .. } => ErrorCode::IoFailed,
            Error::Closed | Error::NoRuntime => ErrorCode::NotInitialized,
            Error::Internal(_) => ErrorCode::Internal,
            Error::Sync(e) => e.code,
            Error::PartlyFailed { failures } => failures
                .iter()
                .find_map(|f| f.result.as_ref().err().map(Error::code))
                .unwrap_or(ErrorCode::Internal),
            Error::SyncUnavailable => ErrorCode::NotSupported,
        }
    }

    /// Wraps a storage backend's error.
    pub fn store(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Store(Arc::new(err))
    }

    /// An I/O error: `what` ("open", "create", ...) could not be done to `path`.
    pub(crate) fn io(what: &'static str, path: &std::path::Path, err: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.to_path_buf(),
            source: Arc::new(err),
        }
    }

    pub(crate) fn invalid_id(id: impl Into<String>, reason: &'static str) -> Self {
        Error::InvalidConversationId {
            id: id.into(),
            reason,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::InvalidJson(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_numbers() {
        for code in [6004, 6017, 51006, 51008, 51009, 51010, 51011, 51012, 6027] {
            assert_eq!(ErrorCode::from_i32(code).map(ErrorCode::as_i32), Some(code));
        }
        assert_eq!(ErrorCode::from_i32(12345), None);
    }

    #[test]
    fn each_error_has_its_spec_code() {
        assert_eq!(Error::TooManyPinned { max: 50 }.code().as_i32(), 51012);
        assert_eq!(Error::FolderNotFound("x".into()).code().as_i32(), 51009);
        assert_eq!(Error::ReservedMarkBits(1 << 4).code().as_i32(), 6017);
        assert_eq!(Error::Closed.code().as_i32(), 6013);
    }
}
