/*
 * miracast_sim_kmd.h - how miracast-sim loads a display miniport (KMD) built as a shared library.
 *
 * This header is miracast-sim's own design, not a Windows interface. Real WDDM drivers are
 * kernel images: DriverEntry hands dxgkrnl a large DRIVER_INITIALIZATION_DATA through
 * DxgkInitialize, and dxgkrnl later passes DXGKRNL_INTERFACE to DxgkDdiStartDevice. The
 * simulator needs only the part of that exchange that the Miracast flow uses, so a KMD built for
 * the simulator (its Miracast code compiled as a .so/.dll together with a small adapter file)
 * exports one C function:
 *
 *     MIRACAST_SIM_KMD_EXPORT NTSTATUS APIENTRY
 *     MiracastSimKmdEntry(const MIRACAST_SIM_KMD_OS_INTERFACE *pOsInterface,
 *                         MIRACAST_SIM_KMD_DRIVER_INTERFACE *pDriverInterface);
 *
 * Through it the driver receives the OS callbacks it would otherwise find in DXGKRNL_INTERFACE
 * (with their real WDDM signatures) and returns its DDIs (with their real signatures, except the
 * two reduced ones marked below). The Miracast-specific callbacks are not here: as on Windows they
 * arrive in DXGK_MIRACAST_DISPLAY_CALLBACKS at DxgkDdiMiracastCreateContext, and the Miracast DDIs
 * are returned from DxgkDdiQueryInterface in DXGK_MIRACAST_DISPLAY_INTERFACE.
 *
 * Call sequence the simulator follows (the order of steps 2-4 is the simulator's choice, see the
 * fact sheet, G9):
 *   1. Load the library and resolve MIRACAST_SIM_KMD_ENTRY_NAME.
 *   2. Call it once (DriverEntry + DxgkDdiAddDevice in one): the driver checks Size/Version,
 *      allocates its adapter context, keeps a copy of *pOsInterface, and fills *pDriverInterface.
 *   3. DxgkDdiQueryInterface with InterfaceType = &GUID_DEVINTERFACE_MIRACAST_DISPLAY,
 *      Size = sizeof(DXGK_MIRACAST_DISPLAY_INTERFACE), Version = 1.
 *   4. DxgkDdiStartDevice (reduced): NumberOfChildren counts the Miracast target.
 *   5. DxgkDdiMiracastQueryCaps, DxgkDdiQueryChildRelations, DxgkDdiQueryChildStatus.
 *   6. Per connection: DxgkDdiMiracastCreateContext, DxgkDdiMiracastIoControl (from the UMD),
 *      DxgkCbIndicateChildStatus, DxgkDdiQueryDeviceDescriptor (EDID), DxgkDdiCommitVidPn
 *      (reduced), DxgkDdiCreateContext / DxgkDdiDestroyContext, DxgkDdiInterruptRoutine (the
 *      driver calls DxgkCbNotifyInterrupt with DXGK_INTERRUPT_MICACAST_CHUNK_PROCESSING_COMPLETE
 *      and, if needed, DxgkCbQueueDpc), DxgkDdiDpcRoutine (the driver calls DxgkCbNotifyDpc),
 *      DxgkDdiMiracastDestroyContext.
 *   7. DxgkDdiRemoveDevice, then the library is unloaded.
 * The simulator calls from ordinary threads; IRQL annotations describe the Windows rules that the
 * simulator checks, not a real interrupt level.
 */
#ifndef MIRACAST_SIM_KMD_H
#define MIRACAST_SIM_KMD_H

#include "miracast_sim_wintypes.h"
#include "miracast_sim_ntstatus.h"
#include "d3dkmddi.h"
#include "dispmprt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the two structures below described by this header. */
#define MIRACAST_SIM_KMD_INTERFACE_VERSION_1 1

/* Name of the one export the simulator looks up in the KMD library. */
#define MIRACAST_SIM_KMD_ENTRY_NAME "MiracastSimKmdEntry"

/* Marks the MiracastSimKmdEntry definition as exported from the library. */
#ifndef MIRACAST_SIM_KMD_EXPORT
#if defined(_WIN32)
#define MIRACAST_SIM_KMD_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define MIRACAST_SIM_KMD_EXPORT __attribute__((visibility("default")))
#else
#define MIRACAST_SIM_KMD_EXPORT
#endif
#endif

