/*
 * listeners.c: every listener of the C API, driven by calls and fed messages.
 *
 * Usage: listeners <data dir>. Prints an `ev` record per listener call (see harness.h):
 *   conv_event <event> "" <ConvInfo array>      total <count>
 *   by_filter <count> <filter> ""                group_created 0 <name> <ConvInfo array>
 *   group_deleted 0 <name> ""                   group_renamed 0 <old> <new>
 *   added 0 <name> <ConvInfo array>             removed 0 <name> <ConvInfo array>
 * and a `mark` record at a few points, so the harness can tell before from after.
 */
#include "harness.h"

static int marker;
static pthread_t main_thread;

static void listener_check(const void* user_data) {
    if (user_data != &marker) fail("a listener's user_data did not come back untouched");
    if (pthread_equal(pthread_self(), main_thread)) fail("a listener ran on the calling thread");
}

static void on_conv_event(enum TIMConvEvent event, const char* json, const void* user_data) {
    listener_check(user_data);
    record("ev", "conv_event", event, "", json);
}
static void on_total(int total, const void* user_data) {
    listener_check(user_data);
    record("ev", "total", total, "", "");
}
static void on_by_filter(const char* filter, int total, const void* user_data) {
    listener_check(user_data);
    record("ev", "by_filter", total, filter, "");
}
static void on_created(const char* name, const char* json, const void* user_data) {
    listener_check(user_data);
    record("ev", "group_created", 0, name, json);
}
static void on_deleted(const char* name, const void* user_data) {
    listener_check(user_data);
    record("ev", "group_deleted", 0, name, "");
}
static void on_renamed(const char* old_name, const char* new_name, const void* user_data) {
    listener_check(user_data);
    record("ev", "group_renamed", 0, old_name, new_name);
}
static void on_added(const char* name, const char* json, const void* user_data) {
    listener_check(user_data);
    record("ev", "added", 0, name, json);
}
static void on_removed(const char* name, const char* json, const void* user_data) {
    listener_check(user_data);
    record("ev", "removed", 0, name, json);
}

/* A text message in a conversation, from someone else, at `seq` (also its server time). */
static void feed(const char* label, const char* conv, int type, int seq, const char* extra) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"message_msg_id\":\"%s-%d\",\"message_conv_id\":\"%s\",\"message_conv_type\":%d,"
             "\"message_sender\":\"peer\",\"message_seq\":%d,\"message_server_time\":%d%s,"
             "\"message_elem_array\":[{\"elem_type\":0,\"text_elem_content\":\"m%d\"}]}",
             conv, seq, conv, type, seq, 1700000000 + seq, extra, seq);
    EXPECT(label, TIM_SUCC, 0, TIMConvExtFeedMessage(json, on_result, P));
}

static const char* C2C_ONLY = "{ \"conversation_list_filter_conv_type\" : 1 }";

int main(int argc, char** argv) {
    char config[4096];
    if (argc < 2) return 2;
    main_thread = pthread_self();
    config_for(config, sizeof config, argv[1]);

    /* Listeners may be set before TIMInit. */
    TIMSetConvEventCallback(on_conv_event, &marker);
    TIMSetConvTotalUnreadMessageCountChangedCallback(on_total, &marker);
    TIMSetConvUnreadMessageCountChangedByFilterCallback(on_by_filter, &marker);
    TIMSetConvConversationGroupCreatedCallback(on_created, &marker);
    TIMSetConvConversationGroupDeletedCallback(on_deleted, &marker);
    TIMSetConvConversationGroupNameChangedCallback(on_renamed, &marker);
    TIMSetConvConversationsAddedToGroupCallback(on_added, &marker);
    TIMSetConvConversationsDeletedFromGroupCallback(on_removed, &marker);

    check(TIMInit(1400000000, config) == TIM_SUCC, "init");
    EXPECT("login", TIM_SUCC, 0, TIMLogin("me", "sig", on_result, P));
    check(TIMConvSubscribeUnreadMessageCountByFilter(C2C_ONLY) == TIM_SUCC, "subscribe");
    check(TIMConvSubscribeUnreadMessageCountByFilter(C2C_ONLY) == TIM_SUCC, "subscribe twice");

    feed("feed_a1", "a", kTIMConv_C2C, 1, "");
    feed("feed_a2", "a", kTIMConv_C2C, 2, "");
    feed("feed_g1", "g", kTIMConv_Group, 1, ",\"message_group_at_user_array\":[\"__kImSDK_MesssageAtALL__\"]");
    EXPECT("pin_a", TIM_SUCC, 0, TIMConvPinConversation("a", kTIMConv_C2C, true, on_result, P));
    EXPECT("pin_a_again", TIM_SUCC, 0, TIMConvPinConversation("a", kTIMConv_C2C, true, on_result, P));
    EXPECT("create_work", TIM_SUCC, 0,
           TIMConvCreateConversationGroup("work", "[\"c2c_a\",\"group_g\"]", on_result, P));
    feed("feed_b1", "b", kTIMConv_C2C, 1, "");
    EXPECT("add_b", TIM_SUCC, 0, TIMConvAddConversationsToGroup("work", "[\"c2c_b\"]", on_result, P));
    EXPECT("remove_b", TIM_SUCC, 0,
           TIMConvDeleteConversationsFromGroup("work", "[\"c2c_b\"]", on_result, P));
    EXPECT("rename", TIM_SUCC, 0, TIMConvRenameConversationGroup("work", "play", on_result, P));
    EXPECT("delete_a", TIM_SUCC, 0, TIMConvDelete("a", kTIMConv_C2C, on_result, P));
    EXPECT("delete_play", TIM_SUCC, 0, TIMConvDeleteConversationGroup("play", on_result, P));

    /* After unsubscribing, the filter's changes are no longer reported; the total still is. */
    check(TIMConvUnsubscribeUnreadMessageCountByFilter("{\"conversation_list_filter_conv_type\":1}") ==
              TIM_SUCC,
          "unsubscribe (an equal filter, written differently)");
    feed("feed_b2", "b", kTIMConv_C2C, 2, "");

    /* A removed listener is called no more. */
    TIMSetConvEventCallback(NULL, NULL);
    feed("feed_c1", "c", kTIMConv_C2C, 1, "");
    EXPECT("total", TIM_SUCC, 0, TIMConvGetTotalUnreadMessageCount(on_result, P));

    /* Logging out delivers the events of every change made before it. */
    EXPECT("logout", TIM_SUCC, 0, TIMLogout(on_result, P));
    check(TIMUninit() == TIM_SUCC, "uninit");
    return harness_finish();
}
