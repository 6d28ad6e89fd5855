// The non-numeric parts of the C ABI: options, status strings, version,
// the target list and target forcing, per-thread state.
#include <swattn/swattn.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#include <catch2/catch.hpp>

#include "oracle.h"

namespace swattn_test {
namespace {

TEST_CASE("options_init fills the documented defaults", "[api]") {
  swattn_options o;
  std::memset(&o, 0xAB, sizeof(o));  // garbage the init must overwrite
  swattn_options_init(&o);
  CHECK(o.struct_size == sizeof(swattn_options));
  CHECK(o.window_left == -1);
  CHECK(o.window_right == -1);
  CHECK(o.scale == 0.0f);
  CHECK(o.query_offset == SWATTN_QUERY_OFFSET_DEFAULT);
  CHECK(o.num_threads == 0);
  swattn_options_init(nullptr);  // documented to accept NULL
}

TEST_CASE("a larger struct_size from a newer header is accepted", "[api]") {
  // A caller compiled against a future header passes a bigger struct whose
  // unknown trailing fields are zero.
  Problem p;
  p.nq = p.nk = 5;
  p.dim = p.vdim = 3;
  p.left = p.right = 1;
  struct Bigger {
    swattn_options base;
    uint64_t future_field;
  } big;
  std::memset(&big, 0, sizeof(big));
  big.base = p.Options();
  big.base.struct_size = sizeof(swattn_options) + 8;
  REQUIRE(sizeof(big) >= sizeof(swattn_options) + 8);
  Case c(p, 7);
  Result r(p);
  const Expected want = Oracle(p, c.q.view(), c.k.view(), c.v.view());
  const swattn_status st = Forward("", big.base, c.q.view(), c.k.view(),
                                   c.v.view(), r.out.view(), r.lse.data());
  INFO(swattn_last_error());
  REQUIRE(st == SWATTN_OK);
  const std::string diff =
      CompareToOracle(p, r.out.view(), r.lse.data(), want);
  INFO(diff);
  CHECK(diff.empty());
}

TEST_CASE("status_string is never NULL", "[api]") {
  const swattn_status known[] = {
      SWATTN_OK, SWATTN_ERROR_INVALID_ARGUMENT, SWATTN_ERROR_UNSUPPORTED,
      SWATTN_ERROR_OUT_OF_MEMORY, SWATTN_ERROR_INTERNAL};
  std::set<std::string> texts;
  for (swattn_status s : known) {
    INFO("status " << static_cast<int>(s));
    const char* text = swattn_status_string(s);
    REQUIRE(text != nullptr);
    CHECK(std::strlen(text) > 0);
    texts.insert(text);
  }
  CHECK(texts.size() == 5);  // each status has its own description
  for (int bad : {-1, 5, 99, 1 << 30}) {
    INFO("status " << bad);
    const char* text = swattn_status_string(static_cast<swattn_status>(bad));
    REQUIRE(text != nullptr);
    CHECK(std::strlen(text) > 0);
  }
}

#if UINTPTR_MAX > 0xFFFFFFFFu
TEST_CASE("a scratch past the address space fails the call, not the process",
          "[api]") {
  // q and k claim dims no machine can hold, at an address nothing maps: a
  // kernel that ran would crash. The SIMD kernels' scratch grows with dim
  // (2^44: more than can be allocated; 2^57: more bytes than size_t counts;
  // 2^59: more floats), so the call must fail before reading q or k.
  float* const unmapped = reinterpret_cast<float*>(uintptr_t{1} << 60);
  std::vector<float> vb(3, 1.0f), ob(3, kSentinel);
  const auto tensor = [](float* data, int64_t dim) {
    swattn_tensor t;
    std::memset(&t, 0, sizeof(t));
    t.data = data;
    t.dtype = SWATTN_DTYPE_F32;
    t.batch = t.seq = t.heads = 1;
    t.dim = t.stride_head = t.stride_seq = t.stride_batch = dim;
    return t;
  };
  swattn_options o;
  swattn_options_init(&o);
  o.window_left = o.window_right = 0;
  int checked = 0;
  for (const int64_t dim :
       {int64_t{1} << 44, int64_t{1} << 57, int64_t{1} << 59}) {
    INFO("dim " << dim);
    const swattn_tensor q = tensor(unmapped, dim);
    const swattn_tensor v = tensor(vb.data(), 3);
    swattn_tensor out = tensor(ob.data(), 3);
    ForEachTarget([&](const std::string& name) {
      if (name == "scalar") return;  // one v row of scratch: it would run
      const swattn_status st = swattn_forward(&o, &q, &q, &v, &out, nullptr);
      const std::string error = swattn_last_error();
      INFO(error);
      CHECK(st == SWATTN_ERROR_OUT_OF_MEMORY);
      CHECK(error.find("scratch") != std::string::npos);
      CHECK(ob == std::vector<float>(3, kSentinel));
      ++checked;
    });
  }
  if (checked == 0) WARN("no SIMD target on this CPU: nothing checked");
}
#endif

TEST_CASE("version string and number match the header", "[api]") {
  REQUIRE(swattn_version_string() != nullptr);
  CHECK(std::string(swattn_version_string()) == "0.1.0");
  CHECK(swattn_version_number() == SWATTN_VERSION_NUMBER);
  CHECK(SWATTN_VERSION_NUMBER == 100);
}

// What the OS says this CPU can run, to check the target list against.
std::set<std::string> CpuFlags() {
  std::set<std::string> flags;
#if defined(__x86_64__)
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w;
    while (words >> w) flags.insert(w);
    break;
  }
#elif defined(__aarch64__) && defined(__linux__)
  // HWCAP bits from the kernel (or qemu-user), not /proc/cpuinfo, which
  // qemu-user does not emulate.
  const unsigned long hwcap = getauxval(AT_HWCAP);
  const unsigned long hwcap2 = getauxval(AT_HWCAP2);
  flags.insert("asimd");
  if (hwcap & (1ul << 22)) flags.insert("sve");   // HWCAP_SVE
  if (hwcap2 & (1ul << 1)) flags.insert("sve2");  // HWCAP2_SVE2
#endif
  return flags;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST_CASE("target list: scalar last, unique known names", "[api]") {
  const int n = swattn_target_count();
  REQUIRE(n >= 1);
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    const char* name = swattn_target_name(i);
    REQUIRE(name != nullptr);
    names.emplace_back(name);
  }
  CHECK(names.back() == "scalar");
  CHECK(std::set<std::string>(names.begin(), names.end()).size() ==
        names.size());
  const std::set<std::string> known = {"avx512", "avx2", "sve2",
                                       "sve",    "neon", "scalar"};
  for (const std::string& name : names) {
    INFO("target " << name);
    CHECK(known.count(name) == 1);
  }
  CHECK(swattn_target_name(n) == nullptr);
  CHECK(swattn_target_name(n + 100) == nullptr);
  CHECK(swattn_target_name(-1) == nullptr);

