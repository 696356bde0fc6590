/*
 * dispmprt.h (miracast-sim subset) - the display miniport (KMD) side of the Miracast DDIs and
 * the ordinary WDDM pieces that the Miracast flow needs: child enumeration and status
 * (DXGK_CHILD_DESCRIPTOR, DXGK_CHILD_STATUS with StatusMiracastConnection), the query-interface
 * request, DXGK_MIRACAST_DISPLAY_INTERFACE / DXGK_MIRACAST_DISPLAY_CALLBACKS / DXGK_MIRACAST_CAPS,
 * and the typedefs of DxgkDdiMiracast*, DxgkCbMiracast*, DxgkDdiQueryInterface,
 * DxgkDdiQueryChildRelations, DxgkDdiQueryChildStatus, DxgkDdiQueryDeviceDescriptor,
 * DxgkDdiInterruptRoutine, DxgkDdiDpcRoutine, DxgkDdiRemoveDevice, DxgkCbIndicateChildStatus
 * and DxgkCbQueueDpc.
 *
 * Written for miracast-sim from Microsoft's public DDI documentation (names, member order and
 * values as documented). It is not the WDK header and holds only what the Miracast flow needs.
 *
 * Calling convention: every function pointer type here carries APIENTRY/NTAPI. On 64-bit Windows
 * there is only one calling convention, off Windows the macros are empty, and on 32-bit Windows
 * they mean __stdcall, the default of kernel-mode builds; that is what Rust's extern "system"
 * means on each of these platforms.
 */
#ifndef MIRACAST_SIM_DISPMPRT_H
#define MIRACAST_SIM_DISPMPRT_H

#include "miracast_sim_wintypes.h"
#include "miracast_sim_ntstatus.h"
#include "d3dukmdt.h"
#include "d3dkmdt.h"
#include "d3dkmddi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Query-interface request ----------------------------------------------------------------- */

/* Request passed to DxgkDdiQueryInterface: which interface (GUID), the Size and Version the OS
 * asks for, where to write the interface, and interface-specific data. */
typedef struct _QUERY_INTERFACE {
    CONST GUID *InterfaceType;
    USHORT Size;
    USHORT Version;
    PINTERFACE Interface;
    PVOID InterfaceSpecificData;
} QUERY_INTERFACE, *PQUERY_INTERFACE;

/* ---- Child devices --------------------------------------------------------------------------- */

/* Capabilities of a video output child. */
typedef struct _DXGK_VIDEO_OUTPUT_CAPABILITIES {
    D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY InterfaceTechnology;
    D3DKMDT_MONITOR_ORIENTATION_AWARENESS MonitorOrientationAwareness;
    BOOLEAN SupportsSdtvModes;
} DXGK_VIDEO_OUTPUT_CAPABILITIES, *PDXGK_VIDEO_OUTPUT_CAPABILITIES;

/* Capabilities of an integrated display child. */
typedef struct _DXGK_INTEGRATED_DISPLAY_CHILD {
    D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY InterfaceTechnology;
    USHORT DescriptorLength;
} DXGK_INTEGRATED_DISPLAY_CHILD, *PDXGK_INTEGRATED_DISPLAY_CHILD;

/* Capabilities of one child device; Type is chosen by DXGK_CHILD_DESCRIPTOR.ChildDeviceType. */
typedef struct _DXGK_CHILD_CAPABILITIES {
    union {
        DXGK_VIDEO_OUTPUT_CAPABILITIES VideoOutput;
        struct {
            UINT MustBeZero;
        } Other;
        DXGK_INTEGRATED_DISPLAY_CHILD IntegratedDisplayChild;
    } Type;
    DXGK_CHILD_DEVICE_HPD_AWARENESS HpdAwareness;
} DXGK_CHILD_CAPABILITIES, *PDXGK_CHILD_CAPABILITIES;

/* Kind of child device. */
typedef enum _DXGK_CHILD_DEVICE_TYPE {
    TypeUninitialized = 0,
    TypeVideoOutput = 1,
    TypeOther = 2,
    TypeIntegratedDisplay = 3
} DXGK_CHILD_DEVICE_TYPE, *PDXGK_CHILD_DEVICE_TYPE;

