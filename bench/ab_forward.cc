// swattn_ab: one forward call from two builds of libswattn, loaded side by
// side in one process and called in turn. On a shared or busy host the speed
// of a run moves by more than most kernel changes; pairs of calls a few
// milliseconds apart see the same host, so the ratio within each pair is what
// to read. bench/ab.sh builds two revisions and runs this.
//
//   swattn_ab LIB_A LIB_B [--n=16384] [--queries=0: all] [--heads=8]
//             [--kv_heads=HEADS] [--dim=128] [--window=LEFT,RIGHT]
//             [--threads=1] [--layout=bshd|bhsd] [--target=NAME] [--pairs=20]
//
// --queries below --n asks for the last positions only, as a decode step
// does (one query against a cache of n keys: --queries=1 --window=-1,0).
// Prints each build's median useful GFLOP/s, the median and quartiles of the
// per-pair ratio B / A, and the largest difference between their outputs.
// It links no swattn itself: both builds come in through dlopen, each with
// its own symbols (RTLD_LOCAL).
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "swattn/swattn.h"
#include "useful_flops.h"

namespace {

struct Build {
  const char* path;
  decltype(&swattn_options_init) options_init;
  decltype(&swattn_forward) forward;
  decltype(&swattn_set_target) set_target;
  decltype(&swattn_last_error) last_error;
};

template <typename F>
void Resolve(void* lib, const char* path, const char* name, F* f) {
  *f = reinterpret_cast<F>(dlsym(lib, name));
  if (*f == nullptr) {
    fprintf(stderr, "swattn_ab: %s has no %s\n", path, name);
    exit(2);
  }
}

Build Load(const char* path) {
  void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    fprintf(stderr, "swattn_ab: %s\n", dlerror());
    exit(2);
  }
  Build b{path, nullptr, nullptr, nullptr, nullptr};
  Resolve(lib, path, "swattn_options_init", &b.options_init);
  Resolve(lib, path, "swattn_forward", &b.forward);
  Resolve(lib, path, "swattn_set_target", &b.set_target);
  Resolve(lib, path, "swattn_last_error", &b.last_error);
  return b;
}

struct Args {
  int64_t n = 16384, queries = 0, heads = 8, kv_heads = -1, dim = 128;
  int64_t left = 16, right = 16;
  int threads = 1, pairs = 20;
  bool heads_major = false;
  std::string target;
};

bool Flag(const char* arg, const char* name, const char** value) {
  const size_t len = strlen(name);
  if (strncmp(arg, name, len) != 0 || arg[len] != '=') return false;
  *value = arg + len + 1;
  return true;
}

