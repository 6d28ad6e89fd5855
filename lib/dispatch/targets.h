// The target table: which kernels this build and CPU can run, by name, and
// which one forward calls use. Names, not Highway target bits, cross the C ABI
// because those bits change between Highway releases.
#ifndef SWATTN_DISPATCH_TARGETS_H_
#define SWATTN_DISPATCH_TARGETS_H_

#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace swattn {

struct Target {
  const char* name;  // "avx512", "avx2", "sve2", "sve", "neon", "scalar"
  ForwardKernel kernel;
};

// Targets this build and this CPU can run, best first, "scalar" last.
// Detected once; thread-safe.
const std::vector<Target>& AvailableTargets();

// The target forward calls use now, or nullptr with *error set when
// SWATTN_TARGET named one that is unknown or unavailable. The environment
// variable is read once, at the first call. Thread-safe.
const Target* ActiveTarget(std::string* error);

// Forces a target by name (nullptr or "" = the best); returns false and sets
// *error, changing nothing, when the name is unknown or unavailable.
bool SetActiveTarget(const char* name, std::string* error);

}  // namespace swattn

#endif  // SWATTN_DISPATCH_TARGETS_H_