/* One child device as returned by DxgkDdiQueryChildRelations. For TypeVideoOutput, ChildUid is
 * the VidPN target id. */
typedef struct _DXGK_CHILD_DESCRIPTOR {
    DXGK_CHILD_DEVICE_TYPE ChildDeviceType;
    DXGK_CHILD_CAPABILITIES ChildCapabilities;
    ULONG AcpiUid;
    ULONG ChildUid;
} DXGK_CHILD_DESCRIPTOR, *PDXGK_CHILD_DESCRIPTOR;

/* A slice of a child's descriptor (the monitor EDID), for DxgkDdiQueryDeviceDescriptor. */
typedef struct _DXGK_DEVICE_DESCRIPTOR {
    ULONG DescriptorOffset;
    ULONG DescriptorLength;
    _Field_size_bytes_DXGK_(DescriptorLength) PVOID DescriptorBuffer;
} DXGK_DEVICE_DESCRIPTOR, *PDXGK_DEVICE_DESCRIPTOR;

/* Kind of status a miniport reports for a child. */
typedef enum _DXGK_CHILD_STATUS_TYPE {
    StatusUninitialized = 0,
    StatusConnection = 1,
    StatusRotation = 2,
    StatusMiracastConnection = 3
} DXGK_CHILD_STATUS_TYPE, *PDXGK_CHILD_STATUS_TYPE;

/* Status of a child, queried (DxgkDdiQueryChildStatus) or indicated (DxgkCbIndicateChildStatus).
 * For the Miracast target: Type = StatusMiracastConnection and the Miracast arm. */
typedef struct _DXGK_CHILD_STATUS {
    DXGK_CHILD_STATUS_TYPE Type;
    ULONG ChildUid;
    union {
        struct {
            BOOLEAN Connected;
        } HotPlug;
        struct {
            UCHAR Angle;
        } Rotation;
        struct {
            BOOLEAN Connected;
            D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY MiracastMonitorType;
        } Miracast;
    };
} DXGK_CHILD_STATUS, *PDXGK_CHILD_STATUS;

/* ---- Ordinary miniport DDIs (function types; P* are the pointer types) --------------------- */

/* DxgkDdiQueryInterface: answers GUID_DEVINTERFACE_MIRACAST_DISPLAY with a
 * DXGK_MIRACAST_DISPLAY_INTERFACE, or STATUS_NOT_SUPPORTED for any interface it lacks. */
typedef _Check_return_ _Function_class_DXGK_(DXGKDDI_QUERY_INTERFACE) NTSTATUS APIENTRY
DXGKDDI_QUERY_INTERFACE(_In_ CONST PVOID MiniportDeviceContext, _In_ PQUERY_INTERFACE QueryInterface);
typedef DXGKDDI_QUERY_INTERFACE *PDXGKDDI_QUERY_INTERFACE;

/* DxgkDdiQueryChildRelations: fills NumberOfChildren descriptors of a zeroed array whose byte
 * size (including one zero terminator entry) is ChildRelationsSize. */
typedef _Check_return_ _Function_class_DXGK_(DXGKDDI_QUERY_CHILD_RELATIONS) NTSTATUS APIENTRY
DXGKDDI_QUERY_CHILD_RELATIONS(_In_ CONST PVOID MiniportDeviceContext,
                              _Inout_updates_bytes_(ChildRelationsSize) PDXGK_CHILD_DESCRIPTOR ChildRelations,
                              _In_ ULONG ChildRelationsSize);
typedef DXGKDDI_QUERY_CHILD_RELATIONS *PDXGKDDI_QUERY_CHILD_RELATIONS;

/* DxgkDdiQueryChildStatus: the OS sets Type and ChildUid, the miniport fills the rest. */
typedef _Check_return_ _Function_class_DXGK_(DXGKDDI_QUERY_CHILD_STATUS) NTSTATUS APIENTRY
DXGKDDI_QUERY_CHILD_STATUS(_In_ CONST PVOID MiniportDeviceContext, _Inout_ PDXGK_CHILD_STATUS ChildStatus,
                           _In_ BOOLEAN NonDestructiveOnly);
typedef DXGKDDI_QUERY_CHILD_STATUS *PDXGKDDI_QUERY_CHILD_STATUS;

