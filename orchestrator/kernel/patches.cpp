#include "kernel/patches.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/errors.h"
#include "common/fs.h"
#include "common/process.h"

namespace foliolab::kernel {
namespace fs = std::filesystem;
using common::UsageError;

namespace {

std::string strip_components(const std::string& path, int strip) {
  std::string p = path;
  // "a/mm/x.c\t2025-01-01 ..." : drop a timestamp after a tab.
  if (auto tab = p.find('\t'); tab != std::string::npos) p = p.substr(0, tab);
  for (int i = 0; i < strip; ++i) {
    auto slash = p.find('/');
    if (slash == std::string::npos) return p;
    p = p.substr(slash + 1);
  }
  return p;
}

std::string read_text(const fs::path& p) {
  try {
    return common::read_file(p);
  } catch (const common::InfraError& e) {
    throw UsageError(e.what());
  }
}

bool looks_like_mbox(const std::string& text) { return text.rfind("From ", 0) == 0; }

std::vector<Patch> split_mbox(const fs::path& file, const std::string& text) {
  static const std::regex from_line(R"(^From [0-9a-f]{7,40} )");
  static const std::regex subject(R"(^Subject:\s*(.*)$)");
  std::vector<Patch> out;
  std::istringstream in(text);
  std::string line;
  Patch cur;
  auto flush = [&] {
    if (cur.text.find("\n---") != std::string::npos || cur.text.find("diff --git") != std::string::npos ||
        cur.text.find("\n+++ ") != std::string::npos) {
      if (cur.name.empty()) cur.name = fmt::format("{} (message {})", file.filename().string(), out.size() + 1);
      cur.origin = file;
      out.push_back(cur);
    }
    cur = Patch{};
  };
  std::smatch m;
  bool first = true;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, from_line) && !first) flush();
    first = false;
    if (cur.name.empty() && std::regex_match(line, m, subject))
      cur.name = fmt::format("{}: {}", file.filename().string(), m[1].str());
    cur.text += line + "\n";
  }
  flush();
  if (out.empty()) throw UsageError(fmt::format("{}: mbox holds no patch", file.string()));
  return out;
}

std::vector<Patch> load_file(const fs::path& file, int strip) {
  std::string text = read_text(file);
  if (looks_like_mbox(text)) return split_mbox(file, text);
  return {Patch{file.filename().string(), file, text, strip}};
}

}  // namespace

std::vector<Patch> load_series(const fs::path& entry) {
  if (!fs::exists(entry)) throw UsageError(fmt::format("{}: no such patch or series", entry.string()));
  if (!fs::is_directory(entry)) return load_file(entry, 1);
  std::vector<Patch> out;
  fs::path series = entry / "series";
  if (fs::exists(series)) {
    std::istringstream in(read_text(series));
    std::string line;
    int line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (auto hash = line.find('#'); hash != std::string::npos) line = line.substr(0, hash);
      std::istringstream words(line);
      std::string name, opt;
      if (!(words >> name)) continue;
      int strip = 1;
      while (words >> opt) {
        if (opt.rfind("-p", 0) == 0 && opt.size() > 2) strip = std::stoi(opt.substr(2));
        else throw UsageError(fmt::format("{}:{}: unsupported series option '{}'", series.string(), line_no, opt));
      }
      fs::path p = entry / name;
      if (!fs::exists(p)) throw UsageError(fmt::format("{}:{}: patch {} does not exist", series.string(), line_no, name));
      auto patches = load_file(p, strip);
      out.insert(out.end(), patches.begin(), patches.end());
    }
    if (out.empty()) throw UsageError(fmt::format("{}: series lists no patch", series.string()));
    return out;
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(entry)) {
    auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".patch" || ext == ".diff" || ext == ".mbox" || ext == ".eml"))
      files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw UsageError(fmt::format("{}: no series file and no *.patch files", entry.string()));
  for (const auto& f : files) {
    auto patches = load_file(f, 1);
    out.insert(out.end(), patches.begin(), patches.end());
  }
  return out;
}

std::set<std::string> touched_files(const Patch& patch) {
  std::set<std::string> out;
  std::istringstream in(patch.text);
  std::string line;
  static const std::regex rename(R"(^(rename|copy) (from|to) (.+)$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("--- ", 0) == 0 || line.rfind("+++ ", 0) == 0) {
      std::string p = line.substr(4);
      if (p.rfind("/dev/null", 0) == 0) continue;
      out.insert(strip_components(p, patch.strip));
    } else if (std::regex_match(line, m, rename)) {
      out.insert(m[3].str());
    }
  }
  return out;
}

