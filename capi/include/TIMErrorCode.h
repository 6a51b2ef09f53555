/*
 * TIMErrorCode.h: the codes an asynchronous call reports in its callback (TIMErrCode).
 */
#ifndef TIM_ERROR_CODE_H_
#define TIM_ERROR_CODE_H_

#ifdef __cplusplus
extern "C" {
#endif

enum TIMErrCode {
    ERR_SUCC = 0,

    /* Local errors. */
    ERR_INVALID_CONVERSATION = 6004,    /* the conversation does not exist */
    ERR_SDK_NOT_INITIALIZED = 6013,     /* not initialised (or uninitialised before the call ran) */
    ERR_SDK_NOT_LOGGED_IN = 6014,       /* not logged in (or logged out before the call ran) */
    ERR_IN_PROGESS = 6015,              /* (sic, the original's spelling) in progress */
    ERR_INVALID_PARAMETERS = 6017,      /* a parameter's value is refused */
    ERR_DATABASE_OPERATE_FAILED = 6019, /* the local database failed */
    ERR_IO_OPERATION_FAILED = 6022,     /* a file or directory could not be used */
    ERR_INVALID_JSON = 6027,            /* invalid JSON */
    ERR_OUT_OF_MEMORY = 6028,
    ERR_SDK_INTERNAL_ERROR = 7012,
    ERR_SDK_INTERFACE_NOT_SUPPORT = 7013,

    /* Network. */
    ERR_SDK_NET_DISCONNECT = 9508,
    ERR_SDK_NET_WAIT_ACK_TIMEOUT = 9520,

    /* Server. */
    ERR_SVR_CONV_ACCOUNT_NOT_FOUND = 50001,
    ERR_SVR_CONV_INVALID_PARAMETERS = 50002,
    ERR_SVR_CONV_ADMIN_REQUIRED = 50003,
    ERR_SVR_CONV_INTERNAL_ERROR = 50004,
    ERR_SVR_CONV_NET_TIMEOUT = 50005,
    ERR_SVR_CONV_CONV_MARK_REQ_COUNT_EXCEED_LIMIT = 51006,   /* a batch empty or over 100 */
    ERR_SVR_CONV_CONV_MARK_OPERATE_FAILED = 51007,
    ERR_SVR_CONV_CONV_MARK_TOTAL_COUNT_EXCEED_LIMIT = 51008, /* over 1000 decorated */
    ERR_SVR_CONV_CONV_GROUP_NOT_EXIST = 51009,               /* no such conversation group */
    ERR_SVR_CONV_CONV_GROUP_TOTAL_COUNT_EXCEED_LIMIT = 51010, /* over 20 conversation groups */
    ERR_SVR_CONV_CONV_GROUP_NAME_EXCEED_LENGTH = 51011       /* name empty or over 32 bytes */
    /* 51012 (over 50 pinned conversations) has no name in the original. */
};
typedef enum TIMErrCode TIMErrCode;

#ifdef __cplusplus
}
#endif

#endif /* TIM_ERROR_CODE_H_ */
