#include "zcluster/bench/report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

namespace zcluster::bench {
namespace {

std::string Number(double v) {
  if (v >= 1000) return fmt::format("{:.0f}", v);
  if (v >= 10) return fmt::format("{:.1f}", v);
  return fmt::format("{:.3g}", v);
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

}  // namespace

double LatencySeries::Percentile(double p) const {
  if (samples_ms.empty()) return 0;
  std::vector<double> sorted = samples_ms;
  std::sort(sorted.begin(), sorted.end());
  // Nearest rank: the smallest sample with at least p% of the samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

std::string RenderTable(const std::vector<ScenarioResult>& results) {
  std::string out;
  for (const ScenarioResult& r : results) {
    std::string params;
    for (const auto& [k, v] : r.parameters) params += fmt::format(" {}={}", k, v);
    out += fmt::format("== {} ({:.1f} s){}\n", r.scenario, r.wall_seconds, params);
    for (const Figure& f : r.figures) {
      std::string target =
          f.target
              ? fmt::format("target {}{} {}", f.higher_is_better ? ">=" : "<=", Number(*f.target),
                            f.Met() ? "met" : "MISSED")
              : "";
      std::string ratio = f.ratio ? fmt::format("{:.2f} of raw {}", *f.ratio, f.ratio_of) : "";
      out += fmt::format("  {:<44} {:>12} {:<10} {:<22} {}\n", f.name, Number(f.value), f.unit,
                         target, ratio);
    }
    for (const LatencySeries& l : r.latencies) {
      std::string target;
      if (l.target_p99_ms) {
        target = fmt::format("target p99 <= {} ms {}", Number(*l.target_p99_ms),
                             l.Percentile(99) <= *l.target_p99_ms ? "met" : "MISSED");
      }
      if (l.target_max_ms) {
        target = fmt::format("target max <= {} ms {}", Number(*l.target_max_ms),
                             l.Max() <= *l.target_max_ms ? "met" : "MISSED");
      }
      out += fmt::format("  {:<44} p50 {:>8} p99 {:>8} max {:>8} ms (n={}) {}\n", l.name,
                         Number(l.Percentile(50)), Number(l.Percentile(99)), Number(l.Max()),
                         l.samples_ms.size(), target);
    }
    if (r.master) {
      out +=
          fmt::format("  {:<44} peak RSS {:>7.1f} MB, CPU {:>7.2f} s, RSS at the end {:.1f} MB\n",
                      "master", r.master->peak_rss_mb, r.master->cpu_seconds, r.master->rss_mb);
    }
    if (r.worker) {
      out +=
          fmt::format("  {:<44} peak RSS {:>7.1f} MB, CPU {:>7.2f} s, RSS at the end {:.1f} MB\n",
                      "one worker", r.worker->peak_rss_mb, r.worker->cpu_seconds, r.worker->rss_mb);
    }
    for (const std::string& n : r.notes) out += "  note: " + n + "\n";
  }
  return out;
}

std::string RenderJson(const std::vector<ScenarioResult>& results, const std::string& command,
                       const std::string& machine) {
  nlohmann::json j;
  j["command"] = command;
  j["machine"] = machine;
  j["scenarios"] = nlohmann::json::array();
  for (const ScenarioResult& r : results) {
    nlohmann::json s;
    s["scenario"] = r.scenario;
    s["wall_seconds"] = r.wall_seconds;
    s["parameters"] = nlohmann::json::object();
    for (const auto& [k, v] : r.parameters) s["parameters"][k] = v;
    s["figures"] = nlohmann::json::array();
    for (const Figure& f : r.figures) {
      nlohmann::json fj{{"name", f.name}, {"value", f.value}, {"unit", f.unit}};
      if (f.target) {
        fj["target"] = *f.target;
        fj["met"] = f.Met();
      }
      if (f.ratio) {
        fj["ratio_to_raw"] = *f.ratio;
        fj["raw"] = f.ratio_of;
      }
      s["figures"].push_back(fj);
    }
    s["latencies"] = nlohmann::json::array();
    for (const LatencySeries& l : r.latencies) {
      nlohmann::json lj{{"name", l.name},
                        {"n", l.samples_ms.size()},
                        {"p50_ms", l.Percentile(50)},
                        {"p90_ms", l.Percentile(90)},
                        {"p99_ms", l.Percentile(99)},
                        {"max_ms", l.Max()}};
      if (l.target_p99_ms) lj["target_p99_ms"] = *l.target_p99_ms;
      if (l.target_max_ms) lj["target_max_ms"] = *l.target_max_ms;
      s["latencies"].push_back(lj);
    }
    auto stats = [](const ProcessStats& p) {
      return nlohmann::json{
          {"peak_rss_mb", p.peak_rss_mb}, {"cpu_seconds", p.cpu_seconds}, {"rss_mb", p.rss_mb}};
    };
    if (r.master) s["master"] = stats(*r.master);
    if (r.worker) s["worker"] = stats(*r.worker);
    s["notes"] = r.notes;
    j["scenarios"].push_back(s);
  }
  return j.dump(2) + "\n";
}

std::string RenderSvg(const std::vector<ScenarioResult>& results) {
  // One row per latency series: p50, p99 and max as nested bars on a log scale from 0.1 ms to
  // 10 s, the target as a red tick.
  struct Row {
    std::string label;
    const LatencySeries* series;
  };
  std::vector<Row> rows;
  for (const ScenarioResult& r : results) {
    for (const LatencySeries& l : r.latencies) rows.push_back({r.scenario + ": " + l.name, &l});
  }
  const double left = 360, width = 560, row_h = 26, top = 50;
  const double lo = std::log10(0.1), hi = std::log10(10000);
  auto x = [&](double ms) {
    double v = std::clamp(std::log10(std::max(ms, 0.1)), lo, hi);
    return left + (v - lo) / (hi - lo) * width;
  };
  double height = top + row_h * static_cast<double>(rows.size()) + 40;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"10\" y=\"20\" font-size=\"15\">zcluster-bench latency (ms, log scale): "
      "p50 dark, p99 mid, max light; red tick = target</text>\n",
      left + width + 40, height);
  for (double ms : {0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0}) {
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.0f}\" y2=\"{2:.0f}\" "
        "stroke=\"#ddd\"/><text x=\"{0:.1f}\" y=\"{3:.0f}\" "
        "text-anchor=\"middle\">{4}</text>\n",
        x(ms), top - 8, height - 30, height - 14, Number(ms));
  }
  double y = top;
  for (const Row& row : rows) {
    const LatencySeries& l = *row.series;
    svg += fmt::format("<text x=\"{:.0f}\" y=\"{:.0f}\" text-anchor=\"end\">{}</text>\n", left - 8,
                       y + 15, Escape(row.label));
    const char* colours[] = {"#c6dbef", "#6baed6", "#08519c"};
    double values[] = {l.Max(), l.Percentile(99), l.Percentile(50)};
    for (int i = 0; i < 3; ++i) {
      svg += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.0f}\" width=\"{:.1f}\" height=\"18\" "
          "fill=\"{}\"><title>{} {} ms</title></rect>\n",
          left, y + 2, x(values[i]) - left, colours[i],
          i == 0   ? "max"
          : i == 1 ? "p99"
                   : "p50",
          Number(values[i]));
    }
    std::optional<double> target = l.target_p99_ms ? l.target_p99_ms : l.target_max_ms;
    if (target) {
      svg += fmt::format(
          "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.0f}\" y2=\"{2:.0f}\" "
          "stroke=\"red\" stroke-width=\"2\"/>\n",
          x(*target), y, y + 22);
    }
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.0f}\" fill=\"#333\">{}</text>\n", x(l.Max()) + 4,
                       y + 15, Number(l.Percentile(99)));
    y += row_h;
  }
  return svg + "</svg>\n";
}

std::string DescribeMachine() {
  std::string cpu = "unknown CPU";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  double mem_gib = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) *
                   static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024 * 1024);
  utsname u{};
  ::uname(&u);
  return fmt::format("{} cores, {}, {:.0f} GiB, {} {}", ::sysconf(_SC_NPROCESSORS_ONLN), cpu,
                     mem_gib, u.sysname, u.release);
}

}  // namespace zcluster::bench
