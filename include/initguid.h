/*
 * initguid.h (miracast-sim) - include this before the other miracast-sim headers in exactly one
 * source file of a driver, so that DEFINE_GUID there defines the GUIDs (for example
 * GUID_DEVINTERFACE_MIRACAST_DISPLAY) instead of only declaring them. Same convention as the
 * Windows header of this name; written for miracast-sim.
 */
#ifndef INITGUID
#define INITGUID
#endif

#include "miracast_sim_wintypes.h"

#if defined(DEFINE_GUID) && !defined(MIRACAST_SIM_HAVE_SDK_BASE_TYPES)
#undef DEFINE_GUID
#define DEFINE_GUID MIRACAST_SIM_DEFINE_GUID_DEF
#endif
