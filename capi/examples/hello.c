/* hello.c: log in, receive a message, list the conversations, clean the unread. */
#include <stdio.h>

#include "TIMCloud.h"
#include "TIMConvExt.h" /* TIMConvExtFeedMessage: not part of the original API */

/* Every callback runs on the library's callback thread; the strings live until it returns. */
static void print_result(int32_t code, const char* desc, const char* json, const void* user_data) {
    printf("%s: code %d %s%s\n", (const char*)user_data, code, desc, json);
}

static void on_total_unread(int total, const void* user_data) {
    (void)user_data;
    printf("total unread is now %d\n", total);
}

int main(int argc, char** argv) {
    char config[1024];
    const char* dir = argc > 1 ? argv[1] : "hello-data";
    snprintf(config, sizeof config, "{\"%s\":\"%s\"}", kTIMSdkConfigConfigFilePath, dir);

    TIMSetConvTotalUnreadMessageCountChangedCallback(on_total_unread, NULL);
    if (TIMInit(1400000000, config) != TIM_SUCC) return 1;
    TIMLogin("alice", "any signature works without a server", print_result, "login");

    /* A message from bob creates the conversation c2c_bob with one unread message. */
    TIMConvExtFeedMessage("{\"message_conv_id\":\"bob\",\"message_conv_type\":1,"
                          "\"message_msg_id\":\"m1\",\"message_sender\":\"bob\","
                          "\"message_server_time\":1700000000,"
                          "\"message_elem_array\":[{\"elem_type\":0,\"text_elem_content\":\"hi\"}]}",
                          print_result, "feed");
    TIMConvGetConversationListByFilter("{}", 0, 20, print_result, "list");
    TIMConvCleanConversationUnreadMessageCount("c2c_bob", 0, 0, print_result, "clean");
    TIMConvGetTotalUnreadMessageCount(print_result, "total");

    /* Calls are carried out in order; TIMUninit finishes them, logs out and delivers every
     * callback before it returns. */
    TIMLogout(print_result, "logout");
    return TIMUninit() == TIM_SUCC ? 0 : 1;
}
