/*
 * miracast_sim_race.h - miracast-sim's race check for a driver built with ThreadSanitizer's
 * compiler instrumentation but without its runtime. Included by <wdm.h> (through
 * miracast_sim_kernel.h) for a KMD and by <netdispumdddi.h> for a UMD, so a driver's unchanged
 * Windows source needs no extra include. Not a Windows interface.
 *
 * Build the driver with the instrumentation and without the sanitizer's runtime (libtsan cannot
 * be loaded into a process that did not start with it):
 *     cc -std=c11 -I include -shared -fPIC -fsanitize=thread -nodefaultlibs -lc -o libkmd.so kmd.c
 *     cc -std=c11 -I include -shared -fPIC -fsanitize=thread -nodefaultlibs -lc -lpthread \
 *        -o libumd.so umd.c
 * The instrumented loads and stores call the __tsan_* entry points below (defined here, hidden,
 * in every file that includes this header), which hand each access to the simulator through
 * MiracastSimTsanAccess and each ordering atomic operation through MiracastSimTsanSync, both
 * declared weak so that the library loads without them; the simulator's loader binds them as it
 * binds the kernel routines. Without -fsanitize=thread nothing
 * here is compiled.
 *
 * The simulator orders accesses only by its own happens-before: the documented OS
 * synchronization, the kernel routines of <wdm.h> (spin locks, mutexes, events), a driver's
 * pthread mutexes, read-write locks, spin locks and semaphores (an unlock or sem_post publishes,
 * a later lock or sem_wait of the same object sees what was published) and atomics (below),
 * thread creation and join; never its own hand-offs between threads. It checks the memory the driver
 * owns: a KMD's pool blocks, the heap blocks a UMD (or KMD) took with malloc/calloc/realloc,
 * and the libraries' static data. Two accesses of different simulated threads, one a write,
 * that nothing orders are a race: in a KMD's memory R27, in a UMD's memory R30, the rule of
 * PFN_HANDLE_KMD_MESSAGE ("HandleKernelModeMessage may be called on several threads at once;
 * the UMD synchronizes itself", https://learn.microsoft.com/windows-hardware/drivers/ddi/
 * netdispumdddi/nc-netdispumdddi-pfn_handle_kmd_message).
 *
 * Atomic operations are performed here and never reported (an atomic access is not a data race);
 * they order other accesses as C11 says through MiracastSimTsanSync: an acquire (or stronger)
 * load sees what the last release store to the same atomic published, a release store publishes
 * what came before it, and a read-modify-write does both as its order says. Fences order
 * nothing for the check.
 */
#ifndef MIRACAST_SIM_RACE_H
#define MIRACAST_SIM_RACE_H

#include "miracast_sim_wintypes.h"

#if !defined(__SANITIZE_THREAD__) && defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define __SANITIZE_THREAD__ 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)

