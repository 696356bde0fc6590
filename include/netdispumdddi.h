/*
 * netdispumdddi.h (miracast-sim) - the Miracast user-mode driver (UMD) interface: the one DLL
 * export QueryMiracastDriverInterface, the five UMD entry points in MIRACAST_DRIVER_INTERFACE,
 * the five OS callbacks in MIRACAST_CALLBACKS, and their data types.
 *
 * Written for miracast-sim from Microsoft's public DDI documentation (names, member order,
 * spellings such as "DISOCNNECT", and values as documented). It is not the Windows header.
 * Builds without the Windows SDK: the base types come from miracast_sim_wintypes.h. Built with
 * -fsanitize=thread (and without the sanitizer's runtime), a UMD's loads and stores are checked
 * for races by the simulator (miracast_sim_race.h).
 */
#ifndef MIRACAST_SIM_NETDISPUMDDDI_H
#define MIRACAST_SIM_NETDISPUMDDDI_H

#include "miracast_sim_wintypes.h"
#include "miracast_sim_ntstatus.h"
#include "miracast_sim_race.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version the OS passes to QueryMiracastDriverInterface on Windows 8.1. */
#define MIRACAST_DRIVER_INTERFACE_VERSION_1 0x01

/* Most extra events GetNextChunkData waits on besides the chunk queue. */
#define MAX_ADDITIONAL_EVENTS 4

/*
 * Marks the QueryMiracastDriverInterface definition as exported from the UMD library:
 *   MIRACAST_SIM_UMD_EXPORT NTSTATUS NTAPI QueryMiracastDriverInterface(UINT, UINT, VOID*);
 * (inside extern "C" when the UMD is written in C++). Not part of the Windows header.
 */
#ifndef MIRACAST_SIM_UMD_EXPORT
#if defined(_WIN32)
#define MIRACAST_SIM_UMD_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define MIRACAST_SIM_UMD_EXPORT __attribute__((visibility("default")))
#else
#define MIRACAST_SIM_UMD_EXPORT
#endif
#endif

/* Name of the one export the OS looks up in the UMD library. */
#define MIRACAST_SIM_QUERY_MIRACAST_DRIVER_INTERFACE_NAME "QueryMiracastDriverInterface"

/* QueryMiracastDriverInterface: fills a MIRACAST_DRIVER_INTERFACE of at most
 * MiracastDriverInterfaceSize bytes. */
typedef NTSTATUS(NTAPI *QUERY_MIRACAST_DRIVER_INTERFACE)(
    _In_ UINT MiracastDriverInterfaceVersion, _In_ UINT MiracastDriverInterfaceSize,
    _Out_writes_bytes_(MiracastDriverInterfaceSize) VOID *pMiracastDriverInterface);

/* ---- Session status (ReportSessionStatus) ---------------------------------------------------- */

/* Why a session can no longer continue. */
typedef enum {
    MIRACAST_STATUS_CRITICAL_ERROR = 0,
    MIRACAST_STATUS_MISSING_KEEPALIVE = 1,
    MIRACAST_STATUS_SINK_DISOCNNECT_REQUEST = 2,
    MIRACAST_STATUS_INSUFFICIENT_BANDWIDTH = 3,
    MIRACAST_STATUS_SINK_FAILED_STANDARD_MODE_CHANGE = 4,
    MIRACAST_STATUS_COMPANION_DRIVER_DISCONNECT = 5,
    MIRACAST_STATUS_FORCE_UINT32 = 0xffffffff
} MIRACAST_STATUS;

/* ReportSessionStatus (UMD -> OS): the OS tears the session down. */
typedef VOID(NTAPI *PFN_REPORT_SESSION_STATUS)(_In_ HANDLE hMiracastDeviceHandle,
                                               _In_ MIRACAST_STATUS MiracastStatus, _In_ NTSTATUS Status);

