// seed.cpp: replays each example of the original C API document in its own C++ style
// (captureless lambdas as callbacks, TIMConvType::kTIMConv_C2C, std::string), against
// libtimconv_c. Prints the same records as seed.c, which the test harness checks the same way.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "TIMCloud.h"
#include "TIMConvExt.h"

namespace {

std::mutex print_lock;
int failures = 0;
int checks = 0;

void check(bool ok, const std::string& what) {
    ++checks;
    if (!ok) {
        ++failures;
        std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    }
}

void record(const std::string& label, int code, const char* desc, const char* json) {
    std::lock_guard<std::mutex> guard(print_lock);
    std::printf("@@ cb %s %d\n%s\n%s\n", label.c_str(), code, desc, json);
    std::fflush(stdout);
}

// One call's callback: what it received, how often, on which thread.
struct Waiter {
    std::string label;
    std::thread::id caller = std::this_thread::get_id();
    std::mutex lock;
    std::condition_variable done;
    int calls = 0;
    int code = 0;
    std::string json;
    bool accepted = false;
};

std::vector<std::unique_ptr<Waiter>> waiters;

// The document's callback shape, as a captureless lambda.
const TIMCommCallback on_result = [](int32_t code, const char* desc, const char* json_param,
                                     const void* user_data) {
    auto* w = static_cast<Waiter*>(const_cast<void*>(user_data));
    record(w->label, code, desc, json_param);
    std::lock_guard<std::mutex> guard(w->lock);
    if (std::this_thread::get_id() == w->caller) {
        std::fprintf(stderr, "FAIL: %s: callback on the calling thread\n", w->label.c_str());
        std::abort();
    }
    ++w->calls;
    w->code = code;
    w->json = json_param;
    w->done.notify_all();
};

// Makes a call with a fresh Waiter as user_data and waits for its callback.
template <typename F>
Waiter& call(const std::string& label, F&& f) {
    waiters.push_back(std::make_unique<Waiter>());
    Waiter& w = *waiters.back();
    w.label = label;
    int ret = f(static_cast<const void*>(&w));
    w.accepted = ret == TIM_SUCC;
    check(ret == TIM_SUCC, label + ": returned " + std::to_string(ret));
    if (ret == TIM_SUCC) {
        std::unique_lock<std::mutex> guard(w.lock);
        bool got = w.done.wait_for(guard, std::chrono::seconds(60), [&] { return w.calls > 0; });
        check(got, label + ": a callback");
        check(w.code == ERR_SUCC, label + ": code " + std::to_string(w.code));
    }
    return w;
}

const char* kSeedMessage = R"({"message_client_time":1620877708,"message_conv_id":"98826",
"message_conv_type":1,"message_custom_int":0,"message_custom_str":"",
"message_elem_array":[{"elem_type":0,"text_elem_content":"11111"}],"message_is_from_self":false,
"message_is_online_msg":false,"message_is_peer_read":false,"message_is_read":false,
"message_msg_id":"144115233874815003-1620877708-1038050731","message_platform":0,
"message_priority":1,"message_rand":1038050731,"message_sender":"98826",
"message_sender_profile":{"user_profile_add_permission":1,"user_profile_birthday":0,
"user_profile_custom_string_array":[],"user_profile_face_url":"test1-www.google.com",
"user_profile_gender":0,"user_profile_identifier":"98826","user_profile_language":0,
"user_profile_level":0,"user_profile_location":"","user_profile_nick_name":"test change8888",
"user_profile_role":0,"user_profile_self_signature":""},"message_seq":15840,
"message_server_time":1620877708,"message_status":2,"message_unique_id":6961616747713488299})";

