/*
 * TIMConversationManager.h: the conversation list.
 *
 * Conversations are one-to-one (C2C) or group chats. The calls that name one conversation take
 * its raw ID (the peer's user ID or the group ID) plus its type; the batch calls take full IDs,
 * "c2c_<user ID>" or "group_<group ID>", as a JSON array of strings.
 *
 * Every function returns a TIMResult at once. Only when it returns TIM_SUCC is its callback
 * called, exactly once, later, on the library's callback thread. That one thread calls every
 * callback and every listener, one at a time and in order; callbacks of calls come in the order
 * the calls were made, each after the listener calls for the events of its change. The strings a callback receives are valid until it returns; user_data
 * comes back untouched. A NULL cb is allowed: the call is carried out and nothing is reported.
 *
 * At once (returned): TIM_ERR_SDKUNINIT before TIMInit, TIM_ERR_NOTLOGIN before TIMLogin,
 * TIM_ERR_PARAM for a NULL pointer, text that is not UTF-8 or text over 16 MiB, TIM_ERR_JSON for a JSON
 * parameter that is not JSON or not of the documented shape. Everything else is the
 * callback's code: ERR_INVALID_PARAMETERS (6017) for values the operation refuses (a malformed
 * conversation ID, a type that names no conversation, reserved mark bits, count 0, custom data
 * over 256 bytes), ERR_INVALID_CONVERSATION (6004), and the limits: 51006 (a batch empty or
 * over 100), 51008 (over 1000 conversations with marks, custom data or groups), 51009, 51010,
 * 51011, 51012 (over 50 pinned). The functions without a callback report those as
 * TIM_ERR_PARAM, or TIM_ERR_CONV when the conversation does not exist or the operation failed.
 */
#ifndef TIM_CONVERSATION_MANAGER_H_
#define TIM_CONVERSATION_MANAGER_H_

#include "TIMCloudDef.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* Enums                                                                                    */

/* What a conversation event (TIMSetConvEventCallback) reports. */
enum TIMConvEvent {
    kTIMConvEvent_Add = 0,    /* new conversations: a ConvInfo array */
    kTIMConvEvent_Del = 1,    /* deleted conversations: ConvInfo with conv_id and conv_type */
    kTIMConvEvent_Update = 2, /* changed conversations (message, unread, pin, mark, draft, ...) */
    kTIMConvEvent_Start = 3,  /* server sync started: "[]" */
    kTIMConvEvent_Finish = 4  /* server sync finished: "[]" */
};
typedef enum TIMConvEvent TIMConvEvent;

/* Mark bits (conv_mark_array, TIMConvMarkConversation). Bits 32..63 are free for the app
 * ("extension marks", written 0x1LL << n); bits 4..31 are reserved. Marks are only recorded:
 * Unread does not change the unread count, Fold and Hide remove nothing from lists. */
enum TIMConversationMarkType {
    kTIMConversationMarkTypeStar = 0x1,
    kTIMConversationMarkTypeUnread = 0x2,
    kTIMConversationMarkTypeFold = 0x4,
    kTIMConversationMarkTypeHide = 0x8
};
typedef enum TIMConversationMarkType TIMConversationMarkType;

/* What a group @ mention addressed (conv_group_at_info_at_type). */
enum TIMGroupAtType {
    kTIMGroup_At_Me = 1,
    kTIMGroup_At_All = 2,
    kTIMGroup_At_All_At_ME = 3
};
typedef enum TIMGroupAtType TIMGroupAtType;

/* ---------------------------------------------------------------------------------------- */
/* Listener callbacks. Set with the TIMSet... functions below; they run on the callback      */
/* thread, after the change they report is stored.                                          */

/* Conversations added, deleted or changed; sync started or finished. json_conv_array is a
 * JSON array of ConvInfo. */
typedef void (*TIMConvEventCallback)(enum TIMConvEvent conv_event, const char* json_conv_array,
                                     const void* user_data);