/* MiracastIoControl (UMD -> OS -> KMD DxgkDdiMiracastIoControl, synchronous). */
typedef NTSTATUS(NTAPI *PFN_MIRACAST_IO_CONTROL)(_In_ HANDLE hMiracastDeviceHandle, _In_ BOOL HardwareAccess,
                                                 _In_ UINT InputBufferSize,
                                                 _In_reads_bytes_(InputBufferSize) VOID *pInputBuffer,
                                                 _In_ UINT OutputBufferSize,
                                                 _Out_writes_bytes_(OutputBufferSize) VOID *pOutputBuffer,
                                                 _Out_opt_ UINT *pBytesReturned);

/* ---- Statistics (ReportStatistic) ------------------------------------------------------------ */

/* Protocol events a UMD reports for diagnostics. SINK_FAILED_PREFERRED_MODE_CHANGE is reserved. */
typedef enum {
    MIRACAST_PROTOCOL_EVENT_IFRAME_RQ = 0,
    MIRACAST_PROTOCOL_EVENT_MONITOR_ARRIVE = 1,
    MIRACAST_PROTOCOL_EVENT_MONITOR_DEPART = 2,
    MIRACAST_PROTOCOL_EVENT_SINK_FAILED_PREFERRED_MODE_CHANGE = 3,
    MIRACAST_PROTOCOL_EVENT_FORCE_UINT32 = 0xffffffff
} MIRACAST_PROTOCOL_EVENT;

/* Selects the arm of MIRACAST_STATISTIC_DATA. */
typedef enum {
    MIRACAST_STATISTIC_TYPE_CHUNK_PROCESSING_COMPLETE = 0,
    MIRACAST_STATISTIC_TYPE_CHUNK_SENT = 1,
    MIRACAST_STATISTIC_TYPE_EVENT = 2,
    MIRACAST_STATISTIC_TYPE_FORCE_UINT32 = 0xffffffff
} MIRACAST_STATISTIC_TYPE;

/* Frame number (low 40 bits) and part number (high 24 bits) of a chunk. */
typedef union {
    struct {
        UINT64 FrameNumber : 40;
        UINT64 PartNumber : 24;
    };
    UINT64 Value;
} MIRACAST_CHUNK_ID;

/* Processing step of a chunk; same values as DXGK_MIRACAST_CHUNK_TYPE. */
typedef enum {
    MIRACAST_CHUNK_TYPE_UNKNOWN = 0,
    MIRACAST_CHUNK_TYPE_COLOR_CONVERT_COMPLETE = 1,
    MIRACAST_CHUNK_TYPE_ENCODE_COMPLETE = 2,
    MIRACAST_CHUNK_TYPE_FRAME_START = 3,
    MIRACAST_CHUNK_TYPE_FRAME_DROPPED = 4,
    MIRACAST_CHUNK_TYPE_ENCODE_DRIVER_DEFINED_1 = 0x80000000,
    MIRACAST_CHUNK_TYPE_ENCODE_DRIVER_DEFINED_2 = 0x80000001,
    MIRACAST_CHUNK_TYPE_ENCODE_FORCE_UINT32 = 0xffffffff
} MIRACAST_CHUNK_TYPE;

/* One chunk: type, id, processing time (microseconds), encode rate (kbit/s). */
typedef struct {
    MIRACAST_CHUNK_TYPE ChunkType;
    MIRACAST_CHUNK_ID ChunkId;
    UINT ProcessingTime;
    UINT EncodeRate;
} MIRACAST_CHUNK_INFO;

/* A statistic; the arm is chosen by StatisticType (0, 1, 2). */
typedef struct {
    MIRACAST_STATISTIC_TYPE StatisticType;
    union {
        struct {
            MIRACAST_CHUNK_INFO ChunkInfo;
        } EncodeComplete;
        struct {
            MIRACAST_CHUNK_ID ChunkId;
        } ChunkSent;
        struct {
            MIRACAST_PROTOCOL_EVENT Event;
        } ProtocolEvent;
    };
} MIRACAST_STATISTIC_DATA;

