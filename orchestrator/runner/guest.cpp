#include "runner/guest.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "collect/classify.h"
#include "collect/console.h"
#include "collect/record_parser.h"
#include "common/errors.h"
#include "image/initramfs.h"
#include "kernel/kconfig.h"
#include "vm/qemu.h"

namespace foliolab::runner {

GuestOutcome run_guest(const GuestJob& job, vm::GuestBackend& backend, const vm::StopSignal& stop,
                       const ConsoleSink& console) {
  GuestOutcome out;
  out.console_log = job.console_log.empty() ? job.work_dir / "console.log" : job.console_log;

  collect::RunEnd end;
  collect::RecordParser parser;
  collect::ConsoleAnalyzer analyzer;
  std::size_t dropped_lines = 0;
  std::vector<std::size_t> dropped_lengths;
  try {
    // The base image is shared and cached; a missing guest agent is an infrastructure error.
    auto base = image::base_image(job.arch, job.cache_dir);
    std::string job_text = image::job_json(job.job).dump(2) + "\n";
    auto initrd = image::write_run_initrd(base.path, job_text, job.work_dir / "initrd.cpio");

    vm::GuestSpec spec;
    spec.arch = job.arch;
    spec.kernel = job.kernel;
    spec.initrd = initrd;
    spec.memory_bytes = job.job.guest.memory_bytes;
    spec.cpus = job.job.guest.cpus;
    spec.numa_nodes = job.job.guest.numa_nodes;
    spec.cmdline_extra = job.cmdline_extra;
    spec.kernel_hz = kernel::hz_beside_image(job.kernel);
    spec.swap_disk_bytes = job.job.guest.swap.disk_bytes;
    spec.timeouts = job.timeouts;
    for (const auto& step : job.job.steps) spec.step_deadlines_s[step.name] = step.deadline_s;
    spec.console_log = out.console_log;
    spec.scratch_dir = job.work_dir;

    vm::GuestCallbacks callbacks;
    callbacks.console = [&](std::string_view bytes) {
      analyzer.feed(bytes);
      if (console) console(bytes);
    };
    callbacks.data_line = [&](std::string_view line) {
      parser.feed(line);
      parser.feed("\n");
      if (out.records_jsonl.size() + line.size() + 1 <= kMaxRecordsBytes) {
        out.records_jsonl.append(line);
        out.records_jsonl += '\n';
      } else {
        out.records_truncated = true;
      }
    };
    callbacks.data_line_dropped = [&](std::size_t length) {
      ++dropped_lines;
      if (dropped_lengths.size() < 10) dropped_lengths.push_back(length);
    };
    out.run = backend.run(spec, callbacks, stop);
  } catch (const common::InfraError& e) {
    end.infra_error = true;
    end.infra_reason = e.what();
  }
  if (!end.infra_error && out.run.end == vm::EndReason::kStopped) {
    out.stopped = true;
    return out;
  }
  parser.finish();
  analyzer.finish();

  collect::RunRecords records = parser.take();
  for (std::size_t length : dropped_lengths)
    records.errors.push_back({"channel", "", fmt::format("a data-channel line of {} bytes was dropped (limit {} bytes)",
                                                         length, vm::kMaxDataLine)});
  records.malformed_lines += static_cast<std::int64_t>(dropped_lines);
  if (out.records_truncated)
    records.errors.push_back(
        {"channel", "", fmt::format("records.jsonl was cut at {} MiB; later lines were parsed but not kept",
                                    kMaxRecordsBytes >> 20)});
  const vm::GuestRun& run = out.run;
  end.hello_seen = run.hello_seen;
  end.guest_exited = !end.infra_error && run.end == vm::EndReason::kExited;
  end.boot_deadline_hit = run.end == vm::EndReason::kBootDeadline;
  end.step_deadline_hit = run.end == vm::EndReason::kStepDeadline || run.end == vm::EndReason::kRunDeadline;
  end.silence_hit = run.end == vm::EndReason::kSilence;
  end.boot_seconds = run.boot_seconds;
  end.total_seconds = run.total_seconds;
  if (run.end == vm::EndReason::kShutdownDeadline) spdlog::warn("{}", run.end_detail);
  out.result = collect::classify_run(std::move(records), analyzer, end);
  return out;
}

std::map<std::string, metrics::MetricInfo> workload_metric_info(const catalog::Catalog& catalog,
                                                                const std::vector<image::JobStep>& steps) {
  std::map<std::string, metrics::MetricInfo> out;
  for (const auto& step : steps) {
    const auto* descriptor = catalog.find(step.workload);
    if (descriptor == nullptr) continue;
    for (const auto& m : descriptor->metrics) {
      metrics::MetricInfo info;
      info.unit = m.unit;
      info.kind = metrics::kind_from_string(m.kind).value_or(metrics::Kind::kValue);
      info.direction = metrics::direction_from_string(m.direction).value_or(metrics::Direction::kNeutral);
      info.known = true;
      out["wl." + m.name] = info;
    }
  }
  return out;
}

vm::GuestTimeouts suite_timeouts(const config::Timeouts& timeouts) {
  vm::GuestTimeouts t;
  t.boot = vm::Milliseconds(timeouts.boot_ms);
  t.silence = vm::Milliseconds(timeouts.silence_ms);
  return t;
}

}  // namespace foliolab::runner