/* The total unread changed (the sum over conversations not set to Not_Receive or Not_Notify). */
typedef void (*TIMConvTotalUnreadMessageCountChangedCallback)(int total_unread_count,
                                                              const void* user_data);
/* The unread count of a subscribed filter changed; filter is the JSON text it was subscribed
 * with. */
typedef void (*TIMConvTotalUnreadMessageCountChangedByFilterCallback)(const char* filter,
                                                                      int total_unread_count,
                                                                      const void* user_data);
/* A conversation group was created; conversation_array: ConvInfo array of its members. */
typedef void (*TIMConvConversationGroupCreatedCallback)(const char* group_name,
                                                        const char* conversation_array,
                                                        const void* user_data);
/* A conversation group was deleted. */
typedef void (*TIMConvConversationGroupDeletedCallback)(const char* group_name,
                                                        const void* user_data);
/* A conversation group was renamed. */
typedef void (*TIMConvConversationGroupNameChangedCallback)(const char* old_name,
                                                            const char* new_name,
                                                            const void* user_data);
/* Conversations were added to a group; conversation_array: ConvInfo array of those added. */
typedef void (*TIMConvConversationsAddedToGroupCallback)(const char* group_name,
                                                         const char* conversation_array,
                                                         const void* user_data);
/* Conversations left a group (removed, or deleted); conversation_array: ConvInfo array. */
typedef void (*TIMConvConversationsDeletedFromGroupCallback)(const char* group_name,
                                                             const char* conversation_array,
                                                             const void* user_data);

/* Listener setters. A listener is process-wide: it may be set before TIMInit, stays set across
 * logins until replaced, and a NULL cb removes it. After a setter returns, events go to the new
 * listener. */
TIM_API void TIMSetConvEventCallback(TIMConvEventCallback cb, const void* user_data);
TIM_API void TIMSetConvTotalUnreadMessageCountChangedCallback(
    TIMConvTotalUnreadMessageCountChangedCallback cb, const void* user_data);
TIM_API void TIMSetConvUnreadMessageCountChangedByFilterCallback(
    TIMConvTotalUnreadMessageCountChangedByFilterCallback cb, const void* user_data);
TIM_API void TIMSetConvConversationGroupCreatedCallback(TIMConvConversationGroupCreatedCallback cb,
                                                        const void* user_data);
TIM_API void TIMSetConvConversationGroupDeletedCallback(TIMConvConversationGroupDeletedCallback cb,
                                                        const void* user_data);
TIM_API void TIMSetConvConversationGroupNameChangedCallback(
    TIMConvConversationGroupNameChangedCallback cb, const void* user_data);
TIM_API void TIMSetConvConversationsAddedToGroupCallback(
    TIMConvConversationsAddedToGroupCallback cb, const void* user_data);
TIM_API void TIMSetConvConversationsDeletedFromGroupCallback(
    TIMConvConversationsDeletedFromGroupCallback cb, const void* user_data);

/* ---------------------------------------------------------------------------------------- */
/* Conversations                                                                            */

/* Deprecated (conversations are created by the messages sent and received): gets the
 * conversation, creating it if it does not exist. cb: one ConvInfo object. */
TIM_API int TIMConvCreate(const char* conv_id, enum TIMConvType conv_type, TIMCommCallback cb,
                          const void* user_data);

/* Deletes a conversation and its message history: it leaves every list, the totals and its
 * conversation groups, and comes back only with a newer message. cb: "" (6004 if missing). */
TIM_API int TIMConvDelete(const char* conv_id, enum TIMConvType conv_type, TIMCommCallback cb,
                          const void* user_data);

/* Deletes up to 100 conversations (full IDs, a JSON array of strings); clear_message also drops
 * their history. cb: an array of TIMConversationOperationResult, one per distinct conversation. */
TIM_API int TIMConvDeleteConversationList(const char* conversation_id_array, bool clear_message,
                                          TIMCommCallback cb, const void* user_data);

/* Every conversation, pinned first, then most recently active first. cb: a ConvInfo array. */
TIM_API int TIMConvGetConvList(TIMCommCallback cb, const void* user_data);