/*
 * What the simulated OS gives the driver (the subset of DXGKRNL_INTERFACE the Miracast flow uses).
 * Valid until DxgkDdiRemoveDevice returns.
 *   Size                      sizeof(MIRACAST_SIM_KMD_OS_INTERFACE) as the OS knows it.
 *   Version                   MIRACAST_SIM_KMD_INTERFACE_VERSION_1.
 *   DeviceHandle              DXGKRNL_INTERFACE.DeviceHandle: the DeviceHandle argument of
 *                             DxgkCbIndicateChildStatus and DxgkCbQueueDpc, and the hAdapter
 *                             argument of DxgkCbNotifyInterrupt and DxgkCbNotifyDpc.
 *   DxgkCbIndicateChildStatus reports Miracast monitor arrival/departure
 *                             (Type = StatusMiracastConnection).
 *   DxgkCbNotifyInterrupt     called from DxgkDdiInterruptRoutine for each finished encode chunk.
 *   DxgkCbNotifyDpc           called from DxgkDdiDpcRoutine (required after a chunk interrupt
 *                             whose Status came back STATUS_NO_MEMORY).
 *   DxgkCbQueueDpc            queues DxgkDdiDpcRoutine from DxgkDdiInterruptRoutine.
 */
typedef struct _MIRACAST_SIM_KMD_OS_INTERFACE {
    ULONG Size;
    ULONG Version;
    HANDLE DeviceHandle;
    DXGKCB_INDICATE_CHILD_STATUS DxgkCbIndicateChildStatus;
    DXGKCB_NOTIFY_INTERRUPT DxgkCbNotifyInterrupt;
    DXGKCB_NOTIFY_DPC DxgkCbNotifyDpc;
    DXGKCB_QUEUE_DPC DxgkCbQueueDpc;
} MIRACAST_SIM_KMD_OS_INTERFACE, *PMIRACAST_SIM_KMD_OS_INTERFACE;

/*
 * Reduced DxgkDdiStartDevice. The real DDI also receives DXGK_START_INFO and DXGKRNL_INTERFACE;
 * here the OS interface already arrived at MiracastSimKmdEntry. NumberOfChildren must count
 * present and potential children, the Miracast target included.
 */
typedef _Check_return_ NTSTATUS APIENTRY MIRACAST_SIM_DXGKDDI_START_DEVICE(
    _In_ CONST PVOID MiniportDeviceContext, _Out_ PULONG NumberOfVideoPresentSources, _Out_ PULONG NumberOfChildren);
typedef MIRACAST_SIM_DXGKDDI_START_DEVICE *PMIRACAST_SIM_DXGKDDI_START_DEVICE;

/*
 * Reduced DXGKARG_COMMITVIDPN: the commit of one path whose target is the Miracast target. The
 * real argument carries a VidPN handle that the driver walks through the VidPN interfaces; the
 * simulator has no VidPN objects and passes the facts the Miracast rules need.
 *   AffectedVidPnSourceId  source of the committed path.
 *   VidPnTargetId          the Miracast target.
 *   Flags                  PathPoweredOff = 1 asks to power the Miracast monitor off (the driver
 *                          then sends a message to the UMD); PathPowerTransition = 1 marks a
 *                          commit that only changes power state.
 */
typedef struct _MIRACAST_SIM_DXGKARG_COMMITVIDPN {
    D3DDDI_VIDEO_PRESENT_SOURCE_ID AffectedVidPnSourceId;
    D3DDDI_VIDEO_PRESENT_TARGET_ID VidPnTargetId;
    DXGKARG_COMMITVIDPN_FLAGS Flags;
} MIRACAST_SIM_DXGKARG_COMMITVIDPN;

/* Reduced DxgkDdiCommitVidPn; hAdapter is the MiniportDeviceContext, as in WDDM. */
typedef _Check_return_ NTSTATUS APIENTRY MIRACAST_SIM_DXGKDDI_COMMITVIDPN(
    _In_ CONST HANDLE hAdapter, _In_ CONST MIRACAST_SIM_DXGKARG_COMMITVIDPN *pCommitVidPn);
typedef MIRACAST_SIM_DXGKDDI_COMMITVIDPN *PMIRACAST_SIM_DXGKDDI_COMMITVIDPN;

