//! `TIMInit`, `TIMUninit`, `TIMLogin`, `TIMLogout`.

use std::ffi::{c_char, c_int, c_void};
use std::path::PathBuf;

use crate::codes::{TIM_ERR_NOTLOGIN, TIM_ERR_PARAM, TIM_ERR_SDKUNINIT, TIM_SUCC};
use crate::data_dir::{Config, default_data_dir};
use crate::ffi::{TIMCommCallback, entry, optional_text, text};
use crate::input::{SdkConfig, object};
use crate::sdk::{self, InitError};

/// Initialises the library for app `sdk_app_id`; `json_sdk_config` (NULL or `""` for the
/// defaults) may name the data directory with `sdk_config_config_file_path`.
///
/// # Safety
/// `json_sdk_config` is NULL or a NUL-terminated string valid for the duration of the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMInit(sdk_app_id: u64, json_sdk_config: *const c_char) -> c_int {
    entry("TIMInit", || {
        // SAFETY: the function's contract.
        let config = match unsafe { optional_text(json_sdk_config) } {
            Ok(None | Some("")) => SdkConfig::default(),
            Ok(Some(text)) => match object::<SdkConfig>(text) {
                Ok(config) => config,
                Err(code) => return code,
            },
            Err(code) => return code,
        };
        if config.log_file_path.is_some() || config.main_thread_id.is_some() {
            tracing::debug!(
                log_file_path = ?config.log_file_path,
                main_thread_id = ?config.main_thread_id,
                "SdkConfig keys without effect here: logs go through tracing, callbacks run on \
                 the callback thread"
            );
        }
        let data_dir = config
            .config_file_path
            .filter(|path| !path.is_empty())
            .map_or_else(default_data_dir, PathBuf::from);
        match sdk::init(Config {
            app_id: sdk_app_id,
            data_dir,
        }) {
            Ok(()) => TIM_SUCC,
            Err(InitError::OtherConfig) => {
                tracing::debug!("already initialised with another app ID or directory");
                TIM_ERR_PARAM
            }
            Err(InitError::Start(err)) => {
                tracing::error!(error = %err, "cannot start the library's threads");
                TIM_ERR_SDKUNINIT
            }
        }
    })
}

/// Uninitialises: carries out the calls already accepted, logs out, delivers every callback
/// and stops the library's threads.
#[unsafe(no_mangle)]
pub extern "C" fn TIMUninit() -> c_int {
    entry("TIMUninit", || {
        if sdk::uninit() {
            TIM_SUCC
        } else {
            TIM_ERR_SDKUNINIT
        }
    })
}

/// Logs `user_id` in: opens their conversations under the data directory. Any `user_sig` is
/// accepted while no server is configured.
///
/// # Safety
/// `user_id` and `user_sig` are NULL or NUL-terminated strings valid for the duration of the
/// call; `cb` is NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMLogin(
    user_id: *const c_char,
    user_sig: *const c_char,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMLogin", || {
        let state = sdk::current();
        let Some(sdk) = state.as_ref() else {
            return TIM_ERR_SDKUNINIT;
        };
        // SAFETY: the function's contract.
        let (user_id, _sig) = match unsafe { (text(user_id), text(user_sig)) } {
            (Ok(user_id), Ok(sig)) => (user_id.to_owned(), sig),
            (Err(code), _) | (_, Err(code)) => return code,
        };
        sdk.login(user_id, cb, user_data);
        TIM_SUCC
    })
}

/// Logs out after the calls already accepted.
///
/// # Safety
/// `cb` is NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMLogout(cb: TIMCommCallback, user_data: *const c_void) -> c_int {
    entry("TIMLogout", || {
        let state = sdk::current();
        let Some(sdk) = state.as_ref() else {
            return TIM_ERR_SDKUNINIT;
        };
        if sdk.logout(cb, user_data) {
            TIM_SUCC
        } else {
            TIM_ERR_NOTLOGIN
        }
    })
}
