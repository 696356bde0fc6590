/*
 * d3dukmdt.h (miracast-sim subset) - types shared by the display kernel and user mode that the
 * Miracast DDIs use: the DDI interface version numbers, VidPN source/target ids and the
 * DXGK_MIRACAST_CHUNK_* types.
 *
 * Written for miracast-sim from Microsoft's public DDI documentation (names, member order and
 * values as documented). It is not the WDK header and holds only what the Miracast flow needs.
 */
#ifndef MIRACAST_SIM_D3DUKMDT_H
#define MIRACAST_SIM_D3DUKMDT_H

#include "miracast_sim_wintypes.h"

/* ---- DDI interface versions --------------------------------------------------------------- */

#ifndef DXGKDDI_INTERFACE_VERSION_VISTA
#define DXGKDDI_INTERFACE_VERSION_VISTA 0x1052
#define DXGKDDI_INTERFACE_VERSION_VISTA_SP1 0x1053
#define DXGKDDI_INTERFACE_VERSION_WIN7 0x2005
#define DXGKDDI_INTERFACE_VERSION_WIN8 0x300E
#define DXGKDDI_INTERFACE_VERSION_WDDM1_3 0x4002
#define DXGKDDI_INTERFACE_VERSION_WDDM1_3_PATH_INDEPENDENT_ROTATION 0x4003
#define DXGKDDI_INTERFACE_VERSION_WDDM2_0 0x5023
#define DXGKDDI_INTERFACE_VERSION_WDDM2_1 0x6003
#endif

/* The Miracast DDIs exist from WDDM 1.3 on; these headers always declare them. */
#ifndef DXGKDDI_INTERFACE_VERSION
#define DXGKDDI_INTERFACE_VERSION DXGKDDI_INTERFACE_VERSION_WDDM1_3
#endif

/* ---- VidPN ids ------------------------------------------------------------------------------- */

typedef UINT D3DDDI_VIDEO_PRESENT_SOURCE_ID;
typedef UINT D3DDDI_VIDEO_PRESENT_TARGET_ID;

/* ---- Miracast encode chunks (WDDM 1.3) ------------------------------------------------------- */

/* Processing step that a chunk report describes. */
typedef enum _DXGK_MIRACAST_CHUNK_TYPE {
    DXGK_MIRACAST_CHUNK_TYPE_UNKNOWN = 0,
    DXGK_MIRACAST_CHUNK_TYPE_COLOR_CONVERT_COMPLETE = 1,
    DXGK_MIRACAST_CHUNK_TYPE_ENCODE_COMPLETE = 2,
    DXGK_MIRACAST_CHUNK_TYPE_FRAME_START = 3,
    DXGK_MIRACAST_CHUNK_TYPE_FRAME_DROPPED = 4,
    DXGK_MIRACAST_CHUNK_TYPE_ENCODE_DRIVER_DEFINED_1 = 0x80000000,
    DXGK_MIRACAST_CHUNK_TYPE_ENCODE_DRIVER_DEFINED_2 = 0x80000001
} DXGK_MIRACAST_CHUNK_TYPE;

/* Frame number (low 40 bits) and part number (high 24 bits) of a chunk. */
typedef union {
    struct {
        UINT64 FrameNumber : 40;
        UINT64 PartNumber : 24;
    };
    UINT64 Value;
} DXGK_MIRACAST_CHUNK_ID;

/* One chunk report: type, id, processing time in microseconds, encode rate in kbit/s. */
typedef struct {
    DXGK_MIRACAST_CHUNK_TYPE ChunkType;
    DXGK_MIRACAST_CHUNK_ID ChunkId;
    UINT ProcessingTime;
    UINT EncodeRate;
} DXGK_MIRACAST_CHUNK_INFO;

#if defined(__x86_64__) || defined(_M_X64)
/* Documented x64 layout (fact sheet 2.3, derived). */
MIRACAST_SIM_STATIC_ASSERT(sizeof(DXGK_MIRACAST_CHUNK_TYPE) == 4, "DXGK_MIRACAST_CHUNK_TYPE size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(DXGK_MIRACAST_CHUNK_ID) == 8, "DXGK_MIRACAST_CHUNK_ID size");
MIRACAST_SIM_STATIC_ASSERT(sizeof(DXGK_MIRACAST_CHUNK_INFO) == 24, "DXGK_MIRACAST_CHUNK_INFO size");
MIRACAST_SIM_STATIC_ASSERT(offsetof(DXGK_MIRACAST_CHUNK_INFO, ChunkId) == 8,
                           "DXGK_MIRACAST_CHUNK_INFO.ChunkId offset");
MIRACAST_SIM_STATIC_ASSERT(offsetof(DXGK_MIRACAST_CHUNK_INFO, ProcessingTime) == 16,
                           "DXGK_MIRACAST_CHUNK_INFO.ProcessingTime offset");
MIRACAST_SIM_STATIC_ASSERT(offsetof(DXGK_MIRACAST_CHUNK_INFO, EncodeRate) == 20,
                           "DXGK_MIRACAST_CHUNK_INFO.EncodeRate offset");
#endif

#endif /* MIRACAST_SIM_D3DUKMDT_H */