/*
 * What the driver gives back (the subset of DRIVER_INITIALIZATION_DATA the Miracast flow uses).
 * The OS zeroes the structure and sets Size and Version; the driver fails the entry with
 * STATUS_NOT_SUPPORTED for a Version it does not know and with STATUS_BUFFER_TOO_SMALL if Size is
 * smaller than it needs, and otherwise fills every other member. Any DDI pointer may be NULL
 * only where noted.
 *   Size                         in: bytes the OS provides.
 *   Version                      in: MIRACAST_SIM_KMD_INTERFACE_VERSION_1.
 *   DxgkDdiInterfaceVersion      out: the DXGKDDI_INTERFACE_VERSION the driver was built for
 *                                (Miracast needs DXGKDDI_INTERFACE_VERSION_WDDM1_3 or later).
 *   Reserved                     must be 0.
 *   MiniportDeviceContext        out: the adapter context (what DxgkDdiAddDevice returns); the
 *                                first argument of every DDI below.
 *   DxgkDdiStartDevice           reduced, see above.
 *   DxgkDdiRemoveDevice          frees the adapter context.
 *   DxgkDdiQueryInterface        answers GUID_DEVINTERFACE_MIRACAST_DISPLAY with a
 *                                DXGK_MIRACAST_DISPLAY_INTERFACE (or STATUS_NOT_SUPPORTED).
 *   DxgkDdiQueryChildRelations   child enumeration; the Miracast target is TypeVideoOutput with
 *                                D3DKMDT_VOT_MIRACAST and HpdAwarenessInterruptible.
 *   DxgkDdiQueryChildStatus      answers for the Miracast target with StatusMiracastConnection.
 *   DxgkDdiQueryDeviceDescriptor returns the EDID of the monitor behind the sink, if known.
 *   DxgkDdiCommitVidPn           reduced, see above.
 *   DxgkDdiCreateContext         GPU context creation (not the Miracast context); the hDevice
 *                                argument is the MiniportDeviceContext (the simulator has no
 *                                separate DxgkDdiCreateDevice).
 *   DxgkDdiDestroyContext        GPU context destruction.
 *   DxgkDdiInterruptRoutine      the ISR the simulator runs for a chunk-complete interrupt.
 *   DxgkDdiDpcRoutine            the DPC the simulator runs after DxgkCbQueueDpc.
 */
typedef struct _MIRACAST_SIM_KMD_DRIVER_INTERFACE {
    ULONG Size;
    ULONG Version;
    ULONG DxgkDdiInterfaceVersion;
    ULONG Reserved;
    PVOID MiniportDeviceContext;
    PMIRACAST_SIM_DXGKDDI_START_DEVICE DxgkDdiStartDevice;
    PDXGKDDI_REMOVE_DEVICE DxgkDdiRemoveDevice;
    PDXGKDDI_QUERY_INTERFACE DxgkDdiQueryInterface;
    PDXGKDDI_QUERY_CHILD_RELATIONS DxgkDdiQueryChildRelations;
    PDXGKDDI_QUERY_CHILD_STATUS DxgkDdiQueryChildStatus;
    PDXGKDDI_QUERY_DEVICE_DESCRIPTOR DxgkDdiQueryDeviceDescriptor;
    PMIRACAST_SIM_DXGKDDI_COMMITVIDPN DxgkDdiCommitVidPn;
    PDXGKDDI_CREATECONTEXT DxgkDdiCreateContext;
    PDXGKDDI_DESTROYCONTEXT DxgkDdiDestroyContext;
    PDXGKDDI_INTERRUPT_ROUTINE DxgkDdiInterruptRoutine;
    PDXGKDDI_DPC_ROUTINE DxgkDdiDpcRoutine;
} MIRACAST_SIM_KMD_DRIVER_INTERFACE, *PMIRACAST_SIM_KMD_DRIVER_INTERFACE;

/* Type of the MiracastSimKmdEntry export. */
typedef _Check_return_ NTSTATUS(APIENTRY *PFN_MIRACAST_SIM_KMD_ENTRY)(
    _In_ CONST MIRACAST_SIM_KMD_OS_INTERFACE *pOsInterface, _Inout_ MIRACAST_SIM_KMD_DRIVER_INTERFACE *pDriverInterface);

