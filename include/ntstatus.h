/*
 * ntstatus.h - the NTSTATUS names of miracast_sim_ntstatus.h under the Windows header's name, so
 * that a UMD's Windows source that includes <ntstatus.h> builds unchanged on Linux and macOS.
 * On Windows this file steps aside for the SDK's own ntstatus.h (#include_next, supported by
 * GCC, Clang and MinGW-w64); with MSVC, do not put this directory before the SDK's.
 */
#if defined(_WIN32)
#include_next <ntstatus.h>
#else
#include "miracast_sim_ntstatus.h"
#endif