std::string message(const std::string& id, const std::string& conv, int type,
                    const std::string& extra) {
    return std::string(R"({"message_msg_id":")") + id + R"(","message_conv_id":")" + conv +
           R"(","message_conv_type":)" + std::to_string(type) + "," + extra +
           R"(,"message_elem_array":[{"elem_type":0,"text_elem_content":"hi"}]})";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    std::string config = std::string("{\"") + kTIMSdkConfigConfigFilePath + "\":\"" + argv[1] + "\"}";
    check(TIMInit(1400000000, config.c_str()) == TIM_SUCC, "init");
    call("login", [](const void* ud) { return TIMLogin("user1", "any signature", on_result, ud); });

    call("feed_98826", [](const void* ud) { return TIMConvExtFeedMessage(kSeedMessage, on_result, ud); });
    std::string c1 = message("c1-1", "conversation_id1", kTIMConv_C2C,
                             R"("message_sender":"conversation_id1","message_server_time":1700000001)");
    std::string g1 = message("g2-1", "conversation_id2", kTIMConv_Group,
                             R"("message_sender":"bob","message_seq":1,"message_server_time":1700000002)");
    std::string g2 = message("g2-2", "conversation_id2", kTIMConv_Group,
                             R"("message_sender":"bob","message_seq":2,"message_server_time":1700000003,)"
                             R"("message_group_at_user_array":["user1"])");
    call("feed_c1", [&](const void* ud) { return TIMConvExtFeedMessage(c1.c_str(), on_result, ud); });
    call("feed_g2_1", [&](const void* ud) { return TIMConvExtFeedMessage(g1.c_str(), on_result, ud); });
    call("feed_g2_2", [&](const void* ud) { return TIMConvExtFeedMessage(g2.c_str(), on_result, ud); });

    // TIMConvCreate, examples one and two.
    const char* userid = "Windows-02";
    call("create_c2c", [&](const void* ud) { return TIMConvCreate(userid, kTIMConv_C2C, on_result, ud); });
    const char* groupid = "Windows-Group-01";
    call("create_group", [&](const void* ud) { return TIMConvCreate(groupid, kTIMConv_Group, on_result, ud); });

    // TIMConvGetConvInfo.
    std::string get_param = std::string("[{\"") + kTIMGetConversationListParamConvId + "\":\"98826\",\"" +
                            kTIMGetConversationListParamConvType + "\":" + std::to_string(kTIMConv_C2C) + "}]";
    call("get_conv_info", [&](const void* ud) { return TIMConvGetConvInfo(get_param.c_str(), on_result, ud); });

    // TIMConvSetDraft, as the document builds its draft (a styled JSON string).
    std::string draft = R"({
   "draft_edit_time" : 1551271429,
   "draft_msg" : {
      "message_elem_array" : [
         {
            "elem_type" : 0,
            "text_elem_content" : "this draft"
         }
      ]
   },
   "draft_user_define" : "this is userdefine"
}
)";
    std::string peer = "98826";
    check(TIMConvSetDraft(peer.c_str(), TIMConvType::kTIMConv_C2C, draft.c_str()) == TIM_SUCC, "set draft");
    call("after_set_draft", [&](const void* ud) { return TIMConvGetConvInfo(get_param.c_str(), on_result, ud); });
    check(TIMConvCancelDraft(peer.c_str(), TIMConvType::kTIMConv_C2C) == TIM_SUCC, "cancel draft");
    call("after_cancel_draft", [&](const void* ud) { return TIMConvGetConvInfo(get_param.c_str(), on_result, ud); });

    // TIMConvSetConversationCustomData.
    std::string ids = R"(["c2c_conversation_id1","group_conversation_id2"])";
    std::string custom_data = "my_custom_data";
    call("custom_data", [&](const void* ud) {
        return TIMConvSetConversationCustomData(ids.c_str(), custom_data.c_str(), on_result, ud);
    });

    // TIMConvPinConversation.
    call("pin", [](const void* ud) {
        return TIMConvPinConversation("conversation_id2", TIMConvType::kTIMConv_Group, true, on_result, ud);
    });

    // TIMConvMarkConversation with the extension mark 0x1LL << 32.
    uint64_t mark_type = (uint64_t)kTIMConversationMarkTypeUnread | (0x1LL << 32);
    bool enable_mark = true;
    call("mark", [&](const void* ud) {
        return TIMConvMarkConversation(ids.c_str(), mark_type, enable_mark, on_result, ud);
    });

    call("total_unread", [](const void* ud) { return TIMConvGetTotalUnreadMessageCount(on_result, ud); });

    std::string group_name = "my_group_name";
    call("create_folder", [&](const void* ud) {
        return TIMConvCreateConversationGroup(group_name.c_str(), ids.c_str(), on_result, ud);
    });
    call("folder_list", [](const void* ud) { return TIMConvGetConversationGroupList(on_result, ud); });

    // TIMConvGetConversationListByFilter with the document's filter, then every page.
    call("star", [](const void* ud) {
        return TIMConvMarkConversation(R"(["group_conversation_id2"])", kTIMConversationMarkTypeStar, true,
                                       on_result, ud);
    });
    std::string filter = std::string("{\"") + kTIMConversationListFilterConvType + "\":" +
                         std::to_string(kTIMConv_Group) + ",\"" + kTIMConversationListFilterMarkType +
                         "\":" + std::to_string(kTIMConversationMarkTypeStar) + ",\"" +
                         kTIMConversationListFilterConversationGroup + "\":\"my_group_name\"}";
    call("filter_list", [&](const void* ud) {
        return TIMConvGetConversationListByFilter(filter.c_str(), 0, 20, on_result, ud);
    });
    uint64_t next_seq = 0;
    for (int page = 0; page < 10; ++page) {
        Waiter& w = call("page", [&](const void* ud) {
            return TIMConvGetConversationListByFilter("{}", next_seq, 2, on_result, ud);
        });
        std::string key = std::string("\"") + TIMConversationListResultNextSeq + "\":";
        auto at = w.json.find(key);
        if (at == std::string::npos) break;
        next_seq = std::strtoull(w.json.c_str() + at + key.size(), nullptr, 10);
        if (w.json.find(std::string("\"") + TIMConversationListResultIsFinished + "\":true") != std::string::npos)
            break;
    }

    call("filter_unread", [&](const void* ud) {
        return TIMConvGetUnreadMessageCountByFilter(filter.c_str(), on_result, ud);
    });
    check(TIMConvSubscribeUnreadMessageCountByFilter(filter.c_str()) == TIM_SUCC, "subscribe");
    check(TIMConvUnsubscribeUnreadMessageCountByFilter(filter.c_str()) == TIM_SUCC, "unsubscribe");

    call("add_to_folder", [&](const void* ud) {
        return TIMConvAddConversationsToGroup(group_name.c_str(), ids.c_str(), on_result, ud);
    });
    call("remove_from_folder", [&](const void* ud) {
        return TIMConvDeleteConversationsFromGroup(group_name.c_str(), ids.c_str(), on_result, ud);
    });

    std::string old_name = "old_name";
    std::string new_name = "new_name";
    call("create_old_name", [&](const void* ud) {
        return TIMConvCreateConversationGroup(old_name.c_str(), R"(["c2c_98826"])", on_result, ud);
    });
    call("rename_folder", [&](const void* ud) {
        return TIMConvRenameConversationGroup(old_name.c_str(), new_name.c_str(), on_result, ud);
    });
    call("delete_folder", [&](const void* ud) {
        return TIMConvDeleteConversationGroup(group_name.c_str(), on_result, ud);
    });
    call("folder_list_after", [](const void* ud) { return TIMConvGetConversationGroupList(on_result, ud); });

    call("clean", [](const void* ud) {
        return TIMConvCleanConversationUnreadMessageCount("c2c_98826", 0, 0, on_result, ud);
    });
    call("total_after_clean", [](const void* ud) { return TIMConvGetTotalUnreadMessageCount(on_result, ud); });

    call("delete", [&](const void* ud) { return TIMConvDelete(userid, kTIMConv_C2C, on_result, ud); });
    call("delete_list", [](const void* ud) {
        return TIMConvDeleteConversationList(R"(["group_Windows-Group-01","c2c_nobody"])", true, on_result, ud);
    });
    call("conv_list", [](const void* ud) { return TIMConvGetConvList(on_result, ud); });

    call("logout", [](const void* ud) { return TIMLogout(on_result, ud); });
    check(TIMUninit() == TIM_SUCC, "uninit");

    // Every callback came exactly once (TIMUninit delivers every pending one before it returns).
    for (auto& w : waiters) check(w->calls == (w->accepted ? 1 : 0), w->label + ": callback count");
    std::printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
