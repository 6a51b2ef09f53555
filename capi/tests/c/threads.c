/*
 * threads.c: calls from several C threads at once, logging out and uninitialising while
 * calls are in flight, and uninitialising from inside a callback.
 *
 * Usage: threads <data dir>. Checks everything itself: every accepted call gets exactly one
 * callback, with an allowed code; the counts add up; nothing deadlocks or crashes.
 */
#include "harness.h"

#define THREADS 8
#define ROUNDS 150
#define PEERS 5

static char config[4096];

/* Accepts or not: records the call, never waits. */
static Pending* fire(const char* label, Pending* p, int ret) {
    (void)label;
    return returned(p, ret);
}

static Pending* quiet(const char* label) {
    Pending* p = pending(label);
    p->quiet = 1;
    return p;
}

static void feed_into(int thread, int round, int* accepted) {
    char json[512];
    Pending* p = quiet("feed");
    snprintf(json, sizeof json,
             "{\"message_msg_id\":\"t%d-%d\",\"message_conv_id\":\"t%d_%d\",\"message_conv_type\":1,"
             "\"message_sender\":\"peer\",\"message_server_time\":%d}",
             thread, round, thread, round % PEERS, 1000 + round);
    if (fire("feed", p, TIMConvExtFeedMessage(json, on_result, p))->accepted) (*accepted)++;
}

static void* worker(void* arg) {
    int thread = (int)(intptr_t)arg;
    int round, accepted = 0;
    char peer[64];
    for (round = 0; round < ROUNDS; round++) {
        Pending* p;
        feed_into(thread, round, &accepted);
        snprintf(peer, sizeof peer, "t%d_%d", thread, round % PEERS);
        switch (round % 5) {
            case 0:
                p = quiet("pin");
                fire("pin", p, TIMConvPinConversation(peer, kTIMConv_C2C, round % 10 == 0, on_result, p));
                break;
            case 1:
                p = quiet("list");
                fire("list", p, TIMConvGetConvList(on_result, p));
                break;
            case 2:
                p = quiet("page");
                fire("page", p, TIMConvGetConversationListByFilter("{\"conversation_list_filter_has_unread_count\":true}", 0, 7, on_result, p));
                break;
            case 3:
                if (TIMConvSetDraft(peer, kTIMConv_C2C, "{\"draft_user_define\":\"d\"}") != TIM_SUCC)
                    fail("a draft from a thread was refused");
                break;
            default:
                p = quiet("mark");
                fire("mark", p, TIMConvMarkConversation("[\"c2c_t0_0\",\"c2c_t1_1\"]", 1, round % 2, on_result, p));
        }
    }
    if (accepted != ROUNDS) fail("thread %d: %d of %d feeds accepted", thread, accepted, ROUNDS);
    return NULL;
}

/* Waits until every accepted call so far has its callback. */
static void wait_all(void) {
    int i, missing;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 120;
    pthread_mutex_lock(&harness_lock);
    for (;;) {
        missing = 0;
        for (i = 0; i < harness_count; i++)
            if (harness_all[i]->accepted && harness_all[i]->calls == 0) missing++;
        if (missing == 0) break;
        if (pthread_cond_timedwait(&harness_cond, &harness_lock, &deadline) != 0) break;
    }
    pthread_mutex_unlock(&harness_lock);
    if (missing) fail("%d accepted calls got no callback", missing);
}

static int codes_in(int from, const int* allowed, int n) {
    int i, j, bad = 0;
    for (i = from; i < harness_count; i++) {
        Pending* p = harness_all[i];
        int ok = 0;
        if (!p->accepted || p->calls == 0) continue;
        for (j = 0; j < n; j++) ok |= p->code == allowed[j];
        if (!ok) {
            fail("%s: unexpected code %d (%s)", p->label, p->code, p->desc ? p->desc : "");
            bad++;
        }
    }
    return bad;
}

static volatile int racing = 1;
static int race_accepted = 0;
static int race_refused_uninit = 0;

/* Calls until the SDK is gone. */
static void* racer(void* arg) {
    int thread = 100 + (int)(intptr_t)arg;
    int round = 0, ret;
    for (;;) {
        char json[256];
        Pending* p = quiet("race");
        snprintf(json, sizeof json,
                 "{\"message_msg_id\":\"r%d-%d\",\"message_conv_id\":\"race%d\",\"message_conv_type\":1,"
                 "\"message_server_time\":%d}",
                 thread, round, thread, 5000 + round);
        switch (round % 3) {
            case 0: ret = TIMConvExtFeedMessage(json, on_result, p); break;
            case 1: ret = TIMConvGetConvList(on_result, p); break;
            default: ret = TIMConvGetTotalUnreadMessageCount(on_result, p);
        }
        returned(p, ret);
        pthread_mutex_lock(&harness_lock);
        if (ret == TIM_SUCC) race_accepted++;
        if (ret == TIM_ERR_SDKUNINIT) race_refused_uninit++;
        pthread_mutex_unlock(&harness_lock);
        if (ret == TIM_ERR_SDKUNINIT) break;
        /* Enough in flight: wait for TIMUninit without queueing more. */
        while (round >= 300 && TIMConvGetConvList(NULL, NULL) == TIM_SUCC) sleep_ms(1);
        if (ret != TIM_SUCC && ret != TIM_ERR_NOTLOGIN) fail("race: returned %d", ret);
        round++;
    }
    return NULL;
}

