/*
 * harness.h: what the C test programs share.
 *
 * A call is made with a `Pending` as its user_data. The callback (on the library's callback
 * thread) checks that it is not on the calling thread and that user_data came back untouched,
 * copies what it received (the strings are valid only during the callback), prints a record
 * and wakes the caller. At the end, `harness_finish` checks that every accepted call got exactly
 * one callback and every refused call none.
 *
 * Records on stdout, one per callback or event, each three lines:
 *   @@ <kind> <label> <code>
 *   <desc, or the listener's first string>
 *   <json, or the listener's second string>
 * The test harness (capi/tests/c_programs.rs) parses them and checks the JSON.
 */
#ifndef TIMCONV_TEST_HARNESS_H_
#define TIMCONV_TEST_HARNESS_H_

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "TIMCloud.h"
#include "TIMConvExt.h"

#define MAX_PENDING 200000

typedef struct Pending {
    const char* label;
    pthread_t caller;
    int accepted;  /* the call returned TIM_SUCC */
    int calls;     /* callbacks received */
    int code;
    char* desc;
    char* json;
    int quiet;     /* do not print a record */
    struct Pending* self; /* user_data must come back as this */
} Pending;

static pthread_mutex_t harness_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t harness_cond = PTHREAD_COND_INITIALIZER;
static Pending* harness_all[MAX_PENDING];
static int harness_count = 0;
static int harness_failures = 0;
static int harness_checks = 0;

static inline void fail(const char* format, ...) {
    va_list args;
    va_start(args, format);
    pthread_mutex_lock(&harness_lock);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, format, args);
    fprintf(stderr, "\n");
    harness_failures++;
    pthread_mutex_unlock(&harness_lock);
    va_end(args);
}

static inline void check(int ok, const char* what) {
    pthread_mutex_lock(&harness_lock);
    harness_checks++;
    pthread_mutex_unlock(&harness_lock);
    if (!ok) fail("%s", what);
}

static inline char* copy(const char* s) {
    size_t n;
    char* c;
    if (s == NULL) return NULL;
    n = strlen(s);
    c = (char*)malloc(n + 1);
    if (c == NULL) abort();
    memcpy(c, s, n + 1);
    return c;
}

/* Prints one record (under the lock, so records never interleave). */
static inline void record(const char* kind, const char* label, long code, const char* first,
                   const char* second) {
    const char* p;
    pthread_mutex_lock(&harness_lock);
    printf("@@ %s %s %ld\n", kind, label, code);
    for (p = first ? first : ""; *p; p++) putchar(*p == '\n' ? ' ' : *p);
    putchar('\n');
    for (p = second ? second : ""; *p; p++) putchar(*p == '\n' ? ' ' : *p);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&harness_lock);
}

static inline Pending* pending(const char* label) {
    Pending* p = (Pending*)calloc(1, sizeof(Pending));
    if (p == NULL) abort();
    p->label = label;
    p->caller = pthread_self();
    p->self = p;
    pthread_mutex_lock(&harness_lock);
    if (harness_count < MAX_PENDING) harness_all[harness_count++] = p;
    pthread_mutex_unlock(&harness_lock);
    return p;
}

static inline void on_result(int32_t code, const char* desc, const char* json, const void* user_data) {
    Pending* p = (Pending*)user_data;
    if (p == NULL || p->self != p) {
        fail("user_data did not come back untouched");
        return;
    }
    if (desc == NULL || json == NULL) fail("%s: a NULL string in the callback", p->label);
    if (pthread_equal(pthread_self(), p->caller)) fail("%s: callback on the calling thread", p->label);
    if (!p->quiet) record("cb", p->label, code, desc, json);
    pthread_mutex_lock(&harness_lock);
    p->calls++;
    p->code = code;
    free(p->desc);
    free(p->json);
    p->desc = copy(desc);
    p->json = copy(json);
    pthread_cond_broadcast(&harness_cond);
    pthread_mutex_unlock(&harness_lock);
}

/* Notes what a call returned; refused calls print a record at once. */
static inline Pending* returned(Pending* p, int ret) {
    pthread_mutex_lock(&harness_lock);
    p->accepted = (ret == TIM_SUCC);
    pthread_mutex_unlock(&harness_lock);
    if (ret != TIM_SUCC && !p->quiet) record("ret", p->label, ret, "", "");
    return p;
}

/* Waits (at most 60 s) for the callback of an accepted call; returns its code, or the
 * call's return value if it was refused. */
static inline int wait_for(Pending* p, int ret) {
    struct timespec deadline;
    int code;
    returned(p, ret);
    if (ret != TIM_SUCC) return ret;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    pthread_mutex_lock(&harness_lock);
    while (p->calls == 0) {
        if (pthread_cond_timedwait(&harness_cond, &harness_lock, &deadline) != 0) break;
    }
    code = p->calls ? p->code : -1000;
    pthread_mutex_unlock(&harness_lock);
    if (code == -1000) fail("%s: no callback within 60 s", p->label);
    return code;
}

/* Calls and waits: `CALL(label, fn(args..., on_result, P))` where P is the Pending. */
#define CALL(label, expr)                                                                  \
    (harness_p = pending(label), wait_for(harness_p, (expr)))
static Pending* harness_p TIM_UNUSED_KEY;
#define P ((const void*)harness_p)

/* Calls, waits, and checks the outcome: the return value, and the callback's code when the
 * call was accepted. */
#define EXPECT(label, expected_ret, expected_code, expr)                                   \
    do {                                                                                   \
        int expect_ret_;                                                                   \
        harness_p = pending(label);                                                        \
        expect_ret_ = (expr);                                                              \
        wait_for(harness_p, expect_ret_);                                                  \
        harness_checks++;                                                                  \
        if (expect_ret_ != (expected_ret))                                                 \
            fail("%s: returned %d, expected %d", label, expect_ret_, (expected_ret));      \
        else if (expect_ret_ == TIM_SUCC && harness_p->code != (expected_code))            \
            fail("%s: callback code %d, expected %d (%s)", label, harness_p->code,         \
                 (expected_code), harness_p->desc ? harness_p->desc : "");                 \
    } while (0)

/* Checks that every accepted call got exactly one callback and every refused one none; prints
 * the closing line and returns the exit status. Call after TIMUninit (which delivers every
 * callback before it returns). */
static inline int harness_finish(void) {
    int i;
    for (i = 0; i < harness_count; i++) {
        Pending* p = harness_all[i];
        int expected = p->accepted ? 1 : 0;
        harness_checks++;
        if (p->calls != expected)
            fail("%s: %d callbacks for a call that %s", p->label, p->calls,
                 p->accepted ? "was accepted" : "was refused");
    }
    printf("%d passed, %d failed\n", harness_checks - harness_failures, harness_failures);
    fflush(stdout);
    return harness_failures == 0 ? 0 : 1;
}

/* Sleeps `ms` milliseconds. */
static inline void sleep_ms(long ms) {
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
}

/* A JSON config naming `dir` as the data directory. */
static inline void config_for(char* out, size_t size, const char* dir) {
    snprintf(out, size, "{\"%s\":\"%s\"}", kTIMSdkConfigConfigFilePath, dir);
}

#endif /* TIMCONV_TEST_HARNESS_H_ */
