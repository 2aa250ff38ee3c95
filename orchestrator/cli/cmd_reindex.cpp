// foliolab reindex DIR... [--json]: rebuilds index.sqlite of each results folder from its run
// folders (after copying runs in from another machine, or if the index is lost or corrupt).
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "common/errors.h"
#include "report/comparison.h"
#include "store/result_store.h"

namespace foliolab::cli {
namespace {

struct ReindexArgs {
  std::vector<std::string> dirs;
  bool json = false;
};

int run(const ReindexArgs& args) {
  for (const auto& dir : args.dirs) {
    const auto stores = report::find_result_stores(dir);
    if (stores.empty()) throw common::UsageError(fmt::format("{}: no results (no runs/ folder)", dir));
    for (const auto& path : stores) {
      store::ResultStore store(path);
      const auto r = store.reindex();
      if (args.json) {
        std::cout << nlohmann::json{{"dir", path.string()},
                                    {"runs", r.runs},
                                    {"invalid", r.invalid},
                                    {"incomplete", r.incomplete}}
                         .dump()
                  << "\n";
      } else {
        std::cout << fmt::format("{}: {} runs indexed", path.string(), r.runs);
        if (r.invalid) std::cout << fmt::format(", {} invalid folders ignored", r.invalid);
        if (r.incomplete) std::cout << fmt::format(", {} interrupted writes ignored", r.incomplete);
        std::cout << "\n";
      }
    }
  }
  return 0;
}

}  // namespace

void add_reindex_command(CLI::App& app, Runner& runner, const GlobalOptions&) {
  auto args = std::make_shared<ReindexArgs>();
  auto* cmd = app.add_subcommand("reindex", "rebuild index.sqlite of results folders from their run folders");
  cmd->add_option("dirs", args->dirs, "results/<suite> folders, or folders holding them")->required();
  cmd->add_flag("--json", args->json, "one JSON object per results folder on stdout");
  cmd->callback([args, &runner] { runner = [args] { return run(*args); }; });
}

}  // namespace foliolab::cli
