/*
 * event_order.c: a call's callback comes after the listener calls for the events of its change.
 *
 * Usage: event_order <data dir>. Feeds a message into each of 100 conversations, then, 20 times,
 * creates a conversation group of all 100 (a 100-conversation update and a group-created event
 * to encode) and deletes it again. Prints a `cb` record per callback and an `ev` record per
 * listener call, both from the callback thread, so their order on stdout is the order in which
 * the program saw them:
 *   conv_event <event> <conversations in the array> ""
 *   group_created <conversations in the array> <name> ""    group_deleted 0 <name> ""
 */
#include "harness.h"

#define CONVERSATIONS 100
#define ROUNDS 20

/* How many ConvInfo objects a ConvInfo array holds. */
static long conversations_in(const char* json) {
    long n = 0;
    const char* p = json;
    while ((p = strstr(p, "\"conv_id\"")) != NULL) {
        n++;
        p++;
    }
    return n;
}

static void on_conv_event(enum TIMConvEvent event, const char* json, const void* user_data) {
    char count[32];
    (void)user_data;
    snprintf(count, sizeof count, "%ld", conversations_in(json));
    record("ev", "conv_event", event, count, "");
}
static void on_created(const char* name, const char* json, const void* user_data) {
    (void)user_data;
    record("ev", "group_created", conversations_in(json), name, "");
}
static void on_deleted(const char* name, const void* user_data) {
    (void)user_data;
    record("ev", "group_deleted", 0, name, "");
}

static char labels[CONVERSATIONS + 2 * ROUNDS][32];
static int used_labels = 0;

/* A label of its own for each call (a Pending keeps the pointer). */
static const char* label(const char* format, int n) {
    char* l = labels[used_labels++];
    snprintf(l, sizeof labels[0], format, n);
    return l;
}

int main(int argc, char** argv) {
    char config[4096];
    static char ids[CONVERSATIONS * 16 + 8];
    size_t at = 0;
    int i;
    if (argc < 2) return 2;
    config_for(config, sizeof config, argv[1]);
    TIMSetConvEventCallback(on_conv_event, NULL);
    TIMSetConvConversationGroupCreatedCallback(on_created, NULL);
    TIMSetConvConversationGroupDeletedCallback(on_deleted, NULL);
    check(TIMInit(1400000000, config) == TIM_SUCC, "init");
    EXPECT("login", TIM_SUCC, 0, TIMLogin("me", "sig", on_result, P));

    ids[at++] = '[';
    for (i = 0; i < CONVERSATIONS; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"message_msg_id\":\"m%d\",\"message_conv_id\":\"u%d\",\"message_conv_type\":1,"
                 "\"message_sender\":\"u%d\",\"message_seq\":1,\"message_server_time\":1700000000,"
                 "\"message_elem_array\":[{\"elem_type\":0,\"text_elem_content\":\"hi\"}]}",
                 i, i, i);
        EXPECT(label("feed_%d", i), TIM_SUCC, 0, TIMConvExtFeedMessage(json, on_result, P));
        at += (size_t)snprintf(ids + at, sizeof ids - at, "%s\"c2c_u%d\"", i ? "," : "", i);
    }
    ids[at++] = ']';
    ids[at] = '\0';

    for (i = 0; i < ROUNDS; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        EXPECT(label("create_%d", i), TIM_SUCC, 0,
               TIMConvCreateConversationGroup(name, ids, on_result, P));
        EXPECT(label("delete_%d", i), TIM_SUCC, 0,
               TIMConvDeleteConversationGroup(name, on_result, P));
    }

    EXPECT("logout", TIM_SUCC, 0, TIMLogout(on_result, P));
    check(TIMUninit() == TIM_SUCC, "uninit");
    return harness_finish();
}
