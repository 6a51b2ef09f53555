/*
 * seed.c: replays each example of the original C API document, in C, against libtimconv_c.
 *
 * Usage: seed <data dir>. Prints a record per callback (see harness.h); the test harness checks
 * their JSON. The program itself checks return values, callback codes, callback counts, threads
 * and user_data. seed.cpp replays the same examples in the document's C++ style and prints the
 * same records.
 */
#include "harness.h"

/* The last message of the document's TIMConvGetConvInfo example, exactly. */
static const char* SEED_MESSAGE =
    "{\"message_client_time\":1620877708,\"message_conv_id\":\"98826\",\"message_conv_type\":1,"
    "\"message_custom_int\":0,\"message_custom_str\":\"\","
    "\"message_elem_array\":[{\"elem_type\":0,\"text_elem_content\":\"11111\"}],"
    "\"message_is_from_self\":false,\"message_is_online_msg\":false,\"message_is_peer_read\":false,"
    "\"message_is_read\":false,\"message_msg_id\":\"144115233874815003-1620877708-1038050731\","
    "\"message_platform\":0,\"message_priority\":1,\"message_rand\":1038050731,"
    "\"message_sender\":\"98826\",\"message_sender_profile\":{\"user_profile_add_permission\":1,"
    "\"user_profile_birthday\":0,\"user_profile_custom_string_array\":[],"
    "\"user_profile_face_url\":\"test1-www.google.com\",\"user_profile_gender\":0,"
    "\"user_profile_identifier\":\"98826\",\"user_profile_language\":0,\"user_profile_level\":0,"
    "\"user_profile_location\":\"\",\"user_profile_nick_name\":\"test change8888\","
    "\"user_profile_role\":0,\"user_profile_self_signature\":\"\"},\"message_seq\":15840,"
    "\"message_server_time\":1620877708,\"message_status\":2,"
    "\"message_unique_id\":6961616747713488299}";

static const char* C1_MESSAGE =
    "{\"message_msg_id\":\"c1-1\",\"message_conv_id\":\"conversation_id1\",\"message_conv_type\":1,"
    "\"message_sender\":\"conversation_id1\",\"message_server_time\":1700000001,"
    "\"message_client_time\":1700000001,\"message_elem_array\":[{\"elem_type\":0,"
    "\"text_elem_content\":\"hello\"}]}";
static const char* G2_MESSAGE_1 =
    "{\"message_msg_id\":\"g2-1\",\"message_conv_id\":\"conversation_id2\",\"message_conv_type\":2,"
    "\"message_sender\":\"bob\",\"message_seq\":1,\"message_server_time\":1700000002,"
    "\"message_elem_array\":[{\"elem_type\":0,\"text_elem_content\":\"hi all\"}]}";
static const char* G2_MESSAGE_2 =
    "{\"message_msg_id\":\"g2-2\",\"message_conv_id\":\"conversation_id2\",\"message_conv_type\":2,"
    "\"message_sender\":\"bob\",\"message_seq\":2,\"message_server_time\":1700000003,"
    "\"message_group_at_user_array\":[\"user1\"],"
    "\"message_elem_array\":[{\"elem_type\":0,\"text_elem_content\":\"@user1 look\"}]}";

/* The document's draft, exactly. */
static const char* SEED_DRAFT =
    "{\n   \"draft_edit_time\" : 1551271429,\n   \"draft_msg\" : {\n      \"message_elem_array\" : [\n"
    "         {\n            \"elem_type\" : 0,\n            \"text_elem_content\" : \"this draft\"\n"
    "         }\n      ]\n   },\n   \"draft_user_define\" : \"this is userdefine\"\n}\n";

static const char* TWO_IDS = "[\"c2c_conversation_id1\",\"group_conversation_id2\"]";
static const char* FILTER =
    "{\"conversation_list_filter_conv_type\":2,\"conversation_list_filter_mark_type\":1,"
    "\"conversation_list_filter_conversation_group\":\"my_group_name\"}";

