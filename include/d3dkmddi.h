/*
 * d3dkmddi.h (miracast-sim subset) - the display miniport DDI types that the Miracast flow
 * touches: interrupt notification (DXGK_INTERRUPT_MICACAST_CHUNK_PROCESSING_COMPLETE and the
 * MiracastEncodeChunkCompleted data), DxgkCbNotifyInterrupt / DxgkCbNotifyDpc, GPU context
 * creation (DxgkDdiCreateContext / DxgkDdiDestroyContext) and the VidPN commit flags.
 *
 * Written for miracast-sim from Microsoft's public DDI documentation (names, member order,
 * spellings such as "MICACAST", and values as documented). It is not the WDK header and holds
 * only what the Miracast flow needs; where a documented union has arms that the Miracast flow
 * never uses, the omitted arms are listed next to it. Layouts follow the newest documented
 * version of each type; nothing is gated on DXGKDDI_INTERFACE_VERSION.
 */
#ifndef MIRACAST_SIM_D3DKMDDI_H
#define MIRACAST_SIM_D3DKMDDI_H

#include "miracast_sim_wintypes.h"
#include "miracast_sim_ntstatus.h"
#include "d3dukmdt.h"
#include "d3dkmdt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Interrupts ------------------------------------------------------------------------------ */

/* Kind of interrupt a miniport reports through DxgkCbNotifyInterrupt (values up to WDDM 2.0). */
typedef enum _DXGK_INTERRUPT_TYPE {
    DXGK_INTERRUPT_DMA_COMPLETED = 1,
    DXGK_INTERRUPT_DMA_PREEMPTED = 2,
    DXGK_INTERRUPT_CRTC_VSYNC = 3,
    DXGK_INTERRUPT_DMA_FAULTED = 4,
    DXGK_INTERRUPT_DISPLAYONLY_VSYNC = 5,
    DXGK_INTERRUPT_DISPLAYONLY_PRESENT_PROGRESS = 6,
    DXGK_INTERRUPT_CRTC_VSYNC_WITH_MULTIPLANE_OVERLAY = 7,
    DXGK_INTERRUPT_MICACAST_CHUNK_PROCESSING_COMPLETE = 8,
    DXGK_INTERRUPT_DMA_PAGE_FAULTED = 9
} DXGK_INTERRUPT_TYPE;

/* Flags of an interrupt notification. */
typedef struct _DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS {
    union {
        struct {
            UINT ValidPhysicalAdapterMask : 1;
            UINT HsyncFlipCompletion : 1;
            UINT Reserved : 30;
        };
        UINT Value;
    };
} DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS;

/* Only pointed to; the Miracast flow never looks inside. */
struct _DXGK_MULTIPLANE_OVERLAY_VSYNC_INFO;

/*
 * Interrupt notification passed to DxgkCbNotifyInterrupt. For a Miracast chunk the miniport sets
 * InterruptType = DXGK_INTERRUPT_MICACAST_CHUNK_PROCESSING_COMPLETE and fills
 * MiracastEncodeChunkCompleted; the OS writes MiracastEncodeChunkCompleted.Status.
 *
 * Union arms not declared here (not used by the Miracast flow): DisplayOnlyPresentProgress and the
 * WDDM 2.x arms (DmaPageFaulted and later). The Reserved arm (16 UINTs) fixes the size of the
 * union, so the layout is the same as with every arm present.
 */
