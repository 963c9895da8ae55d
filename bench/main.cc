// zcluster-bench SCENARIO [options] [--json FILE]: starts a cluster, drives load, prints figures.
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "zcluster/bench/scenarios.h"

using namespace zcluster;
using namespace zcluster::bench;

namespace {

// zclusterd sits beside this binary in a build tree (tools/ next to bench/) or an install.
std::string FindTools(const char* argv0) {
  std::filesystem::path self = std::filesystem::canonical("/proc/self/exe");
  for (const auto& candidate : {self.parent_path(), self.parent_path().parent_path() / "tools"}) {
    if (std::filesystem::exists(candidate / "zclusterd")) return candidate;
  }
  return std::filesystem::path(argv0).parent_path();
}

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"zcluster-bench: measure zcluster's flows on this machine"};
  std::string scenario, json_path;
  BenchOptions o;
  app.add_option("scenario", scenario,
                 "raw, agent-info, groups, files, loop, connect, qa, all, soak or scale")
      ->required()
      ->check(CLI::IsMember({"raw", "agent-info", "groups", "files", "loop", "connect", "qa", "all",
                             "soak", "scale"}));
  app.add_option("--workers", o.workers, "workers (default: the scenario's target size)");
  app.add_option("--agents", o.agents,
                 "agents per worker (agent-info) or in all (qa, soak, scale)");
  app.add_option("--rate", o.rate,
                 "agent reports per second in all (scale; default: every agent every 10 s)");
  app.add_option("--relay", o.relay,
                 "reports per message (scale): 1 as agents send them, up to 256 as a relay "
                 "forwards them")
      ->check(CLI::Range(std::size_t{1}, std::size_t{256}));
  app.add_option("--changes", o.changes, "group assignment changes (groups)");
  app.add_option("--files", o.files, "files on the master (files, qa, soak)");
  app.add_option("--file-bytes", o.file_bytes, "bytes per file (files)");
  app.add_option("--samples", o.samples, "latency samples per series");
  app.add_option("--duration", o.duration, "seconds of steady load (agent-info lag, qa, soak)");
  app.add_flag("--smoke", o.smoke, "tiny sizes, a few seconds: proves the harness works");
  app.add_option("--observe", o.observe,
                 "watch the master meanwhile: 'monitor' (its monitor endpoint once a second) or "
                 "'dump' (zcluster-monitor --dump), to measure what watching costs")
      ->check(CLI::IsMember({"monitor", "dump"}));
  app.add_flag("--keep", o.keep,
               "keep each cluster's folder (homes, cluster.log) for a look after");
  app.add_option("--json", json_path, "write the figures as JSON here, and an SVG plot beside it");
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "no progress lines on stderr");
  std::string tools_dir;
  app.add_option("--tools-dir", tools_dir,
                 "the folder whose zclusterd to measure (default: beside this binary); "
                 "another build's, for before/after figures");
  CLI11_PARSE(app, argc, argv);

  // A thousand workers, each a socket on the master: lift the descriptor limit for every child.
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  o.tools_dir = tools_dir.empty() ? FindTools(argv[0]) : tools_dir;
  if (!std::filesystem::exists(o.tools_dir + "/zclusterd")) {
    std::fprintf(stderr, "zcluster-bench: no zclusterd beside this binary (looked in %s)\n",
                 o.tools_dir.c_str());
    return 1;
  }
  auto start = std::chrono::steady_clock::now();
  if (!quiet) {
    o.progress = [start](const std::string& line) {
      double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "[%7.1f s] %s\n", t, line.c_str());
    };
  }

  std::vector<ScenarioResult> results;
  RawFigures raw;
  auto run = [&](const Result<ScenarioResult>& r, const std::string& name) {
    if (!r.ok()) {
      std::fprintf(stderr, "zcluster-bench: %s failed: %s\n", name.c_str(),
                   r.status().message().c_str());
      return false;
    }
    results.push_back(*r);
    std::fputs(RenderTable({*r}).c_str(), stdout);
    std::fflush(stdout);
    return true;
  };
  // Every scenario compares itself with the raw figures, so raw always runs first.
  bool ok = run(RunRaw(o, &raw), "raw");
  auto wanted = [&](const char* name) { return ok && (scenario == name || scenario == "all"); };
  if (wanted("agent-info")) ok = run(RunAgentInfo(o, raw), "agent-info");
  if (wanted("groups")) ok = run(RunGroups(o, raw), "groups");
  if (wanted("files")) ok = run(RunFiles(o, raw), "files");
  if (wanted("loop")) ok = run(RunLoop(o, raw), "loop");
  if (wanted("connect")) ok = run(RunConnect(o, raw), "connect");
  if (wanted("qa")) ok = run(RunQa(o, raw), "qa");
  if (ok && scenario == "soak") ok = run(RunSoak(o, raw), "soak");
  if (ok && scenario == "scale") ok = run(RunScale(o, raw), "scale");

  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  if (!json_path.empty()) {
    std::string svg_path = std::filesystem::path(json_path).replace_extension(".svg");
    if (!WriteText(json_path, RenderJson(results, command, DescribeMachine())) ||
        !WriteText(svg_path, RenderSvg(results))) {
      std::fprintf(stderr, "zcluster-bench: cannot write %s\n", json_path.c_str());
      return 1;
    }
    if (o.progress) o.progress("wrote " + json_path + " and " + svg_path);
  }
  return ok ? 0 : 2;
}
