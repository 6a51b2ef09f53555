/*
 * persist.c: init and login again on the same directory find everything as it was.
 *
 * Usage: persist write <dir> | persist read <dir>. "write" makes changes of every kind and
 * prints the list (`state` records); "read", in a new process, prints the same records, which
 * the harness compares. Both also log in as a user whose ID is no safe file name.
 */
#include "harness.h"

static const char* ODD_USER = "../evil/us er";

static void print_state(void) {
    CALL("state_list", TIMConvGetConvList(on_result, P));
    CALL("state_folders", TIMConvGetConversationGroupList(on_result, P));
    CALL("state_total", TIMConvGetTotalUnreadMessageCount(on_result, P));
}

int main(int argc, char** argv) {
    char config[4096];
    int write;
    if (argc < 3) return 2;
    write = strcmp(argv[1], "write") == 0;
    config_for(config, sizeof config, argv[2]);
    check(TIMInit(1400000000, config) == TIM_SUCC, "init");
    EXPECT("login", TIM_SUCC, 0, TIMLogin("me", "sig", on_result, P));
    if (write) {
        EXPECT("feed", TIM_SUCC, 0,
               TIMConvExtFeedMessage("{\"message_msg_id\":\"1\",\"message_conv_id\":\"a\","
                                     "\"message_conv_type\":1,\"message_server_time\":5}", on_result, P));
        EXPECT("feed", TIM_SUCC, 0,
               TIMConvExtFeedMessage("{\"message_msg_id\":\"2\",\"message_conv_id\":\"g\","
                                     "\"message_conv_type\":2,\"message_seq\":3,"
                                     "\"message_group_at_user_array\":[\"me\"]}", on_result, P));
        EXPECT("create", TIM_SUCC, 0, TIMConvCreate("b", kTIMConv_C2C, on_result, P));
        EXPECT("pin", TIM_SUCC, 0, TIMConvPinConversation("g", kTIMConv_Group, true, on_result, P));
        EXPECT("mark", TIM_SUCC, 0,
               TIMConvMarkConversation("[\"c2c_a\"]", kTIMConversationMarkTypeStar | (0x1ULL << 40),
                                       true, on_result, P));
        EXPECT("custom", TIM_SUCC, 0,
               TIMConvSetConversationCustomData("[\"c2c_b\"]", "kept", on_result, P));
        EXPECT("folder", TIM_SUCC, 0,
               TIMConvCreateConversationGroup("work", "[\"c2c_a\",\"group_g\"]", on_result, P));
        check(TIMConvSetDraft("b", kTIMConv_C2C, "{\"draft_user_define\":\"later\",\"draft_edit_time\":7}") ==
                  TIM_SUCC,
              "draft");
        EXPECT("delete", TIM_SUCC, 0, TIMConvCreate("gone", kTIMConv_C2C, on_result, P));
        EXPECT("delete", TIM_SUCC, 0, TIMConvDelete("gone", kTIMConv_C2C, on_result, P));
    }
    print_state();
    EXPECT("logout", TIM_SUCC, 0, TIMLogout(on_result, P));

    /* Another user has a store of their own, in a directory named safely. */
    EXPECT("login_odd", TIM_SUCC, 0, TIMLogin(ODD_USER, "sig", on_result, P));
    if (write) {
        EXPECT("odd_feed", TIM_SUCC, 0,
               TIMConvExtFeedMessage("{\"message_msg_id\":\"9\",\"message_conv_id\":\"z\","
                                     "\"message_conv_type\":1,\"message_server_time\":9}", on_result, P));
    }
    CALL("odd_list", TIMConvGetConvList(on_result, P));
    check(TIMUninit() == TIM_SUCC, "uninit (logs out)");
    return harness_finish();
}
