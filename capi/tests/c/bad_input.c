/*
 * bad_input.c: every function of the C API with what a careless or hostile caller passes:
 * calls before TIMInit and before TIMLogin, NULL pointers, text that is not UTF-8, JSON that
 * is not JSON or not of the documented shape, values the operations refuse, huge inputs.
 * Each must get its code (returned, or in the callback), and nothing may crash.
 *
 * Usage: bad_input <data dir>. Checks everything itself (see EXPECT in harness.h).
 */
#include "harness.h"

#define NOT_UTF8 "\xff\xfe"
#define CB on_result, P
/* Only the return value matters: the call must be refused (the harness checks no callback). */
#define REFUSED(label, ret, expr) EXPECT(label, ret, 0, expr)

static const char* IDS = "[\"c2c_a\",\"group_g\"]";

/* Calls every conversation function with valid arguments: each must return `ret`. */
static void every_function_returns(int ret) {
    REFUSED("create", ret, TIMConvCreate("a", kTIMConv_C2C, CB));
    REFUSED("delete", ret, TIMConvDelete("a", kTIMConv_C2C, CB));
    REFUSED("delete_list", ret, TIMConvDeleteConversationList(IDS, true, CB));
    REFUSED("list", ret, TIMConvGetConvList(CB));
    REFUSED("info", ret, TIMConvGetConvInfo("[]", CB));
    REFUSED("by_filter", ret, TIMConvGetConversationListByFilter("{}", 0, 10, CB));
    check(TIMConvSetDraft("a", kTIMConv_C2C, "{}") == ret, "set draft");
    check(TIMConvCancelDraft("a", kTIMConv_C2C) == ret, "cancel draft");
    REFUSED("custom", ret, TIMConvSetConversationCustomData(IDS, "x", CB));
    REFUSED("pin", ret, TIMConvPinConversation("a", kTIMConv_C2C, true, CB));
    REFUSED("mark", ret, TIMConvMarkConversation(IDS, 1, true, CB));
    REFUSED("total", ret, TIMConvGetTotalUnreadMessageCount(CB));
    REFUSED("unread_by_filter", ret, TIMConvGetUnreadMessageCountByFilter("{}", CB));
    check(TIMConvSubscribeUnreadMessageCountByFilter("{}") == ret, "subscribe");
    check(TIMConvUnsubscribeUnreadMessageCountByFilter("{}") == ret, "unsubscribe");
    REFUSED("clean", ret, TIMConvCleanConversationUnreadMessageCount("", 0, 0, CB));
    REFUSED("create_group", ret, TIMConvCreateConversationGroup("n", IDS, CB));
    REFUSED("group_list", ret, TIMConvGetConversationGroupList(CB));
    REFUSED("delete_group", ret, TIMConvDeleteConversationGroup("n", CB));
    REFUSED("rename_group", ret, TIMConvRenameConversationGroup("n", "m", CB));
    REFUSED("add", ret, TIMConvAddConversationsToGroup("n", IDS, CB));
    REFUSED("remove", ret, TIMConvDeleteConversationsFromGroup("n", IDS, CB));
    REFUSED("feed", ret, TIMConvExtFeedMessage("{}", CB));
}

/* A string of `n` copies of `c`, then `tail`. */
static char* repeat(char c, size_t n, const char* head, const char* tail) {
    size_t h = strlen(head), t = strlen(tail);
    char* s = (char*)malloc(h + n + t + 1);
    if (s == NULL) abort();
    memcpy(s, head, h);
    memset(s + h, c, n);
    memcpy(s + h + n, tail, t + 1);
    return s;
}

