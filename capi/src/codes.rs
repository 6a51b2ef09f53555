//! Result codes: the synchronous `TIMResult` values, and how an operation's failure becomes the
//! code of its callback (or, for the functions without one, a `TIMResult`).

use std::ffi::c_int;

use timconv::ErrorCode;

/// `TIM_SUCC`: the call was accepted.
pub const TIM_SUCC: c_int = 0;
/// `TIM_ERR_SDKUNINIT`: `TIMInit` has not been called, or `TIMUninit` has.
pub const TIM_ERR_SDKUNINIT: c_int = -1;
/// `TIM_ERR_NOTLOGIN`: `TIMLogin` has not been called, or `TIMLogout` has.
pub const TIM_ERR_NOTLOGIN: c_int = -2;
/// `TIM_ERR_JSON`: a JSON parameter is not JSON, or not of the documented shape.
pub const TIM_ERR_JSON: c_int = -3;
/// `TIM_ERR_PARAM`: a NULL pointer, text that is not UTF-8 or too long, a refused value.
pub const TIM_ERR_PARAM: c_int = -4;
/// `TIM_ERR_CONV`: the conversation operation failed (for example it does not exist).
pub const TIM_ERR_CONV: c_int = -5;
/// `TIM_ERR_GROUP`: group error; defined for compatibility, never returned.
pub const TIM_ERR_GROUP: c_int = -6;

/// Why an accepted call failed: the code its callback receives and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: i32,
    pub(crate) desc: String,
}

impl Failure {
    pub(crate) fn new(code: ErrorCode, desc: impl Into<String>) -> Self {
        Self {
            code: code.as_i32(),
            desc: desc.into(),
        }
    }

    pub(crate) fn not_logged_in() -> Self {
        Self::new(
            ErrorCode::NotLoggedIn,
            "not logged in: the user logged out before the call was carried out",
        )
    }

    pub(crate) fn invalid(desc: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameters, desc)
    }

    /// The `TIMResult` a function without a callback returns for this failure.
    pub(crate) fn as_result(&self) -> c_int {
        sync_result(self.code)
    }
}

impl From<timconv::Error> for Failure {
    fn from(err: timconv::Error) -> Self {
        Self {
            code: err.code().as_i32(),
            desc: err.to_string(),
        }
    }
}

impl From<serde_json::Error> for Failure {
    fn from(err: serde_json::Error) -> Self {
        // Encoding the crate's own records cannot fail short of a bug.
        Self::new(
            ErrorCode::Internal,
            format!("could not encode the result: {err}"),
        )
    }
}

/// What an accepted call produced: its JSON result (`""` when it has none), or its failure.
pub(crate) type Outcome = Result<String, Failure>;

/// The `TIMResult` for an asynchronous code, for the functions that have no callback.
fn sync_result(code: i32) -> c_int {
    match ErrorCode::from_i32(code) {
        Some(ErrorCode::Success) => TIM_SUCC,
        Some(ErrorCode::NotInitialized) => TIM_ERR_SDKUNINIT,
        Some(ErrorCode::NotLoggedIn) => TIM_ERR_NOTLOGIN,
        Some(ErrorCode::InvalidJson) => TIM_ERR_JSON,
        Some(
            ErrorCode::InvalidParameters
            | ErrorCode::BatchSize
            | ErrorCode::TooManyDecorated
            | ErrorCode::FolderNotFound
            | ErrorCode::TooManyFolders
            | ErrorCode::FolderNameLength
            | ErrorCode::TooManyPinned,
        ) => TIM_ERR_PARAM,
        _ => TIM_ERR_CONV,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_values_are_param_errors_and_the_rest_conversation_errors() {
        assert_eq!(sync_result(0), TIM_SUCC);
        assert_eq!(sync_result(6017), TIM_ERR_PARAM);
        assert_eq!(sync_result(51011), TIM_ERR_PARAM);
        assert_eq!(sync_result(6004), TIM_ERR_CONV);
        assert_eq!(sync_result(6019), TIM_ERR_CONV);
        assert_eq!(sync_result(6013), TIM_ERR_SDKUNINIT);
        assert_eq!(sync_result(6014), TIM_ERR_NOTLOGIN);
        assert_eq!(sync_result(6027), TIM_ERR_JSON);
        assert_eq!(sync_result(12345), TIM_ERR_CONV);
    }

    #[test]
    fn an_error_keeps_its_code() {
        let failure = Failure::from(timconv::Error::FolderNotFound("g".into()));
        assert_eq!(failure.code, 51009);
        assert!(failure.desc.contains("\"g\""));
    }
}