/* DxgkDdiQueryDeviceDescriptor: copies part of the child's EDID into DeviceDescriptor. */
typedef _Check_return_ _Function_class_DXGK_(DXGKDDI_QUERY_DEVICE_DESCRIPTOR) NTSTATUS APIENTRY
DXGKDDI_QUERY_DEVICE_DESCRIPTOR(_In_ CONST PVOID MiniportDeviceContext, _In_ ULONG ChildUid,
                                _Inout_ PDXGK_DEVICE_DESCRIPTOR DeviceDescriptor);
typedef DXGKDDI_QUERY_DEVICE_DESCRIPTOR *PDXGKDDI_QUERY_DEVICE_DESCRIPTOR;

/* DxgkDdiRemoveDevice: frees the adapter context. */
typedef _Check_return_ _Function_class_DXGK_(DXGKDDI_REMOVE_DEVICE) NTSTATUS APIENTRY
DXGKDDI_REMOVE_DEVICE(_In_ CONST PVOID MiniportDeviceContext);
typedef DXGKDDI_REMOVE_DEVICE *PDXGKDDI_REMOVE_DEVICE;

/* DxgkDdiInterruptRoutine: the miniport's ISR; TRUE when the interrupt was the adapter's. */
typedef _Function_class_DXGK_(DXGKDDI_INTERRUPT_ROUTINE) BOOLEAN APIENTRY
DXGKDDI_INTERRUPT_ROUTINE(_In_ CONST PVOID MiniportDeviceContext, _In_ ULONG MessageNumber);
typedef DXGKDDI_INTERRUPT_ROUTINE *PDXGKDDI_INTERRUPT_ROUTINE;

/* DxgkDdiDpcRoutine: the miniport's DPC; it calls DxgkCbNotifyDpc. */
typedef _Function_class_DXGK_(DXGKDDI_DPC_ROUTINE) VOID APIENTRY
DXGKDDI_DPC_ROUTINE(_In_ CONST PVOID MiniportDeviceContext);
typedef DXGKDDI_DPC_ROUTINE *PDXGKDDI_DPC_ROUTINE;

/* ---- Ordinary OS callbacks (pointer types) --------------------------------------------------- */

/* DxgkCbIndicateChildStatus: reports a child status change (<= DISPATCH_LEVEL). */
typedef _Function_class_DXGK_(DXGKCB_INDICATE_CHILD_STATUS) NTSTATUS(APIENTRY *DXGKCB_INDICATE_CHILD_STATUS)(
    _In_ HANDLE DeviceHandle, _In_ PDXGK_CHILD_STATUS ChildStatus);

/* DxgkCbQueueDpc: queues the miniport's DPC from its ISR. */
typedef _Function_class_DXGK_(DXGKCB_QUEUE_DPC) BOOLEAN(APIENTRY *DXGKCB_QUEUE_DPC)(_In_ CONST HANDLE DeviceHandle);

/* ---- Miracast display interface (WDDM 1.3) --------------------------------------------------- */

/* {AF03F190-22AF-48CB-94BB-B78E76A25107} */
DEFINE_GUID(GUID_DEVINTERFACE_MIRACAST_DISPLAY, 0xaf03f190, 0x22af, 0x48cb, 0x94, 0xbb, 0xb7, 0x8e, 0x76, 0xa2,
            0x51, 0x07);

/* The same GUID as an initializer, for code that must not depend on INITGUID linkage. */
#define MIRACAST_SIM_GUID_DEVINTERFACE_MIRACAST_DISPLAY_INIT                                             \
    {0xaf03f190, 0x22af, 0x48cb, {0x94, 0xbb, 0xb7, 0x8e, 0x76, 0xa2, 0x51, 0x07}}

#define DXGK_MIRACAST_DISPLAY_INTERFACE_VERSION_1 0x01

/* Miracast capabilities the miniport reports from DxgkDdiMiracastQueryCaps. */
typedef struct _DXGK_MIRACAST_CAPS {
    ULONG MaxChunkPrivateDriverDataSize;
    union {
        struct {
            UINT HdcpSupport : 1;
            UINT Reserved : 31;
        };
        UINT Value;
    } Flags;
} DXGK_MIRACAST_CAPS, *PDXGK_MIRACAST_CAPS;