int64_t Int(const char* s, const char* name) {
  char* end = nullptr;
  const long long v = strtoll(s, &end, 10);
  if (end == s || *end != '\0') {
    fprintf(stderr, "swattn_ab: %s wants an integer, got '%s'\n", name, s);
    exit(2);
  }
  return v;
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 3; i < argc; ++i) {
    const char* v = nullptr;
    if (Flag(argv[i], "--n", &v)) {
      a.n = Int(v, "--n");
    } else if (Flag(argv[i], "--queries", &v)) {
      a.queries = Int(v, "--queries");
    } else if (Flag(argv[i], "--heads", &v)) {
      a.heads = Int(v, "--heads");
    } else if (Flag(argv[i], "--kv_heads", &v)) {
      a.kv_heads = Int(v, "--kv_heads");
    } else if (Flag(argv[i], "--dim", &v)) {
      a.dim = Int(v, "--dim");
    } else if (Flag(argv[i], "--threads", &v)) {
      a.threads = static_cast<int>(Int(v, "--threads"));
    } else if (Flag(argv[i], "--pairs", &v)) {
      a.pairs = static_cast<int>(Int(v, "--pairs"));
    } else if (Flag(argv[i], "--target", &v)) {
      a.target = v;
    } else if (Flag(argv[i], "--layout", &v) &&
               (!strcmp(v, "bshd") || !strcmp(v, "bhsd"))) {
      a.heads_major = !strcmp(v, "bhsd");
    } else if (Flag(argv[i], "--window", &v) && strchr(v, ',') != nullptr) {
      const std::string s(v);
      const size_t comma = s.find(',');
      a.left = Int(s.substr(0, comma).c_str(), "--window");
      a.right = Int(s.substr(comma + 1).c_str(), "--window");
    } else {
      fprintf(stderr, "swattn_ab: unknown or malformed argument '%s'\n",
              argv[i]);
      exit(2);
    }
  }
  if (a.kv_heads < 0) a.kv_heads = a.heads;
  if (a.queries == 0) a.queries = a.n;
  if (a.n < 1 || a.queries < 1 || a.queries > a.n || a.heads < 1 ||
      a.kv_heads < 1 || a.dim < 1 || a.pairs < 1 || a.heads % a.kv_heads != 0) {
    fprintf(stderr,
            "swattn_ab: --n, --queries, --heads, --kv_heads, --dim and "
            "--pairs must be positive, --queries at most --n, and --heads a "
            "multiple of --kv_heads\n");
    exit(2);
  }
  // q, k, v and two outputs, in double: the product may pass int64.
  const double bytes =
      4.0 * static_cast<double>(a.dim) *
      (3.0 * static_cast<double>(a.queries) * static_cast<double>(a.heads) +
       2.0 * static_cast<double>(a.n) * static_cast<double>(a.kv_heads));
  if (bytes > 64.0 * (1 << 30)) {
    fprintf(stderr, "swattn_ab: the tensors would take %.3g GiB; at most 64\n",
            bytes / (1 << 30));
    exit(2);
  }
  return a;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr,
            "usage: swattn_ab LIB_A LIB_B [--n=N] [--queries=Q] [--heads=H] "
            "[--kv_heads=HKV] [--dim=D] [--window=L,R] [--threads=T] "
            "[--layout=bshd|bhsd] [--target=NAME] [--pairs=P]\n");
    return 2;
  }
  Build builds[2] = {Load(argv[1]), Load(argv[2])};
  const Args a = Parse(argc, argv);

  // [batch, seq, heads, dim] (the table's layout) or [batch, heads, seq, dim].
  const auto tensor = [&](float* data, int64_t seq, int64_t heads) {
    const int64_t seq_stride = a.heads_major ? a.dim : heads * a.dim;
    const int64_t head_stride = a.heads_major ? seq * a.dim : a.dim;
    return swattn_tensor{
        data,  SWATTN_DTYPE_F32,    1,          seq,        heads,
        a.dim, seq * heads * a.dim, seq_stride, head_stride};
  };
  const size_t q_floats = static_cast<size_t>(a.queries * a.heads * a.dim);
  const size_t kv_floats = static_cast<size_t>(a.n * a.kv_heads * a.dim);
  std::vector<float> q(q_floats), k(kv_floats), v(kv_floats);
  std::vector<float> out[2] = {std::vector<float>(q_floats),
                               std::vector<float>(q_floats)};
  uint32_t state = 1;
  const auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) * (1.0f / 16777216.0f) - 0.5f;
  };
  for (float& x : q) x = next();
  for (float& x : k) x = next();
  for (float& x : v) x = next();
  const swattn_tensor tq = tensor(q.data(), a.queries, a.heads);
  const swattn_tensor tk = tensor(k.data(), a.n, a.kv_heads);
  const swattn_tensor tv = tensor(v.data(), a.n, a.kv_heads);

  // The queries sit at the last positions (the default query offset).
  const double useful = swattn_bench::UsefulFlops(
      1, a.heads, a.queries, a.n, a.dim, a.dim, a.left, a.right);

  for (const Build& b : builds) {
    if (!a.target.empty() && b.set_target(a.target.c_str()) != SWATTN_OK) {
      fprintf(stderr, "swattn_ab: %s: %s\n", b.path, b.last_error());
      return 1;
    }
  }
  const auto run = [&](int x) {
    const Build& b = builds[x];
    swattn_options opt;
    b.options_init(&opt);
    opt.window_left = a.left;
    opt.window_right = a.right;
    opt.num_threads = a.threads;
    swattn_tensor to = tensor(out[x].data(), a.queries, a.heads);
    const auto t0 = std::chrono::steady_clock::now();
    if (b.forward(&opt, &tq, &tk, &tv, &to, nullptr) != SWATTN_OK) {
      fprintf(stderr, "swattn_ab: %s: %s\n", b.path, b.last_error());
      exit(1);
    }
    const std::chrono::duration<double> s =
        std::chrono::steady_clock::now() - t0;
    return useful / s.count() * 1e-9;
  };

  run(0);  // first touches and thread start-up, untimed
  run(1);
  std::vector<double> gflops[2], ratio;
  for (int i = 0; i < a.pairs; ++i) {
    // Alternate which goes first, so that neither always follows the other.
    const int first = i % 2;
    double g[2];
    g[first] = run(first);
    g[1 - first] = run(1 - first);
    gflops[0].push_back(g[0]);
    gflops[1].push_back(g[1]);
    ratio.push_back(g[1] / g[0]);
  }
  double max_diff = 0.0;
  for (size_t i = 0; i < q_floats; ++i) {
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(out[0][i]) -
                                            static_cast<double>(out[1][i])));
  }
  std::vector<double> sorted = ratio;
  std::sort(sorted.begin(), sorted.end());
  printf("A %.1f  B %.1f useful GFLOP/s (medians of %d)\n", Median(gflops[0]),
         Median(gflops[1]), a.pairs);
  printf("B / A: median %.3f, quartiles %.3f to %.3f\n", Median(ratio),
         sorted[sorted.size() / 4], sorted[sorted.size() * 3 / 4]);
  printf("largest |out_A - out_B|: %.3g\n", max_diff);
  return 0;
}
