//! The C boundary: the callback types of the headers, `user_data` carried across threads,
//! reading C strings, and the guard every exported function runs its body in.

use std::ffi::{CString, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::codes::TIM_ERR_PARAM;

/// `TIMCommCallback`: the result of an asynchronous call (code, description, JSON, user data).
pub type TIMCommCallback = Option<
    unsafe extern "C" fn(
        code: i32,
        desc: *const c_char,
        json_params: *const c_char,
        user_data: *const c_void,
    ),
>;

/// `TIMConvEventCallback`: conversations added, deleted or changed; sync started or finished.
pub type TIMConvEventCallback = Option<
    unsafe extern "C" fn(
        conv_event: c_int,
        json_conv_array: *const c_char,
        user_data: *const c_void,
    ),
>;

/// `TIMConvTotalUnreadMessageCountChangedCallback`: the total unread changed.
pub type TIMConvTotalUnreadMessageCountChangedCallback =
    Option<unsafe extern "C" fn(total_unread_count: c_int, user_data: *const c_void)>;

/// `TIMConvTotalUnreadMessageCountChangedByFilterCallback`: a subscribed filter's count changed.
pub type TIMConvTotalUnreadMessageCountChangedByFilterCallback = Option<
    unsafe extern "C" fn(
        filter: *const c_char,
        total_unread_count: c_int,
        user_data: *const c_void,
    ),
>;

/// `TIMConvConversationGroupCreatedCallback`: a conversation group was created.
pub type TIMConvConversationGroupCreatedCallback = Option<
    unsafe extern "C" fn(
        group_name: *const c_char,
        conversation_array: *const c_char,
        user_data: *const c_void,
    ),
>;

/// `TIMConvConversationGroupDeletedCallback`: a conversation group was deleted.
pub type TIMConvConversationGroupDeletedCallback =
    Option<unsafe extern "C" fn(group_name: *const c_char, user_data: *const c_void)>;

/// `TIMConvConversationGroupNameChangedCallback`: a conversation group was renamed.
pub type TIMConvConversationGroupNameChangedCallback = Option<
    unsafe extern "C" fn(
        old_name: *const c_char,
        new_name: *const c_char,
        user_data: *const c_void,
    ),
>;

/// `TIMConvConversationsAddedToGroupCallback`: conversations were added to a group.
pub type TIMConvConversationsAddedToGroupCallback = TIMConvConversationGroupCreatedCallback;

/// `TIMConvConversationsDeletedFromGroupCallback`: conversations left a group.
pub type TIMConvConversationsDeletedFromGroupCallback = TIMConvConversationGroupCreatedCallback;

/// A C program's `user_data`, carried to the callback thread and handed back as it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UserData(pub(crate) *const c_void);

impl UserData {
    /// The pointer, as the C program gave it. (A method, so that a closure moving a
    /// `UserData` captures all of it, which is `Send`, not its raw field.)
    pub(crate) fn get(self) -> *const c_void {
        self.0
    }
}

// SAFETY: the library never dereferences the pointer; it only hands it back to the C program's
// own callback, which gave it for exactly that and owns whatever it points to.
unsafe impl Send for UserData {}
// SAFETY: as for `Send`: the pointer is only copied, never used, by the library.
unsafe impl Sync for UserData {}

/// Longest text parameter accepted, in bytes: anything longer is refused with `TIM_ERR_PARAM`
/// before it is decoded, so that no input makes the library allocate without bound.
pub(crate) const MAX_TEXT_BYTES: usize = 16 << 20;

/// Reads a text parameter: `TIM_ERR_PARAM` for NULL, for more than [`MAX_TEXT_BYTES`] bytes,
/// and for bytes that are not UTF-8.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid and unchanged while the
/// returned text is used.
pub(crate) unsafe fn text<'a>(ptr: *const c_char) -> Result<&'a str, c_int> {
    if ptr.is_null() {
        return Err(TIM_ERR_PARAM);
    }
    let mut len = 0usize;
    loop {
        // SAFETY: the string is NUL-terminated and `len` has not passed its NUL yet (the loop
        // stops at it), so `ptr + len` is inside the string.
        if unsafe { ptr.add(len).read() } == 0 {
            break;
        }
        if len == MAX_TEXT_BYTES {
            return Err(TIM_ERR_PARAM);
        }
        len += 1;
    }
    // SAFETY: the `len` bytes before the NUL were just read one by one, so they are valid for
    // reads, and the caller keeps them unchanged while the slice lives.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    std::str::from_utf8(bytes).map_err(|_| TIM_ERR_PARAM)
}

/// Reads an optional text parameter: NULL is `None`, otherwise as [`text`].
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_text<'a>(ptr: *const c_char) -> Result<Option<&'a str>, c_int> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller.
    unsafe { text(ptr) }.map(Some)
}

/// A C string for a callback. Text from the library never holds NUL bytes except where a
/// caller's JSON smuggled one in (`\u0000`); those are dropped rather than cutting the string.
pub(crate) fn c_string(text: impl Into<Vec<u8>>) -> CString {
    CString::new(text).unwrap_or_else(|err| {
        let mut bytes = err.into_vec();
        bytes.retain(|&b| b != 0);
        CString::new(bytes).unwrap_or_default()
    })
}

/// Runs an exported function's body so that no panic crosses into C: a panic (a bug) is logged
/// and the call returns `TIM_ERR_PARAM`, having changed nothing it could not finish.
pub(crate) fn entry(name: &'static str, body: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        tracing::error!(
            function = name,
            "a call of the C API panicked; please report it"
        );
        TIM_ERR_PARAM
    })
}

/// [`entry`] for the functions that return nothing (the listener setters).
pub(crate) fn entry_void(name: &'static str, body: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(body)).is_err() {
        tracing::error!(
            function = name,
            "a call of the C API panicked; please report it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_refuses_null_and_non_utf8() {
        // SAFETY: NULL is allowed.
        assert_eq!(unsafe { text(std::ptr::null()) }, Err(TIM_ERR_PARAM));
        let bad = c"\xff\xfe";
        // SAFETY: a NUL-terminated literal.
        assert_eq!(unsafe { text(bad.as_ptr()) }, Err(TIM_ERR_PARAM));
        let good = c"c2c_alice";
        // SAFETY: a NUL-terminated literal.
        assert_eq!(unsafe { text(good.as_ptr()) }, Ok("c2c_alice"));
    }

    #[test]
    fn text_refuses_oversize_input() {
        let long = c_string(vec![b'a'; MAX_TEXT_BYTES + 1]);
        // SAFETY: a NUL-terminated string that outlives the call.
        assert_eq!(unsafe { text(long.as_ptr()) }, Err(TIM_ERR_PARAM));
        let max = c_string(vec![b'a'; MAX_TEXT_BYTES]);
        // SAFETY: as above.
        let read = unsafe { text(max.as_ptr()) };
        assert_eq!(read.map(str::len), Ok(MAX_TEXT_BYTES));
    }

    #[test]
    fn c_string_drops_interior_nul() {
        assert_eq!(c_string("a\0b").as_bytes(), b"ab");
    }

    #[test]
    fn a_panic_becomes_a_code() {
        assert_eq!(entry("test", || panic!("boom")), TIM_ERR_PARAM);
    }
}
