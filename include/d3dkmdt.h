/*
 * d3dkmdt.h (miracast-sim subset) - display kernel-mode types used by the Miracast flow: the
 * video output technology of a target (D3DKMDT_VOT_MIRACAST = 15), monitor orientation awareness
 * and hot-plug awareness of a child device.
 *
 * Written for miracast-sim from Microsoft's public DDI documentation (names, member order and
 * values as documented). It is not the WDK header and holds only what the Miracast flow needs.
 */
#ifndef MIRACAST_SIM_D3DKMDT_H
#define MIRACAST_SIM_D3DKMDT_H

#include "miracast_sim_wintypes.h"
#include "d3dukmdt.h"

/*
 * Connector type of a video output. D3DKMDT_VOT_INTERNAL is documented as 0x80000000; it is
 * written as the equal 32-bit negative value so that gcc keeps this enum 32 bits wide (the enum
 * also holds negative values), as Microsoft's compiler does.
 */
typedef enum _D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY {
    D3DKMDT_VOT_UNINITIALIZED = -2,
    D3DKMDT_VOT_OTHER = -1,
    D3DKMDT_VOT_HD15 = 0,
    D3DKMDT_VOT_SVIDEO = 1,
    D3DKMDT_VOT_COMPOSITE_VIDEO = 2,
    D3DKMDT_VOT_COMPONENT_VIDEO = 3,
    D3DKMDT_VOT_DVI = 4,
    D3DKMDT_VOT_HDMI = 5,
    D3DKMDT_VOT_LVDS = 6,
    D3DKMDT_VOT_D_JPN = 8,
    D3DKMDT_VOT_SDI = 9,
    D3DKMDT_VOT_DISPLAYPORT_EXTERNAL = 10,
    D3DKMDT_VOT_DISPLAYPORT_EMBEDDED = 11,
    D3DKMDT_VOT_UDI_EXTERNAL = 12,
    D3DKMDT_VOT_UDI_EMBEDDED = 13,
    D3DKMDT_VOT_SDTVDONGLE = 14,
    D3DKMDT_VOT_MIRACAST = 15,
    D3DKMDT_VOT_INDIRECT_WIRED = 16,
    D3DKMDT_VOT_INTERNAL = (-0x7FFFFFFF - 1), /* 0x80000000 */
    D3DKMDT_VOT_SVIDEO_4PIN = D3DKMDT_VOT_SVIDEO,
    D3DKMDT_VOT_SVIDEO_7PIN = D3DKMDT_VOT_SVIDEO,
    D3DKMDT_VOT_RF = D3DKMDT_VOT_COMPOSITE_VIDEO,
    D3DKMDT_VOT_RCA_3COMPONENT = D3DKMDT_VOT_COMPONENT_VIDEO,
    D3DKMDT_VOT_BNC = D3DKMDT_VOT_COMPONENT_VIDEO
} D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY;

/* How a target learns about monitor rotation. */
typedef enum _D3DKMDT_MONITOR_ORIENTATION_AWARENESS {
    D3DKMDT_MOA_UNINITIALIZED = 0,
    D3DKMDT_MOA_NONE = 1,
    D3DKMDT_MOA_POLLED = 2,
    D3DKMDT_MOA_INTERRUPTIBLE = 3
} D3DKMDT_MONITOR_ORIENTATION_AWARENESS;

/* How a child device reports hot plug; the Miracast target must be HpdAwarenessInterruptible. */
typedef enum _DXGK_CHILD_DEVICE_HPD_AWARENESS {
    HpdAwarenessUninitialized = 0,
    HpdAwarenessAlwaysConnected = 1,
    HpdAwarenessNone = 2,
    HpdAwarenessPolled = 3,
    HpdAwarenessInterruptible = 4
} DXGK_CHILD_DEVICE_HPD_AWARENESS, *PDXGK_CHILD_DEVICE_HPD_AWARENESS;

#if defined(__x86_64__) || defined(_M_X64)
MIRACAST_SIM_STATIC_ASSERT(sizeof(D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY) == 4,
                           "D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY is a 32-bit enum");
MIRACAST_SIM_STATIC_ASSERT(sizeof(DXGK_CHILD_DEVICE_HPD_AWARENESS) == 4,
                           "DXGK_CHILD_DEVICE_HPD_AWARENESS is a 32-bit enum");
#endif

#endif /* MIRACAST_SIM_D3DKMDT_H */