static int uninit_from_callback = 999;

static void uninit_inside(int32_t code, const char* desc, const char* json, const void* user_data) {
    (void)desc;
    (void)json;
    (void)code;
    uninit_from_callback = TIMUninit();
    on_result(code, "", "", user_data);
}

static long total_unread(void) {
    const char* key = "\"conv_get_total_unread_message_count_result_unread_count\":";
    char* at;
    CALL("total", TIMConvGetTotalUnreadMessageCount(on_result, P));
    at = harness_p->json ? strstr(harness_p->json, key) : NULL;
    return at ? strtol(at + strlen(key), NULL, 10) : -1;
}

static long conversations(void) {
    long n = 0;
    const char* p;
    CALL("count", TIMConvGetConvList(on_result, P));
    for (p = harness_p->json; p && (p = strstr(p, "\"conv_id\":")); p++) n++;
    return n;
}

int main(int argc, char** argv) {
    pthread_t threads[THREADS];
    int i, missing, first;
    static const int ok_only[] = {0};
    static const int ok_or_gone[] = {0, ERR_SDK_NOT_INITIALIZED, ERR_SDK_NOT_LOGGED_IN};
    if (argc < 2) return 2;
    config_for(config, sizeof config, argv[1]);

    /* 1. Calls from many threads at once. */
    check(TIMInit(1400000000, config) == TIM_SUCC, "init");
    EXPECT("login", TIM_SUCC, 0, TIMLogin("me", "sig", on_result, P));
    for (i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, worker, (void*)(intptr_t)i);
    for (i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    wait_all();
    codes_in(0, ok_only, 1);
    check(total_unread() == THREADS * ROUNDS, "every fed message counts once");
    check(conversations() == THREADS * PEERS, "one conversation per peer");

    /* 2. Logging out with calls in flight: each completes or fails with 6014. */
    first = harness_count;
    for (i = 0; i < 50; i++) {
        Pending* p = quiet("before_logout");
        fire("list", p, TIMConvGetConvList(on_result, p));
    }
    EXPECT("logout", TIM_SUCC, 0, TIMLogout(on_result, P));
    wait_all();
    codes_in(first, ok_only, 1);
    EXPECT("login_again", TIM_SUCC, 0, TIMLogin("me", "sig", on_result, P));
    check(total_unread() == THREADS * ROUNDS, "the store was flushed and reopened");

    /* 3. TIMUninit racing calls from other threads. */
    first = harness_count;
    for (i = 0; i < 4; i++) pthread_create(&threads[i], NULL, racer, (void*)(intptr_t)i);
    /* Uninitialise once the racers are well under way (however loaded the machine is). */
    for (i = 0; i < 30000; i++) {
        int under_way;
        pthread_mutex_lock(&harness_lock);
        under_way = race_accepted >= 100;
        pthread_mutex_unlock(&harness_lock);
        if (under_way) break;
        sleep_ms(1);
    }
    check(TIMUninit() == TIM_SUCC, "uninit while calls race");
    /* Every call accepted before TIMUninit returned has had its callback. */
    pthread_mutex_lock(&harness_lock);
    missing = 0;
    for (i = first; i < harness_count; i++)
        if (harness_all[i]->accepted && harness_all[i]->calls == 0) missing++;
    pthread_mutex_unlock(&harness_lock);
    check(missing == 0, "TIMUninit delivers every callback before it returns");
    for (i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    codes_in(first, ok_or_gone, 3);
    check(race_accepted > 0, "some racing calls were accepted");
    check(race_refused_uninit == 4, "each racer saw TIM_ERR_SDKUNINIT");

    /* 4. Init and login again: everything is as it was. */
    check(TIMInit(1400000000, config) == TIM_SUCC, "init again");
    EXPECT("login_after_uninit", TIM_SUCC, 0, TIMLogin("me", "sig", on_result, P));
    check(total_unread() >= THREADS * ROUNDS, "the unread survived uninit");
    check(conversations() >= THREADS * PEERS, "the conversations survived uninit");

    /* 5. TIMUninit from inside a callback. */
    harness_p = pending("uninit_inside");
    wait_for(harness_p, TIMConvGetConvList(uninit_inside, harness_p));
    check(uninit_from_callback == TIM_SUCC, "TIMUninit inside a callback");
    check(TIMConvGetConvList(on_result, NULL) == TIM_ERR_SDKUNINIT, "uninitialised afterwards");
    check(TIMInit(1400000000, config) == TIM_SUCC, "init after uninit in a callback");
    EXPECT("login_last", TIM_SUCC, 0, TIMLogin("me", "sig", on_result, P));
    check(conversations() >= THREADS * PEERS, "and the data is there");
    check(TIMUninit() == TIM_SUCC, "uninit");
    return harness_finish();
}