  const std::set<std::string> flags = CpuFlags();
  std::string listed;
  for (const std::string& name : names) listed += name + " ";
  INFO("targets: " << listed);
#if defined(__x86_64__)
  if (flags.count("avx512f") && flags.count("avx512bw") &&
      flags.count("avx512dq") && flags.count("avx512vl")) {
    CHECK(Contains(names, "avx512"));
    CHECK(Contains(names, "avx2"));
  }
  if (flags.count("avx2") && flags.count("fma") && flags.count("bmi2")) {
    CHECK(Contains(names, "avx2"));
  }
#elif defined(__aarch64__)
  CHECK(Contains(names, "neon"));
  if (flags.count("sve")) CHECK(Contains(names, "sve"));
  if (flags.count("sve2")) CHECK(Contains(names, "sve2"));
  if (!flags.count("sve")) CHECK_FALSE(Contains(names, "sve"));
  if (!flags.count("sve2")) CHECK_FALSE(Contains(names, "sve2"));
#endif
}

TEST_CASE("set_target forces each listed target; NULL and \"\" pick the best",
          "[api]") {
  TargetReset reset;
  const std::vector<std::string> names = AllTargets();
  REQUIRE(!names.empty());
  for (const std::string& name : names) {
    INFO("target " << name);
    REQUIRE(swattn_set_target(name.c_str()) == SWATTN_OK);
    REQUIRE(swattn_active_target() != nullptr);
    CHECK(std::string(swattn_active_target()) == name);
  }
  REQUIRE(swattn_set_target(nullptr) == SWATTN_OK);
  CHECK(std::string(swattn_active_target()) == names.front());
  REQUIRE(swattn_set_target("scalar") == SWATTN_OK);
  REQUIRE(swattn_set_target("") == SWATTN_OK);
  CHECK(std::string(swattn_active_target()) == names.front());
}

TEST_CASE("set_target rejects unknown names and changes nothing", "[api]") {
  TargetReset reset;
  REQUIRE(swattn_set_target("scalar") == SWATTN_OK);
  for (const char* bad : {"avx9000", "AVX2 ", "scalar2", "sse2", "emu128"}) {
    INFO("name '" << bad << "'");
    CHECK(swattn_set_target(bad) == SWATTN_ERROR_UNSUPPORTED);
    CHECK(std::strlen(swattn_last_error()) > 0);
    CHECK(std::string(swattn_active_target()) == "scalar");
  }
#if defined(__x86_64__)
  // Arm names are unknown to an x86 build: unsupported, not a crash.
  CHECK(swattn_set_target("sve2") == SWATTN_ERROR_UNSUPPORTED);
  CHECK(std::string(swattn_active_target()) == "scalar");
#elif defined(__aarch64__)
  CHECK(swattn_set_target("avx512") == SWATTN_ERROR_UNSUPPORTED);
  CHECK(std::string(swattn_active_target()) == "scalar");
#endif
  // The forced target still computes.
  Problem p;
  p.nq = p.nk = 4;
  Case c(p, 3);
  Result r = RunOn("scalar", c);
  CHECK(std::string(swattn_last_forward_target()) == "scalar");
}

TEST_CASE("last_error and last_forward_target are per thread", "[api]") {
  // A failure on this thread must not show in a new thread's state.
  swattn_options_init(nullptr);
  CHECK(swattn_set_target("avx9000") == SWATTN_ERROR_UNSUPPORTED);
  REQUIRE(std::strlen(swattn_last_error()) > 0);
  std::string other_error = "unset", other_target = "unset";
  std::thread t([&] {
    const char* e = swattn_last_error();
    other_error = e ? e : "NULL";
    const char* f = swattn_last_forward_target();
    other_target = f ? f : "NULL";
  });
  t.join();
  CHECK(other_error.empty());
  CHECK(other_target.empty());
  // A call that succeeds clears this thread's message (see the header).
  REQUIRE(swattn_set_target(nullptr) == SWATTN_OK);
  CHECK(std::strlen(swattn_last_error()) == 0);
}

TEST_CASE("concurrent forward calls give the single-call result", "[api]") {
  Problem p;
  p.batch = 2;
  p.nq = p.nk = 97;
  p.heads = 2;
  p.kv_heads = 1;
  p.dim = p.vdim = 24;
  p.left = 9;
  p.right = 4;
  Case c(p, 11);
  ForEachTarget([&](const std::string& name) {
    Result want = RunOn(name, c);
    std::vector<Result> got(4, Result(p));
    std::vector<swattn_status> status(4, SWATTN_ERROR_INTERNAL);
    std::vector<std::string> ran(4);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < got.size(); ++t) {
      threads.emplace_back([&, t] {
        const swattn_tensor q = c.q.view().ToC(), k = c.k.view().ToC(),
                            v = c.v.view().ToC();
        swattn_tensor out = got[t].out.view().ToC();
        const swattn_options o = p.Options();
        status[t] = swattn_forward(&o, &q, &k, &v, &out, got[t].lse.data());
        ran[t] = swattn_last_forward_target();
      });
    }
    for (std::thread& t : threads) t.join();
    for (size_t t = 0; t < got.size(); ++t) {
      INFO("thread " << t);
      CHECK(status[t] == SWATTN_OK);
      CHECK(ran[t] == name);
      const std::string diff =
          CompareBitwise(p, got[t].out.view(), got[t].lse.data(),
                         want.out.view(), want.lse.data());
      INFO(diff);
      CHECK(diff.empty());
    }
  });
}

