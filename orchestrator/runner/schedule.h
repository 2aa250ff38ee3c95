#pragma once
// Which jobs of a plan run, and how many guests at once. Functions over the plan (and, for
// resume, the results store), so that filtering, resume and sizing are tested without booting
// anything.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "plan/plan.h"
#include "store/result_store.h"

namespace foliolab::runner {

// Defaults of `foliolab run`, as data.
struct RunDefaults {
  // Host memory a guest costs beyond its own RAM: QEMU's TCG translation cache, its own
  // allocations, our buffers (measured ~200-250 MB for a 2G TCG guest; rounded up).
  std::uint64_t guest_overhead_bytes = 300ull << 20;
  // Each job that ends infra-error is run again this many times (docs: only infra-error).
  int infra_retries = 1;
  // The live view is redrawn this often.
  int progress_interval_ms = 1000;
  // A signal that arrives just as a guest starts may miss that guest's own handler; guests
  // started this close to the signal are sent it again.
  int signal_resend_window_ms = 1000;
};
inline constexpr RunDefaults kRunDefaults{};

// Guests to run at once: `requested` (0 = one per core) bounded by how many guests fit in the
// memory the host has available (guest memory + overhead each), and by the number of jobs;
// at least 1 (a single guest that does not fit still runs: the user asked for it).
struct PoolLimits {
  int requested = 0;             // -j; 0: cores
  int cores = 1;
  std::uint64_t mem_available = 0;  // bytes; 0: unknown (no memory bound)
  std::uint64_t guest_memory = 0;   // bytes of the largest guest
  std::uint64_t overhead = kRunDefaults.guest_overhead_bytes;
  std::size_t jobs = 0;
};
struct PoolSize {
  int workers = 1;
  std::string why;  // "4 (-j 4)", "2 (memory: 5.1 GiB available, 2.3 GiB per guest)"
};
PoolSize pool_size(const PoolLimits& limits);

// MemAvailable of /proc/meminfo in bytes (nullopt when unreadable).
std::optional<std::uint64_t> host_mem_available();

// Jobs whose describe() text matches any of the globs (fnmatch(3); '*' matches spaces and
// '/'); every job when `globs` is empty. Order kept.
std::vector<const plan::Job*> filter_jobs(const std::vector<plan::Job>& jobs, const std::vector<std::string>& globs);

// The jobs still to run: those without a stored run (resume), order kept.
std::vector<const plan::Job*> pending_jobs(const std::vector<const plan::Job*>& jobs,
                                           const std::function<bool(const std::string& key)>& has_run);

// Resume of a results folder written before job keys named the variant (job-key recipe 1):
// a run stored under a job's recipe-1 key moves to the job's key when its manifest names the
// job's variant and repetition. Where two variants built the same kernel they shared a recipe-1
// key and only the run of the variant that wrote last survived: that run is adopted, and the
// other variant's job stays pending (it runs again). Returns how many runs moved.
std::size_t adopt_recipe1_runs(store::ResultStore& store, const std::vector<const plan::Job*>& jobs);

}  // namespace foliolab::runner
