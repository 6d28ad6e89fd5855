// The runner on oneTBB: parallel_for over units inside a task_arena limited
// to the requested number of threads.
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "parallel/runner.h"
#include "tbb/blocked_range.h"
#include "tbb/info.h"
#include "tbb/parallel_for.h"
#include "tbb/task_arena.h"

namespace swattn {
namespace {

// Arenas are kept per thread count: creating one per call would cost more
// than a small forward call itself.
tbb::task_arena& ArenaFor(int threads) {
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<tbb::task_arena>> arenas;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<tbb::task_arena>& arena = arenas[threads];
  if (!arena) arena = std::make_unique<tbb::task_arena>(threads);
  return *arena;
}

}  // namespace

// More threads than the process may use would only oversubscribe the cores
// (and make TBB warn), so requests are capped at what is available.
int RunnerSlots(int num_threads) {
  const int available = std::max(1, tbb::info::default_concurrency());
  return num_threads > 0 ? std::min(num_threads, available) : available;
}

void RunUnits(int64_t num_units, int num_threads, UnitBody body,
              void* context) {
  const int threads = RunnerSlots(num_threads);
  if (threads == 1 || num_units <= 1) {
    if (num_units > 0) body(context, 0, num_units, 0);
    return;
  }
  ArenaFor(threads).execute([&] {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, num_units),
                      [&](const tbb::blocked_range<int64_t>& r) {
                        // In [0, threads): the arena's own thread index.
                        const int slot =
                            tbb::this_task_arena::current_thread_index();
                        body(context, r.begin(), r.end(), slot);
                      });
  });
}

}  // namespace swattn
