/* level_internal.h - dBm0 conversions shared by the C modules (not part of the cdef). */
#ifndef APPLIANCE_LEVEL_INTERNAL_H
#define APPLIANCE_LEVEL_INTERNAL_H

#include <math.h>

/* Peak amplitude of a 0 dBm0 sine in 16-bit linear (see level.h). */
static const double level_dbm0_peak = 22827.6;

/* Peak amplitude of a sine at level_dbm0. */
static inline double level_peak(double level_dbm0)
{
    return level_dbm0_peak * pow(10.0, level_dbm0 / 20.0);
}

/* Mean power (sum of squares / samples) of a sine at level_dbm0. */
static inline double level_power(double level_dbm0)
{
    double peak = level_peak(level_dbm0);
    return peak * peak / 2.0;
}

#endif