/* ReportStatistic (UMD -> OS, logging only). */
typedef VOID(NTAPI *PFN_REPORT_STATISTIC)(_In_ HANDLE hMiracastDeviceHandle,
                                          _In_ MIRACAST_STATISTIC_DATA *pStatistics);

/* ---- Chunks (GetNextChunkData) ---------------------------------------------------------------- */

/* One chunk record. Records are packed back to back; a record is
 * offsetof(MIRACAST_CHUNK_DATA, PrivateDriverData) + PrivateDriverDataSize bytes long. */
typedef struct {
    MIRACAST_CHUNK_INFO ChunkInfo;
    UINT PrivateDriverDataSize;
    UCHAR PrivateDriverData[1];
} MIRACAST_CHUNK_DATA;

/* GetNextChunkData (UMD -> OS): pulls queued chunk records. */
typedef NTSTATUS(NTAPI *PFN_GET_NEXT_CHUNK_DATA)(_In_ HANDLE hMiracastDeviceHandle, _In_ UINT TimeoutInMilliseconds,
                                                 _In_ UINT AdditionalWaitEventCount,
                                                 _In_opt_ HANDLE *pAdditionalWaitEvents,
                                                 _Inout_ UINT *pChunkDataBufferSize,
                                                 _Out_ MIRACAST_CHUNK_DATA *pChunkDataBuffer,
                                                 _Out_ UINT *pOutstandingChunksToProcess);

/* ---- Data-rate notifications ----------------------------------------------------------------- */

/* Link quality sample delivered about once a second (all values per second or counts since the
 * last sample). */
typedef struct {
    UINT64 EncoderBitRate;
    UINT64 CurrentMaxTxDataRate;
    UINT64 TransmittedFrameCount;
    UINT64 FailedFrameCount;
    UINT64 RetriedFrameCount;
    UINT64 MultipleRetryFrameCount;
} MIRACAST_DATARATE_STATS;

/* pfnDataRateNotify (OS -> UMD); pDataRateStats NULL means no more samples. */
typedef void(NTAPI *PFN_DATARATE_NOTIFICATION)(_In_ PVOID context, _In_opt_ MIRACAST_DATARATE_STATS *pDataRateStats);

/* RegisterForDataRateNotifications (UMD -> OS); a NULL routine unregisters. */
typedef NTSTATUS(NTAPI *PFN_REGISTER_DATARATE_NOTIFICATIONS)(_In_ HANDLE hMiracastDeviceHandle,
                                                             _In_opt_ PVOID pNotificationContext,
                                                             _In_opt_ PFN_DATARATE_NOTIFICATION pfnDataRateNotify);

/* OS callbacks given to CreateMiracastContext. */
typedef struct _MIRACAST_CALLBACKS {
    PFN_REPORT_SESSION_STATUS ReportSessionStatus;
    PFN_MIRACAST_IO_CONTROL MiracastIoControl;
    PFN_REPORT_STATISTIC ReportStatistic;
    PFN_GET_NEXT_CHUNK_DATA GetNextChunkData;
    PFN_REGISTER_DATARATE_NOTIFICATIONS RegisterForDataRateNotifications;
} MIRACAST_CALLBACKS, *PMIRACAST_CALLBACKS;

/* ---- UMD entry points ------------------------------------------------------------------------ */

/* CreateMiracastContext (OS -> UMD). */
typedef NTSTATUS(NTAPI *PFN_CREATE_MIRACAST_CONTEXT)(_In_ HANDLE hMiracastDeviceHandle,
                                                     _In_ MIRACAST_CALLBACKS *pMiracastCallbacks,
                                                     _Out_ PVOID *ppMiracastContext);

/* DestroyMiracastContext (OS -> UMD). */
typedef VOID(NTAPI *PFN_DESTROY_MIRACAST_CONTEXT)(_In_ PVOID pMiracastContext);

/* What StartMiracastSession reports about the new session. */
typedef union {
    struct {
        UINT MonitorConnected : 1;
        UINT ReducedModeListDueToBandwidth : 1;
        UINT Reserved : 30;
    };
    UINT Value;
} MIRACAST_SESSION_INFO;