typedef struct _DXGKARGCB_NOTIFY_INTERRUPT_DATA {
    DXGK_INTERRUPT_TYPE InterruptType;
    union {
        struct {
            UINT SubmissionFenceId;
            UINT NodeOrdinal;
            UINT EngineOrdinal;
        } DmaCompleted;
        struct {
            UINT PreemptionFenceId;
            UINT LastCompletedFenceId;
            UINT NodeOrdinal;
            UINT EngineOrdinal;
        } DmaPreempted;
        struct {
            UINT FaultedFenceId;
            NTSTATUS Status;
            UINT NodeOrdinal;
            UINT EngineOrdinal;
        } DmaFaulted;
        struct {
            D3DDDI_VIDEO_PRESENT_TARGET_ID VidPnTargetId;
            PHYSICAL_ADDRESS PhysicalAddress;
            UINT PhysicalAdapterMask;
        } CrtcVsync;
        struct {
            D3DDDI_VIDEO_PRESENT_TARGET_ID VidPnTargetId;
        } DisplayOnlyVsync;
        struct {
            D3DDDI_VIDEO_PRESENT_TARGET_ID VidPnTargetId;
            UINT PhysicalAdapterMask;
            UINT MultiPlaneOverlayVsyncInfoCount;
            struct _DXGK_MULTIPLANE_OVERLAY_VSYNC_INFO *pMultiPlaneOverlayVsyncInfo;
        } CrtcVsyncWithMultiPlaneOverlay;
        struct {
            D3DDDI_VIDEO_PRESENT_TARGET_ID VidPnTargetId;
            DXGK_MIRACAST_CHUNK_INFO ChunkInfo;
            PVOID pPrivateDriverData;
            UINT PrivateDataDriverSize;
            NTSTATUS Status;
        } MiracastEncodeChunkCompleted;
        struct {
            UINT Reserved[16];
        } Reserved;
    };
    DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS Flags;
} DXGKARGCB_NOTIFY_INTERRUPT_DATA;

typedef _In_ CONST DXGKARGCB_NOTIFY_INTERRUPT_DATA *IN_CONST_PDXGKARGCB_NOTIFY_INTERRUPT_DATA;

/* DxgkCbNotifyInterrupt: called by the miniport's interrupt routine (DIRQL). */
typedef _Function_class_DXGK_(DXGKCB_NOTIFY_INTERRUPT) VOID(APIENTRY CALLBACK *DXGKCB_NOTIFY_INTERRUPT)(
    _In_ CONST HANDLE hAdapter, IN_CONST_PDXGKARGCB_NOTIFY_INTERRUPT_DATA NotifyInterruptData);

/* DxgkCbNotifyDpc: called by the miniport's DPC routine (DISPATCH_LEVEL). */
typedef _Function_class_DXGK_(DXGKCB_NOTIFY_DPC) VOID(APIENTRY CALLBACK *DXGKCB_NOTIFY_DPC)(
    _In_ CONST HANDLE hAdapter);

/* ---- GPU contexts (DxgkDdiCreateContext; not the Miracast context) --------------------------- */

/* Context creation flags. */
typedef struct _DXGK_CREATECONTEXTFLAGS {
    union {
        struct {
            UINT SystemContext : 1;
            UINT GdiContext : 1;
            UINT VirtualAddressing : 1;
            UINT SystemProtectedContext : 1;
            UINT HwQueueSupported : 1;
            UINT Reserved : 27;
        };
        UINT Value;
    };
} DXGK_CREATECONTEXTFLAGS;

/* Optional features of a context (WDDM 2.0). */
typedef struct _DXGK_CONTEXTINFO_CAPS {
    union {
        struct {
            UINT NoPatchingRequired : 1;
            UINT DriverManagesResidency : 1;
            UINT UseIoMmu : 1;
            UINT Reserved : 29;
        };
        UINT Value;
    };
} DXGK_CONTEXTINFO_CAPS;

/* What the miniport reports about a new context. */
typedef struct _DXGK_CONTEXTINFO {
    UINT DmaBufferSize;
    UINT DmaBufferSegmentSet;
    UINT DmaBufferPrivateDataSize;
    UINT AllocationListSize;
    UINT PatchLocationListSize;
    UINT Reserved;
    DXGK_CONTEXTINFO_CAPS Caps;
    ULONG PagingCompanionNodeId;
} DXGK_CONTEXTINFO;

/* Arguments of DxgkDdiCreateContext. */
typedef struct _DXGKARG_CREATECONTEXT {
    HANDLE hContext;
    UINT NodeOrdinal;
    UINT EngineAffinity;
    DXGK_CREATECONTEXTFLAGS Flags;
    VOID *pPrivateDriverData;
    UINT PrivateDriverDataSize;
    DXGK_CONTEXTINFO ContextInfo;
} DXGKARG_CREATECONTEXT;

