/*
 * TIMCloudDef.h: definitions shared by every header of the conversation C API.
 *
 * Export macro, synchronous result codes (TIMResult), conversation types, receive options and
 * the common callback type. Part of timconv's C library (libtimconv_c), which implements the
 * conversation module of the original IM SDK's C API with the same names, values and
 * prototypes.
 */
#ifndef TIM_CLOUD_DEF_H_
#define TIM_CLOUD_DEF_H_

#include <stdint.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

/* TIM_API marks a function exported by the library; TIM_DECL is the same thing (the original
 * documentation writes prototypes with TIM_DECL). */
#if defined(_WIN32)
#if defined(TIM_EXPORTS)
#define TIM_API __declspec(dllexport)
#else
#define TIM_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define TIM_API __attribute__((visibility("default")))
#else
#define TIM_API
#endif
#define TIM_DECL TIM_API

/* The JSON key constants are `static const char*`: marked unused so that a program that
 * includes the headers and uses few of them still compiles with -Wall -Werror. */
#if defined(__GNUC__) || defined(__clang__)
#define TIM_UNUSED_KEY __attribute__((unused))
#else
#define TIM_UNUSED_KEY
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* What every function returns at once. Only TIM_SUCC means the call was accepted; only then
 * is its callback (if it has one) called, exactly once. */
enum TIMResult {
    TIM_SUCC = 0,           /* accepted */
    TIM_ERR_SDKUNINIT = -1, /* TIMInit has not been called (or TIMUninit has) */
    TIM_ERR_NOTLOGIN = -2,  /* TIMLogin has not been called (or TIMLogout has) */
    TIM_ERR_JSON = -3,      /* a JSON parameter is not JSON, or not of the documented shape */
    TIM_ERR_PARAM = -4,     /* a NULL pointer, text that is not UTF-8, a value out of range */
    TIM_ERR_CONV = -5,      /* the conversation operation failed (e.g. it does not exist) */
    TIM_ERR_GROUP = -6      /* group error (kept for compatibility; not returned) */
};
typedef enum TIMResult TIMResult;

/* Conversation types (conv_type). */
enum TIMConvType {
    kTIMConv_Invalid = 0,
    kTIMConv_C2C = 1,    /* one-to-one */
    kTIMConv_Group = 2,  /* group */
    kTIMConv_System = 3  /* deprecated: names no conversation */
};
typedef enum TIMConvType TIMConvType;

/* Receive options of a conversation (conv_recv_opt). */
enum TIMReceiveMessageOpt {
    kTIMRecvMsgOpt_Receive = 0,
    kTIMRecvMsgOpt_Not_Receive = 1,
    kTIMRecvMsgOpt_Not_Notify = 2,
    kTIMRecvMsgOpt_Not_Notify_Except_At = 3,
    kTIMRecvMsgOpt_Not_Receive_Except_At = 4
};
typedef enum TIMReceiveMessageOpt TIMReceiveMessageOpt;

/*
 * The result of an asynchronous call.
 *
 * code:        0 (ERR_SUCC) or a TIMErrCode (TIMErrorCode.h).
 * desc:        "" on success, else what went wrong. Never NULL.
 * json_params: the call's result as JSON ("" when it has none). Never NULL.
 * user_data:   the pointer given to the call, untouched.
 *
 * Called on the library's callback thread, never inside the call that started it; the strings
 * are valid until the callback returns. A callback must return normally (no C++ exception may
 * leave it); the next callback waits for it.
 */
typedef void (*TIMCommCallback)(int32_t code, const char* desc, const char* json_params,
                                const void* user_data);

#ifdef __cplusplus
}
#endif

#endif /* TIM_CLOUD_DEF_H_ */