/* DxgkDdiMiracastQueryCaps (OS -> KMD, PASSIVE_LEVEL). */
typedef _Function_class_DXGK_(DXGKDDI_MIRACAST_QUERY_CAPS) _IRQL_requires_DXGK_(PASSIVE_LEVEL)
    NTSTATUS(APIENTRY *DXGKDDI_MIRACAST_QUERY_CAPS)(_In_ PVOID DriverContext, _In_ ULONG MiracastCapsSize,
                                                   _Out_ DXGK_MIRACAST_CAPS *MiracastCaps);

/* DxgkCbMiracastSendMessageCallback: completion routine written by the KMD and passed to
 * DxgkCbMiracastSendMessage (PASSIVE_LEVEL, may run on several threads at once). */
typedef _Function_class_DXGK_(DXGKCB_MIRACAST_SEND_MESSAGE_CALLBACK) _IRQL_requires_DXGK_(PASSIVE_LEVEL)
    VOID(APIENTRY *DXGKCB_MIRACAST_SEND_MESSAGE_CALLBACK)(_In_ PVOID CallbackContext,
                                                         _In_ PIO_STATUS_BLOCK pIoStatusBlock);

/* DxgkCbMiracastSendMessage (KMD -> OS -> UMD HandleKernelModeMessage); STATUS_PENDING when
 * accepted. */
typedef _Function_class_DXGK_(DXGKCB_MIRACAST_SEND_MESSAGE) _IRQL_requires_DXGK_(PASSIVE_LEVEL)
    NTSTATUS(APIENTRY *DXGKCB_MIRACAST_SEND_MESSAGE)(
        _In_ HANDLE MiracastHandle, _In_ ULONG InputBufferSize,
        _In_reads_bytes_(InputBufferSize) VOID *pInputBuffer, _In_ ULONG OutputBufferSize,
        _Out_writes_bytes_(OutputBufferSize) VOID *pOutputBuffer,
        _In_opt_ DXGKCB_MIRACAST_SEND_MESSAGE_CALLBACK pCallback, _In_opt_ PVOID pCallbackContext);

/* DxgkCbReportChunkInfo (KMD -> OS, logging only; the last two arguments must be NULL and 0). */
typedef _Function_class_DXGK_(DXGKCB_MIRACAST_REPORT_CHUNK_INFO) _IRQL_requires_DXGK_(DISPATCH_LEVEL)
    NTSTATUS(APIENTRY *DXGKCB_MIRACAST_REPORT_CHUNK_INFO)(_In_ HANDLE MiracastHandle,
                                                         _In_ DXGK_MIRACAST_CHUNK_INFO *pChunkInfo,
                                                         _In_ PVOID pPrivateDriverData,
                                                         _In_ UINT PrivateDataDriverSize);

/* OS callbacks handed to DxgkDdiMiracastCreateContext; MiracastHandle is the first argument of
 * both. */
typedef struct _DXGK_MIRACAST_DISPLAY_CALLBACKS {
    HANDLE MiracastHandle;
    DXGKCB_MIRACAST_SEND_MESSAGE DxgkCbMiracastSendMessage;
    DXGKCB_MIRACAST_REPORT_CHUNK_INFO DxgkCbReportChunkInfo;
} DXGK_MIRACAST_DISPLAY_CALLBACKS, *PDXGK_MIRACAST_DISPLAY_CALLBACKS;

/* DxgkDdiMiracastCreateContext (OS -> KMD): returns the KMD's Miracast context and the VidPN
 * target id of the Miracast target, or STATUS_RESOURCE_IN_USE. */
typedef _Function_class_DXGK_(DXGKDDI_MIRACAST_CREATE_CONTEXT) _IRQL_requires_DXGK_(PASSIVE_LEVEL)
    NTSTATUS(APIENTRY *DXGKDDI_MIRACAST_CREATE_CONTEXT)(_In_ PVOID DriverContext,
                                                       _In_ DXGK_MIRACAST_DISPLAY_CALLBACKS *MiracastCallbacks,
                                                       _Out_ PVOID *MiracastContext, _Out_ ULONG *TargetId);

