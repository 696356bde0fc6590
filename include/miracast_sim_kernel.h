/*
 * miracast_sim_kernel.h - the kernel routines (wdm.h) a display miniport calls on its Miracast
 * and context paths, with their Windows names and signatures, for a KMD built as a shared library
 * for miracast-sim. Include <wdm.h> (which includes this file) as on Windows.
 *
 * Written from the public documentation of each routine: the wdm.h reference
 * (https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/), "Introduction to Spin Locks",
 * "Fast Mutexes and Guarded Mutexes", "Managing Hardware Priorities" (IRQL), the POOL_FLAGS page,
 * and Driver Verifier's pages and bug check 0xC4 (https://learn.microsoft.com/windows-hardware/
 * drivers/devtest/driver-verifier, .../debugger/bug-check-0xc4--driver-verifier-detected-violation).
 * Object sizes are at least the x64 sizes, and the objects are opaque: use them only through
 * their routines, as on Windows.
 *
 * How a driver reaches them: the library leaves every routine below undefined (declared weak, so
 * the library loads without them) and miracast-sim's loader points the library's own import slots
 * at its implementations, exactly as Windows binds a driver's imports from ntoskrnl.exe. Nothing
 * is linked into the driver and no simulator call appears in its source. Under the simulator:
 *   - every acquire, release, wait and signal is a scheduling point of the deterministic
 *     scheduler, so exploration covers the driver's own locking, and a lock cycle is a reported
 *     deadlock with its wait-for chain;
 *   - IRQL is tracked per simulated thread, as the OS sets it for each DDI (PASSIVE_LEVEL for the
 *     Miracast DDIs, DISPATCH_LEVEL for DxgkDdiDpcRoutine and DPCs, DIRQL for
 *     DxgkDdiInterruptRoutine) and as the driver changes it; misuse is reported in Driver
 *     Verifier's words;
 *   - pool comes from the scenario's memory budget, with tags, leak detection and failure
 *     injection;
 *   - time is virtual;
 *   - built with -fsanitize=thread, the driver's loads and stores are checked for races
 *     (miracast_sim_race.h).
 * On a platform without the loader's import rewriting (Windows, macOS) these routines are not
 * provided.
 */
#ifndef MIRACAST_SIM_KERNEL_H
#define MIRACAST_SIM_KERNEL_H

#include "miracast_sim_wintypes.h"
#include "miracast_sim_ntstatus.h"
#include "miracast_sim_race.h"

#include <stdarg.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Imports resolved by the simulator's loader (weak: the library loads without a definition). */
#ifndef MIRACAST_SIM_KERNEL_IMPORT
#if defined(__GNUC__) || defined(__clang__)
#define MIRACAST_SIM_KERNEL_IMPORT __attribute__((weak))
#else
#define MIRACAST_SIM_KERNEL_IMPORT
#endif
#endif

#ifndef NTKERNELAPI
#define NTKERNELAPI MIRACAST_SIM_KERNEL_IMPORT
#endif

#ifndef CCHAR_DEFINED
#define CCHAR_DEFINED
typedef char CCHAR;
#endif
typedef const char *PCSTR;

/* ---- IRQL ----------------------------------------------------------------------------------- */

typedef UCHAR KIRQL, *PKIRQL;
#define PASSIVE_LEVEL 0
#define LOW_LEVEL 0
#define APC_LEVEL 1
#define DISPATCH_LEVEL 2
#define HIGH_LEVEL 15

NTKERNELAPI KIRQL NTAPI KeGetCurrentIrql(VOID);
NTKERNELAPI KIRQL NTAPI KfRaiseIrql(KIRQL NewIrql);
NTKERNELAPI VOID NTAPI KeLowerIrql(KIRQL NewIrql);
NTKERNELAPI KIRQL NTAPI KeRaiseIrqlToDpcLevel(VOID);
#define KeRaiseIrql(NewIrql, OldIrql) (*(OldIrql) = KfRaiseIrql(NewIrql))

/* ---- spin locks ----------------------------------------------------------------------------- */

typedef ULONG_PTR KSPIN_LOCK, *PKSPIN_LOCK;

