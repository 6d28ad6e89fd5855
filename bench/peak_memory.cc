// swattn_peak_memory: peak resident memory of one forward call, in its own
// process so that nothing else has raised the high-water mark.
//
// Allocates and fills q, k, v, out (contiguous float32), reads the resident
// set size, runs swattn_forward once, then reads the process's peak RSS
// (getrusage ru_maxrss). The difference is what swattn itself needed beyond
// the caller's tensors (scratch, thread stacks, the thread pool). The issue's
// case, N = 1048576, H = 4, D = 64, W = 256, is the default; inputs + outputs
// are 4 GiB there.
//
// Usage: swattn_peak_memory [N [H [D [W [threads]]]]]
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "problem.h"
#include "swattn/swattn.h"

namespace {

// Current resident set in bytes, from /proc/self/statm (Linux); 0 elsewhere.
double CurrentRssBytes() {
  std::ifstream statm("/proc/self/statm");
  long long pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0.0;
  return static_cast<double>(pages_resident) * 4096.0;
}

// Peak resident set in bytes (ru_maxrss is in KiB on Linux).
double PeakRssBytes() {
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0.0;
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

double MiB(double bytes) { return bytes / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
  auto arg = [&](int i, long long fallback) {
    return argc > i ? std::atoll(argv[i]) : fallback;
  };
  swattn_bench::BaselineShape shape;
  shape.seq = arg(1, 1048576);
  shape.heads = shape.kv_heads = arg(2, 4);
  shape.dim = arg(3, 64);
  shape.left = shape.right = arg(4, 256);
  const int threads = static_cast<int>(arg(5, 0));

  swattn_bench::Problem problem(shape);
  const double before = CurrentRssBytes();
  if (problem.Forward(threads) != SWATTN_OK) {
    std::fprintf(stderr, "swattn_forward failed: %s\n", swattn_last_error());
    return 1;
  }
  const double peak = PeakRssBytes();
  const double tensors = problem.TensorBytes();
  std::printf(
      "swattn %s, target %s, N = %lld, H = %lld, D = %lld, W = %lld, "
      "threads = %d (0 = all)\n",
      swattn_version_string(), swattn_last_forward_target(),
      static_cast<long long>(shape.seq), static_cast<long long>(shape.heads),
      static_cast<long long>(shape.dim), static_cast<long long>(shape.left),
      threads);
  std::printf("  %-36s %10.1f MiB\n", "inputs + outputs (q, k, v, out)",
              MiB(tensors));
  std::printf("  %-36s %10.1f MiB\n", "resident before the call", MiB(before));
  std::printf("  %-36s %10.1f MiB\n", "peak resident (ru_maxrss)", MiB(peak));
  std::printf("  %-36s %10.1f MiB\n", "peak - inputs - outputs",
              MiB(peak - tensors));
  std::printf("  %-36s %10.1f MiB\n", "growth during the call",
              MiB(peak - before));
  return 0;
}