/* The conversations among those named that exist, in the order asked; none is created.
 * json_get_conv_list_param: a JSON array of objects with kTIMGetConversationListParamConvId
 * and kTIMGetConversationListParamConvType. cb: a ConvInfo array. */
TIM_API int TIMConvGetConvInfo(const char* json_get_conv_list_param, TIMCommCallback cb,
                               const void* user_data);

/* One page of the conversations matching filter (a TIMConversationListFilter JSON object; "{}"
 * for all), in list order. next_seq 0 starts at the top; pass back the result's next_seq until
 * is_finished. next_seq is a position, not an offset: a walk over a list that changes between
 * pages returns no conversation twice. count >= 1 (100 is a good page). cb: a
 * TIMConversationListResult object. */
TIM_API int TIMConvGetConversationListByFilter(const char* filter, uint64_t next_seq,
                                               uint32_t count, TIMCommCallback cb,
                                               const void* user_data);

/* ---------------------------------------------------------------------------------------- */
/* Drafts: local only, never sent to a server. No callback: the draft is stored when the     */
/* function returns TIM_SUCC.                                                                */

/* Sets the draft (a Draft JSON object); creates the conversation if needed and makes it the
 * most recently active one. */
TIM_API int TIMConvSetDraft(const char* conv_id, enum TIMConvType conv_type,
                            const char* json_draft_param);
/* Removes the draft; TIM_ERR_CONV if the conversation does not exist. */
TIM_API int TIMConvCancelDraft(const char* conv_id, enum TIMConvType conv_type);

/* ---------------------------------------------------------------------------------------- */
/* Pin, marks, custom data                                                                  */

/* Sets opaque custom data (at most 256 bytes; "" clears it) on up to 100 conversations (full
 * IDs, a JSON array of strings). cb: an array of TIMConversationOperationResult. */
TIM_API int TIMConvSetConversationCustomData(const char* conversation_id_array,
                                             const char* custom_data, TIMCommCallback cb,
                                             const void* user_data);

/* Pins or unpins a conversation; pinned ones come first in every list (at most 50: 51012).
 * cb: "". */
TIM_API int TIMConvPinConversation(const char* conv_id, enum TIMConvType conv_type,
                                   bool is_pinned, TIMCommCallback cb, const void* user_data);

/* Sets (enable_mark true) or clears mark_type's bits (TIMConversationMarkType and extension
 * bits 32..63) on up to 100 conversations (full IDs). cb: an array of
 * TIMConversationOperationResult. */
TIM_API int TIMConvMarkConversation(const char* conversation_id_array, uint64_t mark_type,
                                    bool enable_mark, TIMCommCallback cb, const void* user_data);

/* ---------------------------------------------------------------------------------------- */
/* Unread counts                                                                            */

/* The total unread: the sum over conversations whose receive option is neither Not_Receive
 * nor Not_Notify. cb: {kTIMConvGetTotalUnreadMessageCountResultUnreadCount: n}. */
TIM_API int TIMConvGetTotalUnreadMessageCount(TIMCommCallback cb, const void* user_data);

/* The same sum over the conversations matching filter. cb: as above. */
TIM_API int TIMConvGetUnreadMessageCountByFilter(const char* filter, TIMCommCallback cb,
                                                 const void* user_data);

/* Reports each change of filter's unread count to the listener set with
 * TIMSetConvUnreadMessageCountChangedByFilterCallback. Subscribing twice to an equal filter is
 * one subscription. No callback. */
TIM_API int TIMConvSubscribeUnreadMessageCountByFilter(const char* filter);

/* Ends the subscription of an equal filter (none: TIM_SUCC all the same). No callback. */
TIM_API int TIMConvUnsubscribeUnreadMessageCountByFilter(const char* filter);

/* Marks messages read: a C2C conversation up to clean_timestamp, a group one up to
 * clean_sequence (0 = everything). conversation_id is a full ID, or "c2c" (every C2C
 * conversation), "group" (every group one) or "" (all). Read positions never move back.
 * cb: "". */
