/*
 * wdm.h - the kernel routines a display miniport calls, for a KMD built for miracast-sim.
 * See miracast_sim_kernel.h for what is provided and how the simulator supplies it.
 */
#ifndef MIRACAST_SIM_WDM_H
#define MIRACAST_SIM_WDM_H
#include "miracast_sim_kernel.h"
#endif