/*
 * Optional test hook. On Windows a test drives a miniport through its hardware, its firmware or a
 * private escape; a KMD built for the simulator may export one more C function so that a
 * scenario can make it do what those would cause. The simulator looks the export up by name when
 * it loads the library; without it, a scenario step that needs it is reported as skipped (with
 * the reason), never run as a no-op.
 *
 *     MIRACAST_SIM_KMD_EXPORT NTSTATUS APIENTRY
 *     MiracastSimKmdTestHook(PVOID MiniportDeviceContext, const MIRACAST_SIM_KMD_TEST_REQUEST *pRequest);
 *
 * It is called on an OS thread at PASSIVE_LEVEL, never concurrently with itself, and may call
 * any callback the driver holds (DxgkCbMiracastSendMessage, DxgkCbIndicateChildStatus).
 *   Size              sizeof(MIRACAST_SIM_KMD_TEST_REQUEST).
 *   Type              what to do:
 *     MiracastSimKmdTestSendMessage   send the InputBufferSize bytes at pInputBuffer to the UMD
 *                                     with DxgkCbMiracastSendMessage, exactly as the driver sends
 *                                     its own messages: from a buffer the driver owns until its
 *                                     completion routine has run (R26), with an output buffer of
 *                                     OutputBufferSize bytes and a completion routine. Returns
 *                                     what DxgkCbMiracastSendMessage returned, or
 *                                     STATUS_INVALID_DEVICE_STATE without a Miracast context.
 *     MiracastSimKmdTestEncoderBusy   Value 1: the encoder is in use by something else, so
 *                                     DxgkDdiMiracastCreateContext must answer
 *                                     STATUS_RESOURCE_IN_USE until Value 0 frees it.
 *                                     Returns STATUS_SUCCESS.
 *     MiracastSimKmdTestMonitorDeparts
 *                                     the monitor behind the Miracast target is gone, as the
 *                                     driver's hardware or firmware would tell it (not through
 *                                     the UMD): report the departure with
 *                                     DxgkCbIndicateChildStatus (StatusMiracastConnection,
 *                                     Connected FALSE) exactly as the driver reports its own
 *                                     departures, and answer DxgkDdiQueryChildStatus accordingly
 *                                     from then on. Returns STATUS_SUCCESS when it reported a
 *                                     departure, STATUS_INVALID_DEVICE_STATE when no monitor was
 *                                     connected.
 *   Value             the argument of EncoderBusy.
 *   InputBufferSize   SendMessage: bytes at pInputBuffer (valid only during the call: copy them).
 *   pInputBuffer      SendMessage: the payload, in the driver's private message format.
 *   OutputBufferSize  SendMessage: the size of the output buffer to pass.
 *   Reserved          0.
 * Any other Type returns STATUS_NOT_SUPPORTED.
 */
#define MIRACAST_SIM_KMD_TEST_HOOK_NAME "MiracastSimKmdTestHook"

typedef enum _MIRACAST_SIM_KMD_TEST_REQUEST_TYPE {
    MiracastSimKmdTestSendMessage = 1,
    MiracastSimKmdTestEncoderBusy = 2,
    MiracastSimKmdTestMonitorDeparts = 3,
} MIRACAST_SIM_KMD_TEST_REQUEST_TYPE;

typedef struct _MIRACAST_SIM_KMD_TEST_REQUEST {
    ULONG Size;
    MIRACAST_SIM_KMD_TEST_REQUEST_TYPE Type;
    ULONG Value;
    ULONG InputBufferSize;
    PVOID pInputBuffer;
    ULONG OutputBufferSize;
    ULONG Reserved;
} MIRACAST_SIM_KMD_TEST_REQUEST, *PMIRACAST_SIM_KMD_TEST_REQUEST;

/* Type of the optional MiracastSimKmdTestHook export. */
typedef _Check_return_ NTSTATUS(APIENTRY *PFN_MIRACAST_SIM_KMD_TEST_HOOK)(
    _In_ PVOID MiniportDeviceContext, _In_ CONST MIRACAST_SIM_KMD_TEST_REQUEST *pRequest);

#ifdef __cplusplus
} /* extern "C" */
#endif

#if defined(__x86_64__) || defined(_M_X64)
/* Designed x64 layout (no hidden padding). */
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_SIM_KMD_OS_INTERFACE) == 48, "MIRACAST_SIM_KMD_OS_INTERFACE size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_SIM_DXGKARG_COMMITVIDPN) == 12, "MIRACAST_SIM_DXGKARG_COMMITVIDPN size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_SIM_KMD_DRIVER_INTERFACE) == 112, "MIRACAST_SIM_KMD_DRIVER_INTERFACE size");
MIRACAST_SIM_STATIC_ASSERT(offsetof(MIRACAST_SIM_KMD_DRIVER_INTERFACE, DxgkDdiStartDevice) == 24,
                           "MIRACAST_SIM_KMD_DRIVER_INTERFACE.DxgkDdiStartDevice offset");
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_SIM_KMD_TEST_REQUEST) == 32, "MIRACAST_SIM_KMD_TEST_REQUEST size");
MIRACAST_SIM_STATIC_ASSERT(offsetof(MIRACAST_SIM_KMD_TEST_REQUEST, pInputBuffer) == 16,
                           "MIRACAST_SIM_KMD_TEST_REQUEST.pInputBuffer offset");
#endif

#endif /* MIRACAST_SIM_KMD_H */