TIM_API int TIMConvCleanConversationUnreadMessageCount(const char* conversation_id,
                                                       uint64_t clean_timestamp,
                                                       uint64_t clean_sequence,
                                                       TIMCommCallback cb, const void* user_data);

/* ---------------------------------------------------------------------------------------- */
/* Conversation groups: user-defined folders. Names are 1..32 bytes (51011); at most 20     */
/* groups (51010); an unknown name is 51009; up to 100 conversations per call (51006).      */

/* Creates group_name with the conversations of conversation_id_array (full IDs, not empty);
 * an existing name is ERR_INVALID_PARAMETERS. cb: an array of TIMConversationOperationResult. */
TIM_API int TIMConvCreateConversationGroup(const char* group_name,
                                           const char* conversation_id_array, TIMCommCallback cb,
                                           const void* user_data);
/* The group names, in creation order. cb: a JSON array of strings. */
TIM_API int TIMConvGetConversationGroupList(TIMCommCallback cb, const void* user_data);
/* Deletes a group; its conversations stay. cb: "". */
TIM_API int TIMConvDeleteConversationGroup(const char* group_name, TIMCommCallback cb,
                                           const void* user_data);
/* Renames a group, keeping its members. cb: "". */
TIM_API int TIMConvRenameConversationGroup(const char* old_name, const char* new_name,
                                           TIMCommCallback cb, const void* user_data);
/* Adds conversations to a group. cb: an array of TIMConversationOperationResult. */
TIM_API int TIMConvAddConversationsToGroup(const char* group_name,
                                           const char* conversation_id_array, TIMCommCallback cb,
                                           const void* user_data);
/* Removes conversations from a group. cb: an array of TIMConversationOperationResult. */
TIM_API int TIMConvDeleteConversationsFromGroup(const char* group_name,
                                                const char* conversation_id_array,
                                                TIMCommCallback cb, const void* user_data);

/* ---------------------------------------------------------------------------------------- */
/* JSON keys                                                                                */

/* Draft (TIMConvSetDraft, conv_draft) */
static const char* kTIMDraftMsg TIM_UNUSED_KEY = "draft_msg";               /* object, a message */
static const char* kTIMDraftUserDefine TIM_UNUSED_KEY = "draft_user_define"; /* string */
static const char* kTIMDraftEditTime TIM_UNUSED_KEY = "draft_edit_time";     /* uint64, UTC s */

/* GroupAtInfo (elements of conv_group_at_info_array) */
static const char* kTIMGroupAtInfoSeq TIM_UNUSED_KEY = "conv_group_at_info_seq";         /* uint64 */
static const char* kTIMGroupAtInfoAtType TIM_UNUSED_KEY = "conv_group_at_info_at_type"; /* uint */

/* ConvInfo: one conversation */
static const char* kTIMConvId TIM_UNUSED_KEY = "conv_id";                /* string, raw ID */
static const char* kTIMConvType TIM_UNUSED_KEY = "conv_type";            /* uint TIMConvType */
static const char* kTIMConvOwner TIM_UNUSED_KEY = "conv_owner";          /* deprecated, absent */
static const char* kTIMConvShowName TIM_UNUSED_KEY = "conv_show_name";   /* string */
static const char* kTIMConvFaceUrl TIM_UNUSED_KEY = "conv_face_url";     /* string */
static const char* kTIMConvUnReadNum TIM_UNUSED_KEY = "conv_unread_num"; /* uint64 */
/* uint64: the order key; bit 62 is set on pinned conversations */
static const char* kTIMConvActiveTime TIM_UNUSED_KEY = "conv_active_time";
static const char* kTIMConvIsHasLastMsg TIM_UNUSED_KEY = "conv_is_has_lastmsg"; /* bool */
static const char* kTIMConvLastMsg TIM_UNUSED_KEY = "conv_last_msg";            /* object */
static const char* kTIMConvIsHasDraft TIM_UNUSED_KEY = "conv_is_has_draft";     /* bool */
static const char* kTIMConvDraft TIM_UNUSED_KEY = "conv_draft";                 /* Draft */
static const char* kTIMConvRecvOpt TIM_UNUSED_KEY = "conv_recv_opt"; /* uint TIMReceiveMessageOpt */
static const char* kTIMConvGroupType TIM_UNUSED_KEY = "conv_group_type";        /* uint */
static const char* kTIMConvGroupAtInfoArray TIM_UNUSED_KEY = "conv_group_at_info_array";
static const char* kTIMConvIsPinned TIM_UNUSED_KEY = "conv_is_pinned";          /* bool */
static const char* kTIMConvMarkArray TIM_UNUSED_KEY = "conv_mark_array"; /* array of uint64 */
static const char* kTIMConvCustomData TIM_UNUSED_KEY = "conv_custom_data";      /* string */
static const char* kTIMConvConversationGroupArray TIM_UNUSED_KEY =
    "conv_conversation_group_array";                                           /* array of string */