NTKERNELAPI VOID NTAPI KeInitializeSpinLock(PKSPIN_LOCK SpinLock);
NTKERNELAPI KIRQL NTAPI KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock);
NTKERNELAPI VOID NTAPI KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql);
NTKERNELAPI VOID NTAPI KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock);
NTKERNELAPI VOID NTAPI KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock);
/* A macro on Windows: OldIrql receives the IRQL before the raise to DISPATCH_LEVEL. */
#define KeAcquireSpinLock(SpinLock, OldIrql) (*(OldIrql) = KeAcquireSpinLockRaiseToDpc(SpinLock))

/* In-stack queued spin locks: one handle per acquisition, on the acquirer's stack. (Waiters are
 * not served in FIFO order under the simulator: which one wins is the scheduler's choice, a
 * superset of the orders Windows allows.) */
typedef struct _KLOCK_QUEUE_HANDLE {
    ULONG_PTR LockQueue[2];
    KIRQL OldIrql;
} KLOCK_QUEUE_HANDLE, *PKLOCK_QUEUE_HANDLE;

NTKERNELAPI VOID NTAPI KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle);
NTKERNELAPI VOID NTAPI KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle);
NTKERNELAPI VOID NTAPI KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle);
NTKERNELAPI VOID NTAPI KeReleaseInStackQueuedSpinLockFromDpcLevel(PKLOCK_QUEUE_HANDLE LockHandle);

/* ---- fast and guarded mutexes --------------------------------------------------------------- */

typedef struct _FAST_MUTEX {
    ULONG_PTR Opaque[7];
} FAST_MUTEX, *PFAST_MUTEX, KGUARDED_MUTEX, *PKGUARDED_MUTEX;

NTKERNELAPI VOID NTAPI ExInitializeFastMutex(PFAST_MUTEX FastMutex);
NTKERNELAPI VOID NTAPI ExAcquireFastMutex(PFAST_MUTEX FastMutex);
NTKERNELAPI VOID NTAPI ExReleaseFastMutex(PFAST_MUTEX FastMutex);
NTKERNELAPI BOOLEAN NTAPI ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex);
NTKERNELAPI VOID NTAPI KeInitializeGuardedMutex(PKGUARDED_MUTEX Mutex);
NTKERNELAPI VOID NTAPI KeAcquireGuardedMutex(PKGUARDED_MUTEX Mutex);
NTKERNELAPI VOID NTAPI KeReleaseGuardedMutex(PKGUARDED_MUTEX Mutex);

/* Critical regions: normal kernel APCs are not delivered under the simulator, but the depth is
 * counted per thread, because acquiring an ERESOURCE outside one is a Driver Verifier violation
 * (C4/0x37). */
NTKERNELAPI VOID NTAPI KeEnterCriticalRegion(VOID);
NTKERNELAPI VOID NTAPI KeLeaveCriticalRegion(VOID);

/* ---- executive resources (ERESOURCE) -------------------------------------------------------- */

/* A reader-writer lock: shared owners, or one exclusive owner who may acquire it again (shared
 * or exclusive). A shared owner asking for exclusive access deadlocks, as on Windows. Acquire
 * inside a critical region (KeEnterCriticalRegion) at IRQL <= APC_LEVEL. Opaque: the real
 * structure's size is not published; this one is large enough for any field a driver touches
 * (none: initialize it only with ExInitializeResourceLite). */
typedef struct _ERESOURCE {
    ULONG_PTR Opaque[13];
} ERESOURCE, *PERESOURCE;

NTKERNELAPI NTSTATUS NTAPI ExInitializeResourceLite(PERESOURCE Resource);
NTKERNELAPI NTSTATUS NTAPI ExDeleteResourceLite(PERESOURCE Resource);
NTKERNELAPI BOOLEAN NTAPI ExAcquireResourceExclusiveLite(PERESOURCE Resource, BOOLEAN Wait);
NTKERNELAPI BOOLEAN NTAPI ExAcquireResourceSharedLite(PERESOURCE Resource, BOOLEAN Wait);
NTKERNELAPI VOID NTAPI ExReleaseResourceLite(PERESOURCE Resource);

/* ---- events and waits ----------------------------------------------------------------------- */

typedef LONG KPRIORITY;
typedef CCHAR KPROCESSOR_MODE;
#define KernelMode 0
#define UserMode 1
#define IO_NO_INCREMENT 0

