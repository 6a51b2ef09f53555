/*
 * TIMManager.h: initialising the library and logging in.
 */
#ifndef TIM_MANAGER_H_
#define TIM_MANAGER_H_

#include "TIMCloudDef.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SdkConfig: keys of TIMInit's json_sdk_config (a JSON object; every key optional). */
/* string: the data directory. Each user's conversations are kept in a SQLite file under
 * <dir>/<sdk_app_id>/<user_id>/. Absent or "": $XDG_DATA_HOME/timconv, else
 * $HOME/.local/share/timconv, else ./timconv-data. */
static const char* kTIMSdkConfigConfigFilePath TIM_UNUSED_KEY = "sdk_config_config_file_path";
/* string: accepted for compatibility; the library logs through the host's tracing, not to files. */
static const char* kTIMSdkConfigLogFilePath TIM_UNUSED_KEY = "sdk_config_log_file_path";
/* uint64: accepted for compatibility; callbacks always run on the library's callback thread. */
static const char* kTIMSdkConfigMainThreadID TIM_UNUSED_KEY = "sdk_config_main_thread_id";

/*
 * Initialises the library: starts its threads and remembers the data directory.
 * json_sdk_config may be NULL or "" for the defaults.
 * Returns TIM_SUCC (also when already initialised with the same app ID and directory),
 * TIM_ERR_JSON for a config that is not a JSON object of the documented keys, TIM_ERR_PARAM
 * for text that is not UTF-8 or an initialisation with another app ID or directory.
 */
TIM_API int TIMInit(uint64_t sdk_app_id, const char* json_sdk_config);

/*
 * Uninitialises: the calls already accepted are carried out (or, if that takes too long,
 * fail with ERR_SDK_NOT_INITIALIZED), the user is logged out, their callbacks are called, and
 * the library's threads stop. Afterwards every call returns TIM_ERR_SDKUNINIT until TIMInit.
 * Returns TIM_SUCC, or TIM_ERR_SDKUNINIT if not initialised.
 */
TIM_API int TIMUninit(void);

/*
 * Logs user_id in: opens that user's conversations under the data directory (created if
 * missing). While no server is configured, any user_sig is accepted.
 * cb: 0 on success; ERR_IO_OPERATION_FAILED if the directory cannot be made,
 * ERR_DATABASE_OPERATE_FAILED if the database cannot be opened (for example it is open in
 * another process), ERR_INVALID_PARAMETERS for an empty user_id or one while another user is
 * logged in. Logging in again as the logged-in user succeeds.
 */
TIM_API int TIMLogin(const char* user_id, const char* user_sig, TIMCommCallback cb,
                     const void* user_data);

/*
 * Logs out after the calls already accepted: closes the user's database. Afterwards the
 * conversation calls return TIM_ERR_NOTLOGIN until the next TIMLogin.
 */
TIM_API int TIMLogout(TIMCommCallback cb, const void* user_data);

#ifdef __cplusplus
}
#endif

#endif /* TIM_MANAGER_H_ */
