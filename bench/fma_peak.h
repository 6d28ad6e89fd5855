// FP32 FMA peak of this machine, measured, per target and thread count.
//
// The peak is the ceiling against which swattn's useful GFLOP/s are reported:
// each thread runs independent chains of fused multiply-adds on as many vector
// registers as cover the FMA latency times the number of FMA pipes (12 vector
// accumulators on 16-register ISAs, 16 on 32-register ones), and one FMA
// counts as 2 flops per lane. N threads run the same chains independently,
// started together; the peak is the total flops over the wall time of the
// slowest thread, best of a few trials.
//
// Targets use swattn's names: "avx512" (Highway HWY_AVX3), "avx2" (HWY_AVX2),
// "neon", "sve", "sve2" and "scalar". The "scalar" peak is the rate of
// independent scalar multiply-add chains in plain C++ compiled without
// auto-vectorisation: one fused FMA where the baseline ISA has one (aarch64),
// a multiply and an add on x86-64's SSE2 baseline; either way 2 flops per
// element per step. It is the ceiling of swattn's "scalar" fallback, which is
// compiled for the baseline ISA too.
#ifndef SWATTN_BENCH_FMA_PEAK_H_
#define SWATTN_BENCH_FMA_PEAK_H_

#include <string>
#include <vector>

namespace swattn_bench {

// Names of the targets this binary has an FMA kernel for and this CPU can
// run, best first; "scalar" is always last.
std::vector<std::string> FmaPeakTargets();

// True if `target` is one of FmaPeakTargets().
bool FmaPeakHasTarget(const std::string& target);

// Measures the FP32 FMA peak in GFLOP/s of `threads` threads (0 = all
// hardware threads) running `target`. Each of `trials` trials lasts about
// `seconds_per_trial`; the best trial wins. Returns a negative value if the
// target is not available. Takes about trials * seconds_per_trial seconds.
double MeasureFmaPeakGflops(const std::string& target, int threads,
                            double seconds_per_trial = 0.05, int trials = 5);

// MeasureFmaPeakGflops with the defaults, measured once per (target, threads)
// per process and cached. Thread-safe.
double FmaPeakGflops(const std::string& target, int threads);

// Number of hardware threads (at least 1); what `threads = 0` means here.
int HardwareThreads();

}  // namespace swattn_bench

#endif  // SWATTN_BENCH_FMA_PEAK_H_