/* DxgkDdiMiracastIoControl (OS -> KMD, synchronously for a UMD MiracastIoControl call). */
typedef _Function_class_DXGK_(DXGKDDI_MIRACAST_HANDLE_IO_CONTROL) _IRQL_requires_DXGK_(PASSIVE_LEVEL)
    NTSTATUS(APIENTRY *DXGKDDI_MIRACAST_HANDLE_IO_CONTROL)(
        _In_ PVOID DriverContext, _In_ PVOID MiracastContext, _In_ ULONG InputBufferSize,
        _In_reads_bytes_(InputBufferSize) VOID *pInputBuffer, _In_ ULONG OutputBufferSize,
        _Out_writes_bytes_(OutputBufferSize) VOID *pOutputBuffer, _Out_ ULONG *BytesReturned);

/* DxgkDdiMiracastDestroyContext (OS -> KMD). */
typedef _Function_class_DXGK_(DXGKDDI_MIRACAST_DESTROY_CONTEXT) _IRQL_requires_DXGK_(PASSIVE_LEVEL)
    VOID(APIENTRY *DXGKDDI_MIRACAST_DESTROY_CONTEXT)(_In_ PVOID DriverContext, _In_ PVOID MiracastContext);

/* The interface a Miracast-capable KMD returns from DxgkDdiQueryInterface for
 * GUID_DEVINTERFACE_MIRACAST_DISPLAY. The first five members are the INTERFACE header. Note the
 * documented order: IoControl before DestroyContext. */
typedef struct _DXGK_MIRACAST_INTERFACE {
    USHORT Size;
    USHORT Version;
    PVOID Context;
    PINTERFACE_REFERENCE InterfaceReference;
    PINTERFACE_DEREFERENCE InterfaceDereference;
    DXGKDDI_MIRACAST_QUERY_CAPS DxgkDdiMiracastQueryCaps;
    DXGKDDI_MIRACAST_CREATE_CONTEXT DxgkDdiMiracastCreateContext;
    DXGKDDI_MIRACAST_HANDLE_IO_CONTROL DxgkDdiMiracastIoControl;
    DXGKDDI_MIRACAST_DESTROY_CONTEXT DxgkDdiMiracastDestroyContext;
} DXGK_MIRACAST_DISPLAY_INTERFACE, *PDXGK_MIRACAST_DISPLAY_INTERFACE;

#ifdef __cplusplus
} /* extern "C" */
#endif

#if defined(__x86_64__) || defined(_M_X64)
/* Documented x64 layouts (fact sheet 2.1, derived). */
MIRACAST_SIM_STATIC_ASSERT(sizeof(DXGK_MIRACAST_CAPS) == 8, "DXGK_MIRACAST_CAPS size");
MIRACAST_SIM_STATIC_ASSERT(offsetof(DXGK_MIRACAST_CAPS, Flags) == 4, "DXGK_MIRACAST_CAPS.Flags offset");
MIRACAST_SIM_STATIC_ASSERT(sizeof(DXGK_MIRACAST_DISPLAY_CALLBACKS) == 24, "DXGK_MIRACAST_DISPLAY_CALLBACKS size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(DXGK_MIRACAST_DISPLAY_INTERFACE) == 64, "DXGK_MIRACAST_DISPLAY_INTERFACE size");
MIRACAST_SIM_STATIC_ASSERT(offsetof(DXGK_MIRACAST_DISPLAY_INTERFACE, DxgkDdiMiracastQueryCaps) == 32,
                           "DXGK_MIRACAST_DISPLAY_INTERFACE.DxgkDdiMiracastQueryCaps offset");
MIRACAST_SIM_STATIC_ASSERT(sizeof(DXGK_CHILD_STATUS) == 16, "DXGK_CHILD_STATUS size");
MIRACAST_SIM_STATIC_ASSERT(offsetof(DXGK_CHILD_STATUS, Miracast.MiracastMonitorType) == 12,
                           "DXGK_CHILD_STATUS.Miracast.MiracastMonitorType offset");
MIRACAST_SIM_STATIC_ASSERT(offsetof(DXGK_CHILD_CAPABILITIES, HpdAwareness) == 12,
                           "DXGK_CHILD_CAPABILITIES.HpdAwareness offset");
#endif

#endif /* MIRACAST_SIM_DISPMPRT_H */