typedef enum _EVENT_TYPE { NotificationEvent = 0, SynchronizationEvent = 1 } EVENT_TYPE;
typedef enum _KWAIT_REASON { Executive = 0, UserRequest = 6 } KWAIT_REASON;

typedef struct _KEVENT {
    ULONG_PTR Opaque[3];
} KEVENT, *PKEVENT, *PRKEVENT;

NTKERNELAPI VOID NTAPI KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State);
NTKERNELAPI LONG NTAPI KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait);
NTKERNELAPI LONG NTAPI KeResetEvent(PRKEVENT Event);
NTKERNELAPI VOID NTAPI KeClearEvent(PRKEVENT Event);
NTKERNELAPI LONG NTAPI KeReadStateEvent(PRKEVENT Event);
/* Object: a KEVENT or a KTIMER. Timeout in 100 ns units: negative relative, positive absolute
 * (since 1601-01-01), 0 polls, NULL waits for ever. */
NTKERNELAPI NTSTATUS NTAPI KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                                                 BOOLEAN Alertable, PLARGE_INTEGER Timeout);
NTKERNELAPI NTSTATUS NTAPI KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                                  PLARGE_INTEGER Interval);

/* ---- DPCs and timers ------------------------------------------------------------------------ */

struct _KDPC;
typedef VOID NTAPI KDEFERRED_ROUTINE(struct _KDPC *Dpc, PVOID DeferredContext, PVOID SystemArgument1,
                                     PVOID SystemArgument2);
typedef KDEFERRED_ROUTINE *PKDEFERRED_ROUTINE;

typedef struct _KDPC {
    ULONG_PTR Opaque[8];
} KDPC, *PKDPC, *PRKDPC;

NTKERNELAPI VOID NTAPI KeInitializeDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext);
NTKERNELAPI BOOLEAN NTAPI KeInsertQueueDpc(PRKDPC Dpc, PVOID SystemArgument1, PVOID SystemArgument2);
NTKERNELAPI BOOLEAN NTAPI KeRemoveQueueDpc(PRKDPC Dpc);
/* Returns once every DPC queued before the call has run (PASSIVE_LEVEL; it waits). */
NTKERNELAPI VOID NTAPI KeFlushQueuedDpcs(VOID);

typedef enum _TIMER_TYPE { NotificationTimer = 0, SynchronizationTimer = 1 } TIMER_TYPE;

typedef struct _KTIMER {
    ULONG_PTR Opaque[8];
} KTIMER, *PKTIMER;

NTKERNELAPI VOID NTAPI KeInitializeTimer(PKTIMER Timer);
NTKERNELAPI VOID NTAPI KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type);
NTKERNELAPI BOOLEAN NTAPI KeSetTimer(PKTIMER Timer, LARGE_INTEGER DueTime, PKDPC Dpc);
NTKERNELAPI BOOLEAN NTAPI KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc);
NTKERNELAPI BOOLEAN NTAPI KeCancelTimer(PKTIMER Timer);
NTKERNELAPI BOOLEAN NTAPI KeReadStateTimer(PKTIMER Timer);

/* ---- work items ----------------------------------------------------------------------------- */

typedef struct _DEVICE_OBJECT DEVICE_OBJECT, *PDEVICE_OBJECT;
typedef struct _IO_WORKITEM IO_WORKITEM, *PIO_WORKITEM;
typedef VOID NTAPI IO_WORKITEM_ROUTINE(PDEVICE_OBJECT DeviceObject, PVOID Context);
typedef IO_WORKITEM_ROUTINE *PIO_WORKITEM_ROUTINE;
typedef enum _WORK_QUEUE_TYPE { CriticalWorkQueue = 0, DelayedWorkQueue = 1, HyperCriticalWorkQueue = 2 } WORK_QUEUE_TYPE;

NTKERNELAPI PIO_WORKITEM NTAPI IoAllocateWorkItem(PDEVICE_OBJECT DeviceObject);
NTKERNELAPI VOID NTAPI IoQueueWorkItem(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine,
                                       WORK_QUEUE_TYPE QueueType, PVOID Context);
NTKERNELAPI VOID NTAPI IoFreeWorkItem(PIO_WORKITEM IoWorkItem);

/* ---- pool ----------------------------------------------------------------------------------- */