typedef _Inout_ DXGKARG_CREATECONTEXT *INOUT_PDXGKARG_CREATECONTEXT;

/* DxgkDdiCreateContext (function type; the miniport declares its routine with it). */
typedef _Check_return_ _Function_class_DXGK_(DXGKDDI_CREATECONTEXT) NTSTATUS APIENTRY
DXGKDDI_CREATECONTEXT(_In_ CONST HANDLE hDevice, INOUT_PDXGKARG_CREATECONTEXT pCreateContext);
typedef DXGKDDI_CREATECONTEXT *PDXGKDDI_CREATECONTEXT;

/* DxgkDdiDestroyContext (function type). */
typedef _Check_return_ _Function_class_DXGK_(DXGKDDI_DESTROYCONTEXT) NTSTATUS APIENTRY
DXGKDDI_DESTROYCONTEXT(_In_ CONST HANDLE hContext);
typedef DXGKDDI_DESTROYCONTEXT *PDXGKDDI_DESTROYCONTEXT;

/* ---- VidPN commit ---------------------------------------------------------------------------- */

/* Flags of a VidPN commit; PathPoweredOff is how the OS asks to power a path (monitor) off. */
typedef struct _DXGKARG_COMMITVIDPN_FLAGS {
    UINT PathPowerTransition : 1;
    UINT PathPoweredOff : 1;
    UINT Reserved : 30;
} DXGKARG_COMMITVIDPN_FLAGS;

#ifdef __cplusplus
} /* extern "C" */
#endif

#if defined(__x86_64__) || defined(_M_X64)
/* Documented x64 layout of the Miracast arm (fact sheet 2.4, derived); offsets are relative to
 * the arm. */
MIRACAST_SIM_STATIC_ASSERT(sizeof(DXGK_INTERRUPT_TYPE) == 4, "DXGK_INTERRUPT_TYPE size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(((DXGKARGCB_NOTIFY_INTERRUPT_DATA *)0)->MiracastEncodeChunkCompleted) == 48,
                           "MiracastEncodeChunkCompleted size");
MIRACAST_SIM_STATIC_ASSERT(offsetof(DXGKARGCB_NOTIFY_INTERRUPT_DATA, MiracastEncodeChunkCompleted.ChunkInfo) -
                                   offsetof(DXGKARGCB_NOTIFY_INTERRUPT_DATA, MiracastEncodeChunkCompleted) ==
                               8,
                           "MiracastEncodeChunkCompleted.ChunkInfo offset");
MIRACAST_SIM_STATIC_ASSERT(offsetof(DXGKARGCB_NOTIFY_INTERRUPT_DATA, MiracastEncodeChunkCompleted.pPrivateDriverData) -
                                   offsetof(DXGKARGCB_NOTIFY_INTERRUPT_DATA, MiracastEncodeChunkCompleted) ==
                               32,
                           "MiracastEncodeChunkCompleted.pPrivateDriverData offset");
MIRACAST_SIM_STATIC_ASSERT(
    offsetof(DXGKARGCB_NOTIFY_INTERRUPT_DATA, MiracastEncodeChunkCompleted.PrivateDataDriverSize) -
            offsetof(DXGKARGCB_NOTIFY_INTERRUPT_DATA, MiracastEncodeChunkCompleted) ==
        40,
    "MiracastEncodeChunkCompleted.PrivateDataDriverSize offset");
MIRACAST_SIM_STATIC_ASSERT(offsetof(DXGKARGCB_NOTIFY_INTERRUPT_DATA, MiracastEncodeChunkCompleted.Status) -
                                   offsetof(DXGKARGCB_NOTIFY_INTERRUPT_DATA, MiracastEncodeChunkCompleted) ==
                               44,
                           "MiracastEncodeChunkCompleted.Status offset");
#endif

#endif /* MIRACAST_SIM_D3DKMDDI_H */