// Run by ctest with SWATTN_TARGET set in the environment (hidden from the
// default run): a valid name is active from the first call, a bad one makes
// forward fail until set_target is called.
TEST_CASE("SWATTN_TARGET environment variable", "[.][env]") {
  const char* env = std::getenv("SWATTN_TARGET");
  REQUIRE(env != nullptr);
  const std::string wanted = env;
  // The first swattn call of the process reads the variable.
  const std::vector<std::string> names = AllTargets();
  Problem p;
  p.nq = p.nk = 6;
  p.dim = p.vdim = 5;
  p.left = 2;
  p.right = 1;
  Case c(p, 5);
  const Expected want = Oracle(p, c.q.view(), c.k.view(), c.v.view());
  Result r(p);
  if (Contains(names, wanted)) {
    CHECK(std::string(swattn_active_target()) == wanted);
    REQUIRE(Forward(wanted, p.Options(), c.q.view(), c.k.view(), c.v.view(),
                    r.out.view(), r.lse.data()) == SWATTN_OK);
    const std::string diff =
        CompareToOracle(p, r.out.view(), r.lse.data(), want);
    INFO(diff);
    CHECK(diff.empty());
  } else {
    const swattn_status st =
        Forward("", p.Options(), c.q.view(), c.k.view(), c.v.view(),
                r.out.view(), r.lse.data());
    CHECK(st != SWATTN_OK);
    CHECK(std::strlen(swattn_last_error()) > 0);
    for (float x : r.out.storage()) REQUIRE(x == kSentinel);
    for (float x : r.lse) REQUIRE(x == kSentinel);
    // Forcing a target clears the bad environment choice.
    REQUIRE(swattn_set_target(nullptr) == SWATTN_OK);
    CHECK(std::string(swattn_active_target()) == names.front());
    REQUIRE(Forward(names.front(), p.Options(), c.q.view(), c.k.view(),
                    c.v.view(), r.out.view(), r.lse.data()) == SWATTN_OK);
    const std::string diff =
        CompareToOracle(p, r.out.view(), r.lse.data(), want);
    INFO(diff);
    CHECK(diff.empty());
  }
}

}  // namespace
}  // namespace swattn_test