int main(int argc, char** argv) {
    char config[4096];
    char name[64];
    char* big;
    char* many;
    size_t i, at;
    int n;
    if (argc < 2) return 2;
    config_for(config, sizeof config, argv[1]);

    /* Listener setters accept NULL at any time. */
    TIMSetConvEventCallback(NULL, NULL);
    TIMSetConvTotalUnreadMessageCountChangedCallback(NULL, NULL);
    TIMSetConvUnreadMessageCountChangedByFilterCallback(NULL, NULL);
    TIMSetConvConversationGroupCreatedCallback(NULL, NULL);
    TIMSetConvConversationGroupDeletedCallback(NULL, NULL);
    TIMSetConvConversationGroupNameChangedCallback(NULL, NULL);
    TIMSetConvConversationsAddedToGroupCallback(NULL, NULL);
    TIMSetConvConversationsDeletedFromGroupCallback(NULL, NULL);

    /* Before TIMInit: TIM_ERR_SDKUNINIT everywhere. */
    check(TIMUninit() == TIM_ERR_SDKUNINIT, "uninit before init");
    REFUSED("login_uninit", TIM_ERR_SDKUNINIT, TIMLogin("me", "sig", CB));
    REFUSED("logout_uninit", TIM_ERR_SDKUNINIT, TIMLogout(CB));
    every_function_returns(TIM_ERR_SDKUNINIT);

    /* TIMInit's config. */
    check(TIMInit(1, "{") == TIM_ERR_JSON, "init: not JSON");
    check(TIMInit(1, "[]") == TIM_ERR_JSON, "init: not an object");
    check(TIMInit(1, "null") == TIM_ERR_JSON, "init: null");
    check(TIMInit(1, "{\"sdk_config_config_file_path\":5}") == TIM_ERR_JSON, "init: a number path");
    check(TIMInit(1, "{\"sdk_config_config_file_path\":\"" NOT_UTF8 "\"}") == TIM_ERR_PARAM,
          "init: not UTF-8");
    check(TIMInit(1400000000, config) == TIM_SUCC, "init");
    check(TIMInit(1400000000, config) == TIM_SUCC, "init again, the same");
    check(TIMInit(1400000001, config) == TIM_ERR_PARAM, "init again, another app");

    /* Before TIMLogin: TIM_ERR_NOTLOGIN everywhere. */
    REFUSED("logout_before_login", TIM_ERR_NOTLOGIN, TIMLogout(CB));
    every_function_returns(TIM_ERR_NOTLOGIN);

    /* TIMLogin. */
    REFUSED("login_null_user", TIM_ERR_PARAM, TIMLogin(NULL, "sig", CB));
    REFUSED("login_null_sig", TIM_ERR_PARAM, TIMLogin("me", NULL, CB));
    REFUSED("login_not_utf8", TIM_ERR_PARAM, TIMLogin(NOT_UTF8, "sig", CB));
    EXPECT("login_empty", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMLogin("", "sig", CB));
    every_function_returns(TIM_ERR_NOTLOGIN); /* the failed login left us logged out */
    EXPECT("login", TIM_SUCC, ERR_SUCC, TIMLogin("me", "", CB));
    EXPECT("login_other", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMLogin("someone else", "sig", CB));
    EXPECT("login_same", TIM_SUCC, ERR_SUCC, TIMLogin("me", "another sig", CB));
    check(TIMConvGetConvList(NULL, NULL) == TIM_SUCC, "a NULL callback is allowed");

    EXPECT("feed_a", TIM_SUCC, 0,
           TIMConvExtFeedMessage("{\"message_conv_id\":\"a\",\"message_conv_type\":1,"
                                 "\"message_msg_id\":\"a1\",\"message_server_time\":10}", CB));
    EXPECT("feed_g", TIM_SUCC, 0,
           TIMConvExtFeedMessage("{\"message_conv_id\":\"g\",\"message_conv_type\":2,"
                                 "\"message_msg_id\":\"g1\",\"message_seq\":1}", CB));

    /* Legacy conversation names: raw ID plus type. */
    REFUSED("create_null", TIM_ERR_PARAM, TIMConvCreate(NULL, kTIMConv_C2C, CB));
    REFUSED("create_not_utf8", TIM_ERR_PARAM, TIMConvCreate(NOT_UTF8, kTIMConv_C2C, CB));
    EXPECT("create_invalid_type", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMConvCreate("a", kTIMConv_Invalid, CB));
    EXPECT("create_system_type", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMConvCreate("a", kTIMConv_System, CB));
    EXPECT("create_type_99", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMConvCreate("a", (enum TIMConvType)99, CB));
    EXPECT("create_type_neg", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMConvCreate("a", (enum TIMConvType)-1, CB));
    EXPECT("create_empty", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMConvCreate("", kTIMConv_C2C, CB));
    REFUSED("delete_null", TIM_ERR_PARAM, TIMConvDelete(NULL, kTIMConv_C2C, CB));
    EXPECT("delete_missing", TIM_SUCC, ERR_INVALID_CONVERSATION, TIMConvDelete("nobody", kTIMConv_C2C, CB));
    EXPECT("delete_bad_type", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMConvDelete("a", kTIMConv_Invalid, CB));
    REFUSED("pin_null", TIM_ERR_PARAM, TIMConvPinConversation(NULL, kTIMConv_C2C, true, CB));
    EXPECT("pin_missing", TIM_SUCC, ERR_INVALID_CONVERSATION, TIMConvPinConversation("nobody", kTIMConv_C2C, true, CB));
    EXPECT("pin_bad_type", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMConvPinConversation("a", kTIMConv_System, true, CB));

    /* Drafts report at once. */
    check(TIMConvSetDraft(NULL, kTIMConv_C2C, "{}") == TIM_ERR_PARAM, "draft: NULL id");
    check(TIMConvSetDraft("a", kTIMConv_C2C, NULL) == TIM_ERR_PARAM, "draft: NULL draft");
    check(TIMConvSetDraft("a", kTIMConv_C2C, "draft") == TIM_ERR_JSON, "draft: not JSON");
    check(TIMConvSetDraft("a", kTIMConv_C2C, "[]") == TIM_ERR_JSON, "draft: an array");
    check(TIMConvSetDraft("a", kTIMConv_C2C, "{\"draft_msg\":1}") == TIM_ERR_JSON, "draft: a number msg");
    check(TIMConvSetDraft("a", kTIMConv_C2C, "{\"draft_edit_time\":\"now\"}") == TIM_ERR_JSON,
          "draft: a text time");
    check(TIMConvSetDraft("a", kTIMConv_Invalid, "{}") == TIM_ERR_PARAM, "draft: invalid type");
    check(TIMConvSetDraft("a", kTIMConv_C2C, "{}") == TIM_SUCC, "draft: an empty draft");
    check(TIMConvCancelDraft(NULL, kTIMConv_C2C) == TIM_ERR_PARAM, "cancel: NULL");
    check(TIMConvCancelDraft("nobody", kTIMConv_C2C) == TIM_ERR_CONV, "cancel: missing");
    check(TIMConvCancelDraft("a", (enum TIMConvType)7) == TIM_ERR_PARAM, "cancel: type 7");
    check(TIMConvCancelDraft("a", kTIMConv_C2C) == TIM_SUCC, "cancel");

    /* Conversation ID arrays. */
    REFUSED("delete_list_null", TIM_ERR_PARAM, TIMConvDeleteConversationList(NULL, false, CB));
    REFUSED("delete_list_not_json", TIM_ERR_JSON, TIMConvDeleteConversationList("[", false, CB));
    REFUSED("delete_list_numbers", TIM_ERR_JSON, TIMConvDeleteConversationList("[1]", false, CB));
    REFUSED("delete_list_object", TIM_ERR_JSON, TIMConvDeleteConversationList("{}", false, CB));
    REFUSED("delete_list_not_utf8", TIM_ERR_PARAM, TIMConvDeleteConversationList("[\"" NOT_UTF8 "\"]", false, CB));
    EXPECT("delete_list_empty", TIM_SUCC, ERR_SVR_CONV_CONV_MARK_REQ_COUNT_EXCEED_LIMIT,
           TIMConvDeleteConversationList("[]", false, CB));
    EXPECT("delete_list_bad_id", TIM_SUCC, ERR_INVALID_PARAMETERS,
           TIMConvDeleteConversationList("[\"bob\"]", false, CB));
    many = (char*)malloc(101 * 16 + 2);
    if (many == NULL) abort();
    at = 0;
    many[at++] = '[';
    for (n = 0; n < 101; n++) at += (size_t)sprintf(many + at, "%s\"c2c_u%d\"", n ? "," : "", n);
    many[at++] = ']';
    many[at] = 0;
    EXPECT("delete_list_101", TIM_SUCC, ERR_SVR_CONV_CONV_MARK_REQ_COUNT_EXCEED_LIMIT,
           TIMConvDeleteConversationList(many, false, CB));
    EXPECT("mark_101", TIM_SUCC, ERR_SVR_CONV_CONV_MARK_REQ_COUNT_EXCEED_LIMIT,
           TIMConvMarkConversation(many, 1, true, CB));
    free(many);

    /* GetConvInfo's parameter. */
    REFUSED("info_null", TIM_ERR_PARAM, TIMConvGetConvInfo(NULL, CB));
    REFUSED("info_not_json", TIM_ERR_JSON, TIMConvGetConvInfo("[", CB));
    REFUSED("info_object", TIM_ERR_JSON, TIMConvGetConvInfo("{}", CB));
    REFUSED("info_no_keys", TIM_ERR_JSON, TIMConvGetConvInfo("[{}]", CB));
    REFUSED("info_text_type", TIM_ERR_JSON,
            TIMConvGetConvInfo("[{\"get_conversation_list_param_conv_id\":\"a\","
                               "\"get_conversation_list_param_conv_type\":\"1\"}]", CB));
    REFUSED("info_type_9", TIM_ERR_JSON,
            TIMConvGetConvInfo("[{\"get_conversation_list_param_conv_id\":\"a\","
                               "\"get_conversation_list_param_conv_type\":9}]", CB));
    EXPECT("info_system", TIM_SUCC, ERR_INVALID_PARAMETERS,
           TIMConvGetConvInfo("[{\"get_conversation_list_param_conv_id\":\"a\","
                              "\"get_conversation_list_param_conv_type\":3}]", CB));
    EXPECT("info_missing", TIM_SUCC, ERR_SUCC,
           TIMConvGetConvInfo("[{\"get_conversation_list_param_conv_id\":\"nobody\","
                              "\"get_conversation_list_param_conv_type\":1}]", CB));
    check(harness_p->json && strcmp(harness_p->json, "[]") == 0, "a missing conversation is absent");

    /* Filters. */
    REFUSED("filter_null", TIM_ERR_PARAM, TIMConvGetConversationListByFilter(NULL, 0, 10, CB));
    REFUSED("filter_array", TIM_ERR_JSON, TIMConvGetConversationListByFilter("[]", 0, 10, CB));
    REFUSED("filter_negative_mark", TIM_ERR_JSON,
            TIMConvGetConversationListByFilter("{\"conversation_list_filter_mark_type\":-1}", 0, 10, CB));
    REFUSED("filter_text_unread", TIM_ERR_JSON,
            TIMConvGetConversationListByFilter("{\"conversation_list_filter_has_unread_count\":1}", 0, 10, CB));
    EXPECT("filter_reserved_mark", TIM_SUCC, ERR_INVALID_PARAMETERS,
           TIMConvGetConversationListByFilter("{\"conversation_list_filter_mark_type\":16}", 0, 10, CB));
    EXPECT("filter_count_0", TIM_SUCC, ERR_INVALID_PARAMETERS,
           TIMConvGetConversationListByFilter("{}", 0, 0, CB));
    EXPECT("filter_past_the_end", TIM_SUCC, ERR_SUCC,
           TIMConvGetConversationListByFilter("{}", 1, 10, CB));
    EXPECT("filter_huge_count", TIM_SUCC, ERR_SUCC,
           TIMConvGetConversationListByFilter("{}", 0, 0xFFFFFFFFu, CB));
    REFUSED("unread_filter_null", TIM_ERR_PARAM, TIMConvGetUnreadMessageCountByFilter(NULL, CB));
    REFUSED("unread_filter_number", TIM_ERR_JSON, TIMConvGetUnreadMessageCountByFilter("1", CB));
    EXPECT("unread_filter_reserved", TIM_SUCC, ERR_INVALID_PARAMETERS,
           TIMConvGetUnreadMessageCountByFilter("{\"conversation_list_filter_mark_type\":256}", CB));
    check(TIMConvSubscribeUnreadMessageCountByFilter(NULL) == TIM_ERR_PARAM, "subscribe NULL");
    check(TIMConvSubscribeUnreadMessageCountByFilter("{") == TIM_ERR_JSON, "subscribe not JSON");
    check(TIMConvSubscribeUnreadMessageCountByFilter("{\"conversation_list_filter_mark_type\":16}") ==
              TIM_ERR_PARAM,
          "subscribe reserved marks");
    check(TIMConvUnsubscribeUnreadMessageCountByFilter(NULL) == TIM_ERR_PARAM, "unsubscribe NULL");
    check(TIMConvUnsubscribeUnreadMessageCountByFilter("x") == TIM_ERR_JSON, "unsubscribe not JSON");
    check(TIMConvUnsubscribeUnreadMessageCountByFilter("{}") == TIM_SUCC, "unsubscribe, not subscribed");

    /* Custom data and marks. */
    REFUSED("custom_null_ids", TIM_ERR_PARAM, TIMConvSetConversationCustomData(NULL, "x", CB));
    REFUSED("custom_null_data", TIM_ERR_PARAM, TIMConvSetConversationCustomData(IDS, NULL, CB));
    REFUSED("custom_not_utf8", TIM_ERR_PARAM, TIMConvSetConversationCustomData(IDS, NOT_UTF8, CB));
    big = repeat('x', 257, "", "");
    EXPECT("custom_257", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMConvSetConversationCustomData(IDS, big, CB));
    free(big);
    EXPECT("custom_missing", TIM_SUCC, ERR_SUCC,
           TIMConvSetConversationCustomData("[\"c2c_nobody\"]", "x", CB));
    check(harness_p->json && strstr(harness_p->json, "\"conversation_operation_result_result_code\":6004"),
          "a missing conversation's own result is 6004");
    REFUSED("mark_null", TIM_ERR_PARAM, TIMConvMarkConversation(NULL, 1, true, CB));
    EXPECT("mark_reserved", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMConvMarkConversation(IDS, 1u << 4, true, CB));
    EXPECT("mark_nothing", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMConvMarkConversation(IDS, 0, true, CB));
    EXPECT("mark_bit_63", TIM_SUCC, ERR_SUCC, TIMConvMarkConversation(IDS, 0x1ULL << 63, true, CB));

    /* Cleaning unread. */
    REFUSED("clean_null", TIM_ERR_PARAM, TIMConvCleanConversationUnreadMessageCount(NULL, 0, 0, CB));
    EXPECT("clean_bad_id", TIM_SUCC, ERR_INVALID_PARAMETERS,
           TIMConvCleanConversationUnreadMessageCount("bob", 0, 0, CB));
    EXPECT("clean_missing", TIM_SUCC, ERR_INVALID_CONVERSATION,
           TIMConvCleanConversationUnreadMessageCount("c2c_nobody", 0, 0, CB));
    EXPECT("clean_c2c", TIM_SUCC, ERR_SUCC, TIMConvCleanConversationUnreadMessageCount("c2c", 0, 0, CB));
    EXPECT("clean_group", TIM_SUCC, ERR_SUCC, TIMConvCleanConversationUnreadMessageCount("group", 0, 0, CB));
    EXPECT("clean_all", TIM_SUCC, ERR_SUCC, TIMConvCleanConversationUnreadMessageCount("", 0, 0, CB));

    /* Conversation groups. */
    REFUSED("group_null_name", TIM_ERR_PARAM, TIMConvCreateConversationGroup(NULL, IDS, CB));
    REFUSED("group_null_ids", TIM_ERR_PARAM, TIMConvCreateConversationGroup("n", NULL, CB));
    REFUSED("group_numbers", TIM_ERR_JSON, TIMConvCreateConversationGroup("n", "[1]", CB));
    EXPECT("group_empty_name", TIM_SUCC, ERR_SVR_CONV_CONV_GROUP_NAME_EXCEED_LENGTH,
           TIMConvCreateConversationGroup("", IDS, CB));
    EXPECT("group_33_bytes", TIM_SUCC, ERR_SVR_CONV_CONV_GROUP_NAME_EXCEED_LENGTH,
           TIMConvCreateConversationGroup("012345678901234567890123456789012", IDS, CB));
    EXPECT("group_no_ids", TIM_SUCC, ERR_SVR_CONV_CONV_MARK_REQ_COUNT_EXCEED_LIMIT,
           TIMConvCreateConversationGroup("n", "[]", CB));
    EXPECT("group_create", TIM_SUCC, ERR_SUCC, TIMConvCreateConversationGroup("dup", "[\"c2c_a\"]", CB));
    EXPECT("group_exists", TIM_SUCC, ERR_INVALID_PARAMETERS,
           TIMConvCreateConversationGroup("dup", "[\"c2c_a\"]", CB));
    for (n = 2; n <= 20; n++) {
        snprintf(name, sizeof name, "g%d", n);
        EXPECT("group_fill", TIM_SUCC, ERR_SUCC, TIMConvCreateConversationGroup(name, "[\"group_g\"]", CB));
    }
    EXPECT("group_21st", TIM_SUCC, ERR_SVR_CONV_CONV_GROUP_TOTAL_COUNT_EXCEED_LIMIT,
           TIMConvCreateConversationGroup("g21", "[\"group_g\"]", CB));
    REFUSED("delete_group_null", TIM_ERR_PARAM, TIMConvDeleteConversationGroup(NULL, CB));
    EXPECT("delete_group_unknown", TIM_SUCC, ERR_SVR_CONV_CONV_GROUP_NOT_EXIST,
           TIMConvDeleteConversationGroup("nope", CB));
    EXPECT("delete_group_empty", TIM_SUCC, ERR_SVR_CONV_CONV_GROUP_NAME_EXCEED_LENGTH,
           TIMConvDeleteConversationGroup("", CB));
    REFUSED("rename_null_old", TIM_ERR_PARAM, TIMConvRenameConversationGroup(NULL, "x", CB));
    REFUSED("rename_null_new", TIM_ERR_PARAM, TIMConvRenameConversationGroup("dup", NULL, CB));
    EXPECT("rename_unknown", TIM_SUCC, ERR_SVR_CONV_CONV_GROUP_NOT_EXIST,
           TIMConvRenameConversationGroup("nope", "x", CB));
    EXPECT("rename_to_empty", TIM_SUCC, ERR_SVR_CONV_CONV_GROUP_NAME_EXCEED_LENGTH,
           TIMConvRenameConversationGroup("dup", "", CB));
    EXPECT("rename_to_taken", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMConvRenameConversationGroup("dup", "g2", CB));
    REFUSED("add_null", TIM_ERR_PARAM, TIMConvAddConversationsToGroup(NULL, IDS, CB));
    REFUSED("add_object", TIM_ERR_JSON, TIMConvAddConversationsToGroup("dup", "{}", CB));
    EXPECT("add_unknown", TIM_SUCC, ERR_SVR_CONV_CONV_GROUP_NOT_EXIST,
           TIMConvAddConversationsToGroup("nope", "[\"c2c_a\"]", CB));
    EXPECT("add_missing", TIM_SUCC, ERR_SUCC, TIMConvAddConversationsToGroup("dup", "[\"c2c_nobody\"]", CB));
    check(harness_p->json && strstr(harness_p->json, "\"conversation_operation_result_result_code\":6004"),
          "a missing conversation's own result is 6004");
    REFUSED("remove_null", TIM_ERR_PARAM, TIMConvDeleteConversationsFromGroup(NULL, IDS, CB));
    EXPECT("remove_unknown", TIM_SUCC, ERR_SVR_CONV_CONV_GROUP_NOT_EXIST,
           TIMConvDeleteConversationsFromGroup("nope", "[\"c2c_a\"]", CB));

    /* The test extension. */
    REFUSED("feed_null", TIM_ERR_PARAM, TIMConvExtFeedMessage(NULL, CB));
    REFUSED("feed_array", TIM_ERR_JSON, TIMConvExtFeedMessage("[]", CB));
    EXPECT("feed_no_conversation", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMConvExtFeedMessage("{}", CB));
    EXPECT("feed_type_0", TIM_SUCC, ERR_INVALID_PARAMETERS,
           TIMConvExtFeedMessage("{\"message_conv_id\":\"a\",\"message_conv_type\":0}", CB));
    EXPECT("feed_mistyped_key_kept", TIM_SUCC, ERR_SUCC,
           TIMConvExtFeedMessage("{\"message_conv_id\":\"a\",\"message_conv_type\":1,"
                                 "\"message_seq\":\"x\",\"message_server_time\":11}", CB));

    /* Huge inputs. */
    big = repeat('a', 20u << 20, "", "");
    REFUSED("huge_id", TIM_ERR_PARAM, TIMConvCreate(big, kTIMConv_C2C, CB));
    REFUSED("huge_json", TIM_ERR_PARAM, TIMConvGetConversationListByFilter(big, 0, 10, CB));
    free(big);
    big = repeat('[', 100000, "", "");
    REFUSED("deep_json", TIM_ERR_JSON, TIMConvDeleteConversationList(big, false, CB));
    free(big);
    big = repeat('x', 1u << 20, "", "");
    EXPECT("huge_group_name", TIM_SUCC, ERR_SVR_CONV_CONV_GROUP_NAME_EXCEED_LENGTH,
           TIMConvCreateConversationGroup(big, IDS, CB));
    EXPECT("huge_custom_data", TIM_SUCC, ERR_INVALID_PARAMETERS, TIMConvSetConversationCustomData(IDS, big, CB));
    free(big);
    many = (char*)malloc(100000 * 16 + 2);
    if (many == NULL) abort();
    at = 0;
    many[at++] = '[';
    for (i = 0; i < 100000; i++) at += (size_t)sprintf(many + at, "%s\"c2c_u%zu\"", i ? "," : "", i);
    many[at++] = ']';
    many[at] = 0;
    EXPECT("huge_batch", TIM_SUCC, ERR_SVR_CONV_CONV_MARK_REQ_COUNT_EXCEED_LIMIT,
           TIMConvSetConversationCustomData(many, "x", CB));
    free(many);

    /* After TIMLogout and TIMUninit. */
    EXPECT("logout", TIM_SUCC, ERR_SUCC, TIMLogout(CB));
    REFUSED("logout_twice", TIM_ERR_NOTLOGIN, TIMLogout(CB));
    every_function_returns(TIM_ERR_NOTLOGIN);
    check(TIMUninit() == TIM_SUCC, "uninit");
    check(TIMUninit() == TIM_ERR_SDKUNINIT, "uninit twice");
    every_function_returns(TIM_ERR_SDKUNINIT);
    return harness_finish();
}