typedef ULONG64 POOL_FLAGS;
#define POOL_FLAG_USE_QUOTA 0x0000000000000001ULL
#define POOL_FLAG_UNINITIALIZED 0x0000000000000002ULL
#define POOL_FLAG_SESSION 0x0000000000000004ULL
#define POOL_FLAG_CACHE_ALIGNED 0x0000000000000008ULL
#define POOL_FLAG_RAISE_ON_FAILURE 0x0000000000000020ULL
#define POOL_FLAG_NON_PAGED 0x0000000000000040ULL
#define POOL_FLAG_NON_PAGED_EXECUTE 0x0000000000000080ULL
#define POOL_FLAG_PAGED 0x0000000000000100ULL
#define POOL_FLAG_SPECIAL_POOL 0x0000000100000000ULL

typedef enum _POOL_TYPE {
    NonPagedPool = 0,
    NonPagedPoolExecute = 0,
    PagedPool = 1,
    NonPagedPoolMustSucceed = 2,
    NonPagedPoolCacheAligned = 4,
    PagedPoolCacheAligned = 5,
    NonPagedPoolNx = 512,
    NonPagedPoolNxCacheAligned = 516
} POOL_TYPE;

NTKERNELAPI PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
NTKERNELAPI VOID NTAPI ExFreePoolWithTag(PVOID P, ULONG Tag);
NTKERNELAPI VOID NTAPI ExFreePool(PVOID P);

/* ---- time ----------------------------------------------------------------------------------- */

NTKERNELAPI LARGE_INTEGER NTAPI KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency);
NTKERNELAPI VOID NTAPI KeQuerySystemTimePrecise(PLARGE_INTEGER CurrentTime);
NTKERNELAPI VOID NTAPI KeQuerySystemTime(PLARGE_INTEGER CurrentTime);
NTKERNELAPI ULONGLONG NTAPI KeQueryInterruptTime(VOID);
NTKERNELAPI VOID NTAPI KeStallExecutionProcessor(ULONG MicroSeconds);

/* ---- debug output --------------------------------------------------------------------------- */

/* The simulator's line sink behind DbgPrint (one formatted line, at most 512 bytes). */
NTKERNELAPI ULONG NTAPI MiracastSimDbgPrint(PCSTR Text);

#define DPFLTR_IHVVIDEO_ID 23
#define DPFLTR_ERROR_LEVEL 0
#define DPFLTR_WARNING_LEVEL 1
#define DPFLTR_TRACE_LEVEL 2
#define DPFLTR_INFO_LEVEL 3

/* DbgPrint is variadic; it formats here (512 bytes, as Windows) and hands the line over. */
static inline ULONG DbgPrint(PCSTR Format, ...) {
    char line[512];
    va_list args;
    va_start(args, Format);
    vsnprintf(line, sizeof line, Format, args);
    va_end(args);
    return MiracastSimDbgPrint(line);
}

static inline ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...) {
    char line[512];
    va_list args;
    (void)ComponentId;
    (void)Level;
    va_start(args, Format);
    vsnprintf(line, sizeof line, Format, args);
    va_end(args);
    return MiracastSimDbgPrint(line);
}

/* ---- interlocked operations (atomic, not scheduling points) --------------------------------- */

static inline LONG InterlockedIncrement(LONG volatile *Addend) { return __atomic_add_fetch(Addend, 1, __ATOMIC_SEQ_CST); }
static inline LONG InterlockedDecrement(LONG volatile *Addend) { return __atomic_sub_fetch(Addend, 1, __ATOMIC_SEQ_CST); }
static inline LONG InterlockedExchange(LONG volatile *Target, LONG Value) {
    return __atomic_exchange_n(Target, Value, __ATOMIC_SEQ_CST);
}
static inline LONG InterlockedCompareExchange(LONG volatile *Destination, LONG Exchange, LONG Comparand) {
    __atomic_compare_exchange_n(Destination, &Comparand, Exchange, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return Comparand;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#if defined(__x86_64__) || defined(_M_X64)
MIRACAST_SIM_STATIC_ASSERT(sizeof(KEVENT) == 24, "KEVENT size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(KDPC) == 64, "KDPC size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(KTIMER) == 64, "KTIMER size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(FAST_MUTEX) == 56, "FAST_MUTEX size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(KLOCK_QUEUE_HANDLE) == 24, "KLOCK_QUEUE_HANDLE size");
#endif

#endif /* MIRACAST_SIM_KERNEL_H */