std::string hunk_header(const Patch& patch, const std::string& file, int hunk) {
  std::istringstream in(patch.text);
  std::string line;
  bool in_file = false;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.rfind("+++ ", 0) == 0) {
      in_file = strip_components(line.substr(4), patch.strip) == file;
      n = 0;
    } else if (in_file && line.rfind("@@ ", 0) == 0) {
      if (++n == hunk) return line;
    }
  }
  return "";
}

namespace {

// Reads a file if it exists; distinguishes "absent" from "empty".
std::optional<std::string> maybe_read(const fs::path& p) {
  if (!fs::exists(fs::symlink_status(p))) return std::nullopt;
  return common::read_file(p);
}

// Replaces `dst` by rename so that a hard link to the pristine source is never written through.
void install_file(const fs::path& src, const fs::path& dst) {
  fs::create_directories(dst.parent_path());
  fs::path tmp = dst;
  tmp += ".foliolab-new";
  fs::copy_file(src, tmp, fs::copy_options::overwrite_existing);
  fs::permissions(tmp, fs::status(src).permissions());
  fs::rename(tmp, dst);
}

[[noreturn]] void report_failure(const Patch& patch, const std::string& output) {
  // GNU patch: "patching file mm/khugepaged.c" then "Hunk #2 FAILED at 1284." lines.
  static const std::regex patching(R"(^(?:patching|checking) file '?([^']+?)'?$)");
  static const std::regex failed(R"(^Hunk #(\d+) FAILED at (\d+))");
  static const std::regex missing(R"(can't find file to patch|No file to patch)");
  std::istringstream in(output);
  std::string line, file;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, patching)) file = m[1];
    if (std::regex_search(line, m, failed)) {
      int hunk = std::stoi(m[1]);
      std::string header = hunk_header(patch, file, hunk);
      throw UsageError(fmt::format("patch {} does not apply: {}: hunk #{} FAILED at line {}{}\n  (from {})",
                                   patch.name, file, hunk, m[2].str(),
                                   header.empty() ? "" : "\n  first rejected hunk: " + header, patch.origin.string()));
    }
    if (std::regex_search(line, missing)) {
      auto files = touched_files(patch);
      throw UsageError(fmt::format("patch {} does not apply: a file it patches does not exist in the source (patch touches: {})\n  (from {})",
                                   patch.name, fmt::join(files, ", "), patch.origin.string()));
    }
  }
  std::string tail = output.size() > 800 ? output.substr(output.size() - 800) : output;
  throw UsageError(fmt::format("patch {} does not apply:\n{}\n  (from {})", patch.name, tail, patch.origin.string()));
}

}  // namespace

ApplyResult apply_series(const std::vector<Patch>& series, const fs::path& pristine, const fs::path& tree,
                         const std::set<std::string>& previously_touched, const fs::path& scratch_parent) {
  ApplyResult result;
  for (const auto& p : series) {
    auto t = touched_files(p);
    result.touched.insert(t.begin(), t.end());
  }
  common::TemporaryDirectory staging(scratch_parent, "patch-staging");
  const fs::path stage = staging.path();
  for (const auto& f : result.touched) {
    if (f.find("..") != std::string::npos || (!f.empty() && f[0] == '/'))
      throw UsageError(fmt::format("a patch in the series touches '{}', outside the source tree", f));
    fs::path src = pristine / f;
    if (fs::exists(src)) {
      fs::create_directories((stage / f).parent_path());
      fs::copy_file(src, stage / f);
    }
  }
  for (const auto& p : series) {
    fs::path patch_file = stage.parent_path() / (stage.filename().string() + ".patch");
    common::write_file_atomic(patch_file, p.text);
    auto r = common::run_process({"patch", fmt::format("-p{}", p.strip), "--batch", "--forward",
                                  "--no-backup-if-mismatch", "--reject-file=-", "-d", stage.string(), "-i",
                                  patch_file.string()});
    fs::remove(patch_file);
    if (!r.ok()) report_failure(p, r.output);
    std::istringstream out(r.output);
    std::string line, file;
    while (std::getline(out, line)) {
      if (line.rfind("patching file ", 0) == 0) file = line.substr(14);
      if (line.find("with fuzz") != std::string::npos || line.find("offset") != std::string::npos)
        result.fuzz_notes.push_back(fmt::format("{}: {}: {}", p.name, file, line));
    }
  }
  // Every patch applied: bring the tree to the desired state, touching only what differs.
  std::set<std::string> all = result.touched;
  all.insert(previously_touched.begin(), previously_touched.end());
  for (const auto& f : all) {
    fs::path want = result.touched.count(f) ? stage / f : pristine / f;
    auto desired = maybe_read(want);
    auto current = maybe_read(tree / f);
    if (desired == current) continue;
    if (desired) install_file(want, tree / f);
    else fs::remove(tree / f);
    ++result.files_written;
  }
  return result;
}

}  // namespace foliolab::kernel