int main(int argc, char** argv) {
    char config[4096];
    char* next_page;
    uint64_t next_seq = 0;
    int page = 0;
    if (argc < 2) return 2;
    config_for(config, sizeof config, argv[1]);

    check(TIMInit(1400000000, config) == TIM_SUCC, "init");
    EXPECT("login", TIM_SUCC, 0, TIMLogin("user1", "any signature", on_result, P));

    /* Conversations come from messages: the document's example message, and the
     * conversations its batch examples name. */
    EXPECT("feed_98826", TIM_SUCC, 0, TIMConvExtFeedMessage(SEED_MESSAGE, on_result, P));
    EXPECT("feed_c1", TIM_SUCC, 0, TIMConvExtFeedMessage(C1_MESSAGE, on_result, P));
    EXPECT("feed_g2_1", TIM_SUCC, 0, TIMConvExtFeedMessage(G2_MESSAGE_1, on_result, P));
    EXPECT("feed_g2_2", TIM_SUCC, 0, TIMConvExtFeedMessage(G2_MESSAGE_2, on_result, P));

    /* TIMConvCreate, examples one and two. */
    EXPECT("create_c2c", TIM_SUCC, 0, TIMConvCreate("Windows-02", kTIMConv_C2C, on_result, P));
    EXPECT("create_group", TIM_SUCC, 0,
           TIMConvCreate("Windows-Group-01", kTIMConv_Group, on_result, P));

    /* TIMConvGetConvInfo. */
    EXPECT("get_conv_info", TIM_SUCC, 0,
           TIMConvGetConvInfo("[{\"get_conversation_list_param_conv_id\":\"98826\","
                              "\"get_conversation_list_param_conv_type\":1}]",
                              on_result, P));

    /* TIMConvSetDraft / TIMConvCancelDraft (no callback: stored when they return). */
    check(TIMConvSetDraft("98826", kTIMConv_C2C, SEED_DRAFT) == TIM_SUCC, "set draft");
    EXPECT("after_set_draft", TIM_SUCC, 0,
           TIMConvGetConvInfo("[{\"get_conversation_list_param_conv_id\":\"98826\","
                              "\"get_conversation_list_param_conv_type\":1}]",
                              on_result, P));
    check(TIMConvCancelDraft("98826", kTIMConv_C2C) == TIM_SUCC, "cancel draft");
    EXPECT("after_cancel_draft", TIM_SUCC, 0,
           TIMConvGetConvInfo("[{\"get_conversation_list_param_conv_id\":\"98826\","
                              "\"get_conversation_list_param_conv_type\":1}]",
                              on_result, P));

    /* TIMConvSetConversationCustomData. */
    EXPECT("custom_data", TIM_SUCC, 0,
           TIMConvSetConversationCustomData(TWO_IDS, "my_custom_data", on_result, P));

    /* TIMConvPinConversation (json_param is ""). */
    EXPECT("pin", TIM_SUCC, 0,
           TIMConvPinConversation("conversation_id2", kTIMConv_Group, true, on_result, P));

    /* TIMConvMarkConversation with an extension mark. */
    EXPECT("mark", TIM_SUCC, 0,
           TIMConvMarkConversation(TWO_IDS,
                                   (uint64_t)kTIMConversationMarkTypeUnread | (0x1LL << 32), true,
                                   on_result, P));

    /* TIMConvGetTotalUnreadMessageCount: the document's example value is 4. */
    EXPECT("total_unread", TIM_SUCC, 0, TIMConvGetTotalUnreadMessageCount(on_result, P));

    /* TIMConvCreateConversationGroup and TIMConvGetConversationGroupList. */
    EXPECT("create_folder", TIM_SUCC, 0,
           TIMConvCreateConversationGroup("my_group_name", TWO_IDS, on_result, P));
    EXPECT("folder_list", TIM_SUCC, 0, TIMConvGetConversationGroupList(on_result, P));

    /* TIMConvGetConversationListByFilter with the document's filter (a starred group in
     * my_group_name), then the whole list page by page. */
    EXPECT("star", TIM_SUCC, 0,
           TIMConvMarkConversation("[\"group_conversation_id2\"]", kTIMConversationMarkTypeStar,
                                   true, on_result, P));
    EXPECT("filter_list", TIM_SUCC, 0,
           TIMConvGetConversationListByFilter(FILTER, 0, 20, on_result, P));
    do {
        const char* key = "\"conversation_list_result_next_seq\":";
        EXPECT("page", TIM_SUCC, 0,
               TIMConvGetConversationListByFilter("{}", next_seq, 2, on_result, P));
        next_page = harness_p->json ? strstr(harness_p->json, key) : NULL;
        if (next_page == NULL) break;
        next_seq = strtoull(next_page + strlen(key), NULL, 10);
        page++;
    } while (strstr(harness_p->json, "\"conversation_list_result_is_finished\":false") && page < 10);

    /* TIMConvGetUnreadMessageCountByFilter, Subscribe, Unsubscribe. */
    EXPECT("filter_unread", TIM_SUCC, 0, TIMConvGetUnreadMessageCountByFilter(FILTER, on_result, P));
    check(TIMConvSubscribeUnreadMessageCountByFilter(FILTER) == TIM_SUCC, "subscribe");
    check(TIMConvUnsubscribeUnreadMessageCountByFilter(FILTER) == TIM_SUCC, "unsubscribe");

    /* TIMConvAddConversationsToGroup, TIMConvDeleteConversationsFromGroup. */
    EXPECT("add_to_folder", TIM_SUCC, 0,
           TIMConvAddConversationsToGroup("my_group_name", TWO_IDS, on_result, P));
    EXPECT("remove_from_folder", TIM_SUCC, 0,
           TIMConvDeleteConversationsFromGroup("my_group_name", TWO_IDS, on_result, P));

    /* TIMConvRenameConversationGroup, TIMConvDeleteConversationGroup. */
    EXPECT("create_old_name", TIM_SUCC, 0,
           TIMConvCreateConversationGroup("old_name", "[\"c2c_98826\"]", on_result, P));
    EXPECT("rename_folder", TIM_SUCC, 0,
           TIMConvRenameConversationGroup("old_name", "new_name", on_result, P));
    EXPECT("delete_folder", TIM_SUCC, 0,
           TIMConvDeleteConversationGroup("my_group_name", on_result, P));
    EXPECT("folder_list_after", TIM_SUCC, 0, TIMConvGetConversationGroupList(on_result, P));

    /* TIMConvCleanConversationUnreadMessageCount. */
    EXPECT("clean", TIM_SUCC, 0,
           TIMConvCleanConversationUnreadMessageCount("c2c_98826", 0, 0, on_result, P));
    EXPECT("total_after_clean", TIM_SUCC, 0, TIMConvGetTotalUnreadMessageCount(on_result, P));

    /* TIMConvDelete and TIMConvDeleteConversationList. */
    EXPECT("delete", TIM_SUCC, 0, TIMConvDelete("Windows-02", kTIMConv_C2C, on_result, P));
    EXPECT("delete_list", TIM_SUCC, 0,
           TIMConvDeleteConversationList("[\"group_Windows-Group-01\",\"c2c_nobody\"]", true,
                                         on_result, P));

    /* TIMConvGetConvList. */
    EXPECT("conv_list", TIM_SUCC, 0, TIMConvGetConvList(on_result, P));

    EXPECT("logout", TIM_SUCC, 0, TIMLogout(on_result, P));
    check(TIMUninit() == TIM_SUCC, "uninit");
    return harness_finish();
}