static const char* kTIMConvC2CReadTimestamp TIM_UNUSED_KEY = "conv_c2c_read_timestamp";
static const char* kTIMConvGroupReadSequence TIM_UNUSED_KEY = "conv_group_read_sequence";

/* TIMConversationListFilter: an absent key does not filter */
static const char* kTIMConversationListFilterConvType TIM_UNUSED_KEY =
    "conversation_list_filter_conv_type"; /* uint: only this type */
static const char* kTIMConversationListFilterConversationGroup TIM_UNUSED_KEY =
    "conversation_list_filter_conversation_group"; /* string: members; "" = in no group */
static const char* kTIMConversationListFilterMarkType TIM_UNUSED_KEY =
    "conversation_list_filter_mark_type"; /* uint64: any of these bits; 0 = no mark */
static const char* kTIMConversationListFilterHasUnreadCount TIM_UNUSED_KEY =
    "conversation_list_filter_has_unread_count"; /* bool */
static const char* kTIMConversationListFilterHasGroupAtInfo TIM_UNUSED_KEY =
    "conversation_list_filter_has_group_at_info"; /* bool */

/* TIMConversationListResult (TIMConvGetConversationListByFilter) */
static const char* TIMConversationListResultConvList TIM_UNUSED_KEY =
    "conversation_list_result_conv_list"; /* ConvInfo array */
static const char* TIMConversationListResultNextSeq TIM_UNUSED_KEY =
    "conversation_list_result_next_seq"; /* uint64 */
static const char* TIMConversationListResultIsFinished TIM_UNUSED_KEY =
    "conversation_list_result_is_finished"; /* bool */

/* GetConversationListParam (elements of TIMConvGetConvInfo's array) */
static const char* kTIMGetConversationListParamConvId TIM_UNUSED_KEY =
    "get_conversation_list_param_conv_id"; /* string, raw ID */
static const char* kTIMGetConversationListParamConvType TIM_UNUSED_KEY =
    "get_conversation_list_param_conv_type"; /* uint TIMConvType */

/* GetTotalUnreadNumberResult */
static const char* kTIMConvGetTotalUnreadMessageCountResultUnreadCount TIM_UNUSED_KEY =
    "conv_get_total_unread_message_count_result_unread_count"; /* uint64 */

/* TIMConversationOperationResult: one per conversation of a batch call */
static const char* kTIMConversationOperationResultConversationID TIM_UNUSED_KEY =
    "conversation_operation_result_conversation_id"; /* string, full ID */
static const char* kTIMConversationOperationResultResultCode TIM_UNUSED_KEY =
    "conversation_operation_result_result_code"; /* int, 0 = success */
static const char* kTIMConversationOperationResultResultInfo TIM_UNUSED_KEY =
    "conversation_operation_result_result_info"; /* string, "" on success */

#ifdef __cplusplus
}
#endif

#endif /* TIM_CONVERSATION_MANAGER_H_ */