#ifdef __cplusplus
extern "C" {
#endif

/* Bound by the simulator's loader; weak, so the library loads (and the hooks do nothing) where
 * nothing binds it. */
__attribute__((weak)) VOID NTAPI MiracastSimTsanAccess(const volatile void *Address, SIZE_T Size, BOOLEAN Write);
/* An atomic operation at Address that orders: Kind is MIRACAST_SIM_TSAN_ACQUIRE and/or
 * MIRACAST_SIM_TSAN_RELEASE, with MIRACAST_SIM_TSAN_STORE for a plain store (which publishes only
 * its own thread's past, not that of earlier releases). */
__attribute__((weak)) VOID NTAPI MiracastSimTsanSync(const volatile void *Address, ULONG Kind);
#define MIRACAST_SIM_TSAN_ACQUIRE 1u
#define MIRACAST_SIM_TSAN_RELEASE 2u
#define MIRACAST_SIM_TSAN_STORE 4u
/* The instrumentation's memory orders: relaxed 0, consume 1, acquire 2, release 3, acq_rel 4,
 * seq_cst 5 (the C11 orders; the high bits may carry hints). */
#define MIRACAST_SIM_TSAN_ORDER_ACQUIRES(mo) (((mo) & 0xffff) == 1 || ((mo) & 0xffff) == 2 || ((mo) & 0xffff) >= 4)
#define MIRACAST_SIM_TSAN_ORDER_RELEASES(mo) (((mo) & 0xffff) >= 3)
#define MIRACAST_SIM_TSAN_SYNC(a, kind)                                                                          \
    do {                                                                                                         \
        if (MiracastSimTsanSync && ((kind) & (MIRACAST_SIM_TSAN_ACQUIRE | MIRACAST_SIM_TSAN_RELEASE)))           \
            MiracastSimTsanSync((a), (kind));                                                                    \
    } while (0)
#define MIRACAST_SIM_TSAN_RMW_KIND(mo)                                                                           \
    ((MIRACAST_SIM_TSAN_ORDER_ACQUIRES(mo) ? MIRACAST_SIM_TSAN_ACQUIRE : 0u) |                                   \
     (MIRACAST_SIM_TSAN_ORDER_RELEASES(mo) ? MIRACAST_SIM_TSAN_RELEASE : 0u))

#define MIRACAST_SIM_TSAN_HOOK __attribute__((weak, visibility("hidden"), no_sanitize_thread, used))
#define MIRACAST_SIM_TSAN_REPORT(a, n, w)                                                                        \
    do {                                                                                                         \
        if (MiracastSimTsanAccess) MiracastSimTsanAccess((a), (n), (w));                                         \
    } while (0)
MIRACAST_SIM_TSAN_HOOK void __tsan_init(void) {}
MIRACAST_SIM_TSAN_HOOK void __tsan_func_entry(void *pc) { (void)pc; }
MIRACAST_SIM_TSAN_HOOK void __tsan_func_exit(void) {}
MIRACAST_SIM_TSAN_HOOK void __tsan_vptr_update(void **vptr, void *value) { (void)vptr; (void)value; }
MIRACAST_SIM_TSAN_HOOK void __tsan_vptr_read(void **vptr) { (void)vptr; }
MIRACAST_SIM_TSAN_HOOK void __tsan_read_range(void *a, SIZE_T n) { MIRACAST_SIM_TSAN_REPORT(a, n, FALSE); }
MIRACAST_SIM_TSAN_HOOK void __tsan_write_range(void *a, SIZE_T n) { MIRACAST_SIM_TSAN_REPORT(a, n, TRUE); }
#define MIRACAST_SIM_TSAN_RW(n)                                                                                  \
    MIRACAST_SIM_TSAN_HOOK void __tsan_read##n(void *a) { MIRACAST_SIM_TSAN_REPORT(a, n, FALSE); }             \
    MIRACAST_SIM_TSAN_HOOK void __tsan_write##n(void *a) { MIRACAST_SIM_TSAN_REPORT(a, n, TRUE); }             \
    MIRACAST_SIM_TSAN_HOOK void __tsan_unaligned_read##n(void *a) { MIRACAST_SIM_TSAN_REPORT(a, n, FALSE); }   \
    MIRACAST_SIM_TSAN_HOOK void __tsan_unaligned_write##n(void *a) { MIRACAST_SIM_TSAN_REPORT(a, n, TRUE); }   \
    MIRACAST_SIM_TSAN_HOOK void __tsan_volatile_read##n(void *a) { MIRACAST_SIM_TSAN_REPORT(a, n, FALSE); }    \
    MIRACAST_SIM_TSAN_HOOK void __tsan_volatile_write##n(void *a) { MIRACAST_SIM_TSAN_REPORT(a, n, TRUE); }
MIRACAST_SIM_TSAN_RW(1)
MIRACAST_SIM_TSAN_RW(2)
MIRACAST_SIM_TSAN_RW(4)
MIRACAST_SIM_TSAN_RW(8)
MIRACAST_SIM_TSAN_RW(16)
/* Atomic operations are atomic, hence never races: performed here, not reported; the orders they
 * give go to the simulator (no instrumented access lies between an operation and its report, so
 * reporting a release just before or just after it is the same). A compare-and-exchange that
 * fails is a load with the failure order. */
#define MIRACAST_SIM_TSAN_CAS_SYNC(a, done, mo, fmo)                                                             \
    MIRACAST_SIM_TSAN_SYNC(a, (done) ? MIRACAST_SIM_TSAN_RMW_KIND(mo)                                            \
                                     : (MIRACAST_SIM_TSAN_ORDER_ACQUIRES(fmo) ? MIRACAST_SIM_TSAN_ACQUIRE : 0u))
#define MIRACAST_SIM_TSAN_ATOMIC(bits, type)                                                                     \
    MIRACAST_SIM_TSAN_HOOK type __tsan_atomic##bits##_load(const volatile type *a, int mo) {                    \
        type v = __atomic_load_n(a, __ATOMIC_SEQ_CST);                                                           \
        MIRACAST_SIM_TSAN_SYNC(a, MIRACAST_SIM_TSAN_ORDER_ACQUIRES(mo) ? MIRACAST_SIM_TSAN_ACQUIRE : 0u);        \
        return v;                                                                                                \
    }                                                                                                            \
    MIRACAST_SIM_TSAN_HOOK void __tsan_atomic##bits##_store(volatile type *a, type v, int mo) {                 \
        MIRACAST_SIM_TSAN_SYNC(a, MIRACAST_SIM_TSAN_ORDER_RELEASES(mo)                                           \
                                      ? (MIRACAST_SIM_TSAN_RELEASE | MIRACAST_SIM_TSAN_STORE)                    \
                                      : 0u);                                                                     \
        __atomic_store_n(a, v, __ATOMIC_SEQ_CST);                                                                \
    }                                                                                                            \
    MIRACAST_SIM_TSAN_HOOK type __tsan_atomic##bits##_exchange(volatile type *a, type v, int mo) {              \
        MIRACAST_SIM_TSAN_SYNC(a, MIRACAST_SIM_TSAN_RMW_KIND(mo));                                               \
        return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST);                                                      \
    }                                                                                                            \
    MIRACAST_SIM_TSAN_HOOK type __tsan_atomic##bits##_fetch_add(volatile type *a, type v, int mo) {             \
        MIRACAST_SIM_TSAN_SYNC(a, MIRACAST_SIM_TSAN_RMW_KIND(mo));                                               \
        return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);                                                       \
    }                                                                                                            \
    MIRACAST_SIM_TSAN_HOOK type __tsan_atomic##bits##_fetch_sub(volatile type *a, type v, int mo) {             \
        MIRACAST_SIM_TSAN_SYNC(a, MIRACAST_SIM_TSAN_RMW_KIND(mo));                                               \
        return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST);                                                       \
    }                                                                                                            \
    MIRACAST_SIM_TSAN_HOOK type __tsan_atomic##bits##_fetch_and(volatile type *a, type v, int mo) {             \
        MIRACAST_SIM_TSAN_SYNC(a, MIRACAST_SIM_TSAN_RMW_KIND(mo));                                               \
        return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST);                                                       \
    }                                                                                                            \
    MIRACAST_SIM_TSAN_HOOK type __tsan_atomic##bits##_fetch_or(volatile type *a, type v, int mo) {              \
        MIRACAST_SIM_TSAN_SYNC(a, MIRACAST_SIM_TSAN_RMW_KIND(mo));                                               \
        return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST);                                                        \
    }                                                                                                            \
    MIRACAST_SIM_TSAN_HOOK type __tsan_atomic##bits##_fetch_xor(volatile type *a, type v, int mo) {             \
        MIRACAST_SIM_TSAN_SYNC(a, MIRACAST_SIM_TSAN_RMW_KIND(mo));                                               \
        return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST);                                                       \
    }                                                                                                            \
    MIRACAST_SIM_TSAN_HOOK int __tsan_atomic##bits##_compare_exchange_strong(volatile type *a, type *c, type v, \
                                                                             int mo, int fmo) {                  \
        int done = __atomic_compare_exchange_n(a, c, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                 \
        MIRACAST_SIM_TSAN_CAS_SYNC(a, done, mo, fmo);                                                            \
        return done;                                                                                             \
    }                                                                                                            \
    MIRACAST_SIM_TSAN_HOOK int __tsan_atomic##bits##_compare_exchange_weak(volatile type *a, type *c, type v,   \
                                                                           int mo, int fmo) {                    \
        int done = __atomic_compare_exchange_n(a, c, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                 \
        MIRACAST_SIM_TSAN_CAS_SYNC(a, done, mo, fmo);                                                            \
        return done;                                                                                             \
    }                                                                                                            \
    MIRACAST_SIM_TSAN_HOOK type __tsan_atomic##bits##_compare_exchange_val(volatile type *a, type c, type v,    \
                                                                          int mo, int fmo) {                     \
        int done = __atomic_compare_exchange_n(a, &c, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                \
        MIRACAST_SIM_TSAN_CAS_SYNC(a, done, mo, fmo);                                                            \
        return c;                                                                                                \
    }
MIRACAST_SIM_TSAN_ATOMIC(8, char)
MIRACAST_SIM_TSAN_ATOMIC(16, short)
MIRACAST_SIM_TSAN_ATOMIC(32, int)
MIRACAST_SIM_TSAN_ATOMIC(64, long long)
MIRACAST_SIM_TSAN_HOOK void __tsan_atomic_thread_fence(int mo) {
    (void)mo;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
MIRACAST_SIM_TSAN_HOOK void __tsan_atomic_signal_fence(int mo) {
    (void)mo;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* __SANITIZE_THREAD__ */

#endif /* MIRACAST_SIM_RACE_H */
