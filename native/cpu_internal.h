/* cpu_internal.h - hot loops built for more than one CPU level.
 *
 * HOT_CLONES compiles a function twice, for baseline x86-64 (SSE2) and for x86-64-v3 (AVX2
 * and FMA: eight float lanes and a fused multiply-add), and the dynamic loader picks the one
 * the CPU runs (GCC function multiversioning, through an ifunc). The package stays portable:
 * no -march flag, the same wheel on every x86-64, and the plain version everywhere else.
 * Results may differ in the last bits of a float between the two versions (FMA rounds once),
 * never in a decision the tests can see.
 */
#ifndef APPLIANCE_CPU_INTERNAL_H
#define APPLIANCE_CPU_INTERNAL_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define HOT_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define HOT_CLONES
#endif

#endif
