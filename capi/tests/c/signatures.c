/*
 * signatures.c: every prototype, callback type and constant of the original API, spelled out
 * independently of the headers: if a header disagrees, this does not compile (it is built as C11
 * and as C++17 with -Wall -Wextra -Werror -pedantic). Run, it checks the values of the enums
 * and key constants.
 */
#include <stdio.h>
#include <string.h>

#include "TIMCloud.h"
#include "TIMConvExt.h"

typedef void (*Comm)(int32_t, const char*, const char*, const void*);

static int failures = 0;
static int checks = 0;
#define SAME(a, b)                                                   \
    do {                                                             \
        checks++;                                                    \
        if ((long long)(a) != (long long)(b)) {                      \
            failures++;                                              \
            fprintf(stderr, "FAIL: %s is %lld\n", #a, (long long)(a)); \
        }                                                            \
    } while (0)
#define KEY(k, v)                                         \
    do {                                                  \
        checks++;                                         \
        if (strcmp((k), (v)) != 0) {                      \
            failures++;                                   \
            fprintf(stderr, "FAIL: %s is \"%s\"\n", #k, (k)); \
        }                                                 \
    } while (0)

int main(void) {
    /* Functions. */
    int (*init)(uint64_t, const char*) = TIMInit;
    int (*uninit)(void) = TIMUninit;
    int (*login)(const char*, const char*, TIMCommCallback, const void*) = TIMLogin;
    int (*logout)(TIMCommCallback, const void*) = TIMLogout;
    int (*create)(const char*, enum TIMConvType, TIMCommCallback, const void*) = TIMConvCreate;
    int (*del)(const char*, enum TIMConvType, TIMCommCallback, const void*) = TIMConvDelete;
    int (*del_list)(const char*, bool, TIMCommCallback, const void*) = TIMConvDeleteConversationList;
    int (*list)(TIMCommCallback, const void*) = TIMConvGetConvList;
    int (*info)(const char*, TIMCommCallback, const void*) = TIMConvGetConvInfo;
    int (*by_filter)(const char*, uint64_t, uint32_t, TIMCommCallback, const void*) =
        TIMConvGetConversationListByFilter;
    int (*set_draft)(const char*, enum TIMConvType, const char*) = TIMConvSetDraft;
    int (*cancel_draft)(const char*, enum TIMConvType) = TIMConvCancelDraft;
    int (*custom)(const char*, const char*, TIMCommCallback, const void*) =
        TIMConvSetConversationCustomData;
    int (*pin)(const char*, TIMConvType, bool, TIMCommCallback, const void*) = TIMConvPinConversation;
    int (*mark)(const char*, uint64_t, bool, TIMCommCallback, const void*) = TIMConvMarkConversation;
    int (*total)(TIMCommCallback, const void*) = TIMConvGetTotalUnreadMessageCount;
    int (*unread_filter)(const char*, TIMCommCallback, const void*) = TIMConvGetUnreadMessageCountByFilter;
    int (*subscribe)(const char*) = TIMConvSubscribeUnreadMessageCountByFilter;
    int (*unsubscribe)(const char*) = TIMConvUnsubscribeUnreadMessageCountByFilter;
    int (*clean)(const char*, uint64_t, uint64_t, TIMCommCallback, const void*) =
        TIMConvCleanConversationUnreadMessageCount;
    int (*create_group)(const char*, const char*, TIMCommCallback, const void*) =
        TIMConvCreateConversationGroup;
    int (*group_list)(TIMCommCallback, const void*) = TIMConvGetConversationGroupList;
    int (*delete_group)(const char*, TIMCommCallback, const void*) = TIMConvDeleteConversationGroup;
    int (*rename_group)(const char*, const char*, TIMCommCallback, const void*) =
        TIMConvRenameConversationGroup;
    int (*add)(const char*, const char*, TIMCommCallback, const void*) = TIMConvAddConversationsToGroup;
    int (*remove)(const char*, const char*, TIMCommCallback, const void*) =
        TIMConvDeleteConversationsFromGroup;
    int (*feed)(const char*, TIMCommCallback, const void*) = TIMConvExtFeedMessage;

    /* Callback types and listener setters. */
    Comm comm = (TIMCommCallback)0;
    void (*set_event)(void (*)(enum TIMConvEvent, const char*, const void*), const void*) =
        TIMSetConvEventCallback;
    void (*set_total)(void (*)(int, const void*), const void*) =
        TIMSetConvTotalUnreadMessageCountChangedCallback;
    void (*set_by_filter)(void (*)(const char*, int, const void*), const void*) =
        TIMSetConvUnreadMessageCountChangedByFilterCallback;
    void (*set_created)(void (*)(const char*, const char*, const void*), const void*) =
        TIMSetConvConversationGroupCreatedCallback;
    void (*set_deleted)(void (*)(const char*, const void*), const void*) =
        TIMSetConvConversationGroupDeletedCallback;
    void (*set_renamed)(void (*)(const char*, const char*, const void*), const void*) =
        TIMSetConvConversationGroupNameChangedCallback;
    void (*set_added)(void (*)(const char*, const char*, const void*), const void*) =
        TIMSetConvConversationsAddedToGroupCallback;
    void (*set_removed)(void (*)(const char*, const char*, const void*), const void*) =
        TIMSetConvConversationsDeletedFromGroupCallback;
    TIMConvEventCallback a = (TIMConvEventCallback)0;
    TIMConvTotalUnreadMessageCountChangedCallback b = (TIMConvTotalUnreadMessageCountChangedCallback)0;
    TIMConvTotalUnreadMessageCountChangedByFilterCallback c =
        (TIMConvTotalUnreadMessageCountChangedByFilterCallback)0;
    TIMConvConversationGroupCreatedCallback d = (TIMConvConversationGroupCreatedCallback)0;
    TIMConvConversationGroupDeletedCallback e = (TIMConvConversationGroupDeletedCallback)0;
    TIMConvConversationGroupNameChangedCallback f = (TIMConvConversationGroupNameChangedCallback)0;
    TIMConvConversationsAddedToGroupCallback g = (TIMConvConversationsAddedToGroupCallback)0;
    TIMConvConversationsDeletedFromGroupCallback h = (TIMConvConversationsDeletedFromGroupCallback)0;
    const void* all[] = {(const void*)&init, (const void*)&uninit, (const void*)&login,
                         (const void*)&logout, (const void*)&create, (const void*)&del,
                         (const void*)&del_list, (const void*)&list, (const void*)&info,
                         (const void*)&by_filter, (const void*)&set_draft,
                         (const void*)&cancel_draft, (const void*)&custom, (const void*)&pin,
                         (const void*)&mark, (const void*)&total, (const void*)&unread_filter,
                         (const void*)&subscribe, (const void*)&unsubscribe, (const void*)&clean,
                         (const void*)&create_group, (const void*)&group_list,
                         (const void*)&delete_group, (const void*)&rename_group, (const void*)&add,
                         (const void*)&remove, (const void*)&feed, (const void*)&comm,
                         (const void*)&set_event, (const void*)&set_total,
                         (const void*)&set_by_filter, (const void*)&set_created,
                         (const void*)&set_deleted, (const void*)&set_renamed,
                         (const void*)&set_added, (const void*)&set_removed, (const void*)&a,
                         (const void*)&b, (const void*)&c, (const void*)&d, (const void*)&e,
                         (const void*)&f, (const void*)&g, (const void*)&h};
    SAME(sizeof all / sizeof all[0], 44);

    /* Enum values. */
    SAME(TIM_SUCC, 0); SAME(TIM_ERR_SDKUNINIT, -1); SAME(TIM_ERR_NOTLOGIN, -2);
    SAME(TIM_ERR_JSON, -3); SAME(TIM_ERR_PARAM, -4); SAME(TIM_ERR_CONV, -5); SAME(TIM_ERR_GROUP, -6);
    SAME(kTIMConv_Invalid, 0); SAME(kTIMConv_C2C, 1); SAME(kTIMConv_Group, 2); SAME(kTIMConv_System, 3);
    SAME(kTIMRecvMsgOpt_Receive, 0); SAME(kTIMRecvMsgOpt_Not_Receive, 1);
    SAME(kTIMRecvMsgOpt_Not_Notify, 2); SAME(kTIMRecvMsgOpt_Not_Notify_Except_At, 3);
    SAME(kTIMRecvMsgOpt_Not_Receive_Except_At, 4);
    SAME(kTIMConvEvent_Add, 0); SAME(kTIMConvEvent_Del, 1); SAME(kTIMConvEvent_Update, 2);
    SAME(kTIMConvEvent_Start, 3); SAME(kTIMConvEvent_Finish, 4);
    SAME(kTIMConversationMarkTypeStar, 0x1); SAME(kTIMConversationMarkTypeUnread, 0x2);
    SAME(kTIMConversationMarkTypeFold, 0x4); SAME(kTIMConversationMarkTypeHide, 0x8);
    SAME(kTIMGroup_At_Me, 1); SAME(kTIMGroup_At_All, 2); SAME(kTIMGroup_At_All_At_ME, 3);
    SAME(kTIMElem_Text, 0); SAME(kTIMElem_Image, 1); SAME(kTIMElem_Sound, 2); SAME(kTIMElem_Custom, 3);
    SAME(kTIMElem_File, 4); SAME(kTIMElem_GroupTips, 5); SAME(kTIMElem_Face, 6);
    SAME(kTIMElem_Location, 7); SAME(kTIMElem_GroupReport, 8); SAME(kTIMElem_Video, 9);
    SAME(kTIMElem_FriendChange, 10); SAME(kTIMElem_ProfileChange, 11); SAME(kTIMElem_Merge, 12);
    SAME(kTIMElem_Invalid, -1);
    SAME(ERR_SUCC, 0); SAME(ERR_INVALID_CONVERSATION, 6004); SAME(ERR_SDK_NOT_INITIALIZED, 6013);
    SAME(ERR_SDK_NOT_LOGGED_IN, 6014); SAME(ERR_IN_PROGESS, 6015); SAME(ERR_INVALID_PARAMETERS, 6017);
    SAME(ERR_DATABASE_OPERATE_FAILED, 6019); SAME(ERR_IO_OPERATION_FAILED, 6022);
    SAME(ERR_INVALID_JSON, 6027); SAME(ERR_OUT_OF_MEMORY, 6028); SAME(ERR_SDK_INTERNAL_ERROR, 7012);
    SAME(ERR_SDK_INTERFACE_NOT_SUPPORT, 7013); SAME(ERR_SDK_NET_DISCONNECT, 9508);
    SAME(ERR_SDK_NET_WAIT_ACK_TIMEOUT, 9520); SAME(ERR_SVR_CONV_ACCOUNT_NOT_FOUND, 50001);
    SAME(ERR_SVR_CONV_INVALID_PARAMETERS, 50002); SAME(ERR_SVR_CONV_ADMIN_REQUIRED, 50003);
    SAME(ERR_SVR_CONV_INTERNAL_ERROR, 50004); SAME(ERR_SVR_CONV_NET_TIMEOUT, 50005);
    SAME(ERR_SVR_CONV_CONV_MARK_REQ_COUNT_EXCEED_LIMIT, 51006);
    SAME(ERR_SVR_CONV_CONV_MARK_OPERATE_FAILED, 51007);
    SAME(ERR_SVR_CONV_CONV_MARK_TOTAL_COUNT_EXCEED_LIMIT, 51008);
    SAME(ERR_SVR_CONV_CONV_GROUP_NOT_EXIST, 51009);
    SAME(ERR_SVR_CONV_CONV_GROUP_TOTAL_COUNT_EXCEED_LIMIT, 51010);
    SAME(ERR_SVR_CONV_CONV_GROUP_NAME_EXCEED_LENGTH, 51011);

    /* JSON keys. */
    KEY(kTIMSdkConfigConfigFilePath, "sdk_config_config_file_path");
    KEY(kTIMSdkConfigLogFilePath, "sdk_config_log_file_path");
    KEY(kTIMSdkConfigMainThreadID, "sdk_config_main_thread_id");
    KEY(kTIMElemType, "elem_type"); KEY(kTIMTextElemContent, "text_elem_content");
    KEY(kTIMMsgElemArray, "message_elem_array"); KEY(kTIMMsgConvId, "message_conv_id");
    KEY(kTIMMsgConvType, "message_conv_type");
    KEY(kTIMDraftMsg, "draft_msg"); KEY(kTIMDraftUserDefine, "draft_user_define");
    KEY(kTIMDraftEditTime, "draft_edit_time");
    KEY(kTIMGroupAtInfoSeq, "conv_group_at_info_seq"); KEY(kTIMGroupAtInfoAtType, "conv_group_at_info_at_type");
    KEY(kTIMConvId, "conv_id"); KEY(kTIMConvType, "conv_type"); KEY(kTIMConvShowName, "conv_show_name");
    KEY(kTIMConvFaceUrl, "conv_face_url"); KEY(kTIMConvUnReadNum, "conv_unread_num");
    KEY(kTIMConvActiveTime, "conv_active_time"); KEY(kTIMConvIsHasLastMsg, "conv_is_has_lastmsg");
    KEY(kTIMConvLastMsg, "conv_last_msg"); KEY(kTIMConvIsHasDraft, "conv_is_has_draft");
    KEY(kTIMConvDraft, "conv_draft"); KEY(kTIMConvRecvOpt, "conv_recv_opt");
    KEY(kTIMConvGroupType, "conv_group_type"); KEY(kTIMConvGroupAtInfoArray, "conv_group_at_info_array");
    KEY(kTIMConvIsPinned, "conv_is_pinned"); KEY(kTIMConvMarkArray, "conv_mark_array");
    KEY(kTIMConvCustomData, "conv_custom_data");
    KEY(kTIMConvConversationGroupArray, "conv_conversation_group_array");
    KEY(kTIMConvC2CReadTimestamp, "conv_c2c_read_timestamp");
    KEY(kTIMConvGroupReadSequence, "conv_group_read_sequence"); KEY(kTIMConvOwner, "conv_owner");
    KEY(kTIMConversationListFilterConvType, "conversation_list_filter_conv_type");
    KEY(kTIMConversationListFilterConversationGroup, "conversation_list_filter_conversation_group");
    KEY(kTIMConversationListFilterMarkType, "conversation_list_filter_mark_type");
    KEY(kTIMConversationListFilterHasUnreadCount, "conversation_list_filter_has_unread_count");
    KEY(kTIMConversationListFilterHasGroupAtInfo, "conversation_list_filter_has_group_at_info");
    KEY(TIMConversationListResultConvList, "conversation_list_result_conv_list");
    KEY(TIMConversationListResultNextSeq, "conversation_list_result_next_seq");
    KEY(TIMConversationListResultIsFinished, "conversation_list_result_is_finished");
    KEY(kTIMGetConversationListParamConvId, "get_conversation_list_param_conv_id");
    KEY(kTIMGetConversationListParamConvType, "get_conversation_list_param_conv_type");
    KEY(kTIMConvGetTotalUnreadMessageCountResultUnreadCount,
        "conv_get_total_unread_message_count_result_unread_count");
    KEY(kTIMConversationOperationResultConversationID, "conversation_operation_result_conversation_id");
    KEY(kTIMConversationOperationResultResultCode, "conversation_operation_result_result_code");
    KEY(kTIMConversationOperationResultResultInfo, "conversation_operation_result_result_info");

    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
