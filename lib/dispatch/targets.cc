#include "dispatch/targets.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "hwy/targets.h"

namespace swattn {
namespace {

std::vector<Target> DetectTargets() {
  std::vector<Target> targets;
  const int64_t supported = hwy::SupportedTargets();
  size_t count = 0;
  const SimdKernel* compiled = CompiledSimdKernels(&count);
  for (size_t i = 0; i < count; ++i) {
    if (supported & compiled[i].hwy_target) {
      targets.push_back({compiled[i].name, compiled[i].kernel});
    }
  }
  targets.push_back({"scalar", ScalarKernel()});
  return targets;
}

const Target* FindTarget(const char* name) {
  for (const Target& t : AvailableTargets()) {
    if (std::strcmp(t.name, name) == 0) return &t;
  }
  return nullptr;
}

std::string UnavailableMessage(const char* what, const char* name) {
  std::string msg = std::string(what) + " \"" + name +
                    "\" is not a target this build and CPU can run; "
                    "available:";
  for (const Target& t : AvailableTargets()) msg += std::string(" ") + t.name;
  return msg;
}

// The active target; nullptr with g_env_error set while SWATTN_TARGET is bad
// and no target has been set since.
std::atomic<const Target*> g_active{nullptr};
std::once_flag g_env_once;
std::string g_env_error;  // written once, under g_env_once

void ReadEnvironment() {
  const char* env = std::getenv("SWATTN_TARGET");
  if (env == nullptr || env[0] == '\0') {
    g_active.store(&AvailableTargets().front());
  } else if (const Target* t = FindTarget(env)) {
    g_active.store(t);
  } else {
    g_env_error = UnavailableMessage("SWATTN_TARGET", env);
  }
}

}  // namespace

const std::vector<Target>& AvailableTargets() {
  static const std::vector<Target> targets = DetectTargets();
  return targets;
}

const Target* ActiveTarget(std::string* error) {
  std::call_once(g_env_once, ReadEnvironment);
  const Target* t = g_active.load();
  if (t == nullptr) *error = g_env_error;
  return t;
}

bool SetActiveTarget(const char* name, std::string* error) {
  std::call_once(g_env_once, ReadEnvironment);
  if (name == nullptr || name[0] == '\0') {
    g_active.store(&AvailableTargets().front());
    return true;
  }
  const Target* t = FindTarget(name);
  if (t == nullptr) {
    *error = UnavailableMessage("target", name);
    return false;
  }
  g_active.store(t);
  return true;
}

}  // namespace swattn