/* Bit rates (bit/s) known when a session starts. */
typedef struct {
    UINT64 CurrentBitRate;
    UINT64 LocalMaxBitRate;
    UINT64 RemoteMaxBitRate;
} MIRACAST_WFD_CONNECTION_STATS;

/* StartMiracastSession (OS -> UMD). MiracastRTSPSocket is owned by the OS. */
typedef NTSTATUS(NTAPI *PFN_START_MIRACAST_SESSION)(_In_ PVOID pMiracastContext, _In_ SOCKET MiracastRTSPSocket,
                                                    _In_ MIRACAST_WFD_CONNECTION_STATS *pWfdConnectionStats,
                                                    _Out_ MIRACAST_SESSION_INFO *pSessionInfo);

/* StopMiracastSession (OS -> UMD). */
typedef VOID(NTAPI *PFN_STOP_MIRACAST_SESSION)(_In_ PVOID pMiracastContext);

/* HandleKernelModeMessage (OS -> UMD), delivery of a DxgkCbMiracastSendMessage message. */
typedef NTSTATUS(NTAPI *PFN_HANDLE_KMD_MESSAGE)(_In_ PVOID pMiracastContext, _In_ UINT InputBufferSize,
                                                _In_reads_bytes_(InputBufferSize) VOID *pInputBuffer,
                                                _In_ UINT OutputBufferSize,
                                                _Out_writes_bytes_(OutputBufferSize) VOID *pOutputBuffer,
                                                _Out_ UINT *pBytesReturned);

/* The UMD's entry points, filled by QueryMiracastDriverInterface. Size = bytes the UMD filled. */
typedef struct _MIRACAST_DRIVER_INTERFACE {
    UINT Size;
    PFN_CREATE_MIRACAST_CONTEXT CreateMiracastContext;
    PFN_DESTROY_MIRACAST_CONTEXT DestroyMiracastContext;
    PFN_START_MIRACAST_SESSION StartMiracastSession;
    PFN_STOP_MIRACAST_SESSION StopMiracastSession;
    PFN_HANDLE_KMD_MESSAGE HandleKernelModeMessage;
} MIRACAST_DRIVER_INTERFACE, *PMIRACAST_DRIVER_INTERFACE;

#ifdef __cplusplus
} /* extern "C" */
#endif

#if defined(__x86_64__) || defined(_M_X64)
/* Documented x64 layouts (fact sheet 2.5, derived). */
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_STATUS) == 4, "MIRACAST_STATUS size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_CHUNK_ID) == 8, "MIRACAST_CHUNK_ID size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_CHUNK_INFO) == 24, "MIRACAST_CHUNK_INFO size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_CHUNK_DATA) == 32, "MIRACAST_CHUNK_DATA size");
MIRACAST_SIM_STATIC_ASSERT(offsetof(MIRACAST_CHUNK_DATA, PrivateDriverData) == 28,
                           "MIRACAST_CHUNK_DATA.PrivateDriverData offset");
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_STATISTIC_DATA) == 32, "MIRACAST_STATISTIC_DATA size");
MIRACAST_SIM_STATIC_ASSERT(offsetof(MIRACAST_STATISTIC_DATA, EncodeComplete) == 8,
                           "MIRACAST_STATISTIC_DATA union offset");
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_SESSION_INFO) == 4, "MIRACAST_SESSION_INFO size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_WFD_CONNECTION_STATS) == 24, "MIRACAST_WFD_CONNECTION_STATS size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_DATARATE_STATS) == 48, "MIRACAST_DATARATE_STATS size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_CALLBACKS) == 40, "MIRACAST_CALLBACKS size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(MIRACAST_DRIVER_INTERFACE) == 48, "MIRACAST_DRIVER_INTERFACE size");
#endif

#endif /* MIRACAST_SIM_NETDISPUMDDDI_H */
