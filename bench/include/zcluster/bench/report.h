// What a scenario measured, and how it is shown: a table on stdout, JSON for tools, and an SVG of
// the latency percentiles for people.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "zcluster/bench/deployment.h"

namespace zcluster::bench {

// One number: a rate or a duration, with the target when there is one.
struct Figure {
  Figure(std::string n, double v, std::string u)
      : name(std::move(n)), value(v), unit(std::move(u)) {}
  Figure& Target(double goal, bool higher) {
    target = goal;
    higher_is_better = higher;
    return *this;
  }
  Figure& Ratio(double r, std::string of) {
    ratio = r;
    ratio_of = std::move(of);
    return *this;
  }
  bool Met() const { return !target || (higher_is_better ? value >= *target : value <= *target); }

  std::string name;
  double value = 0;
  std::string unit;              // "records/s", "s", "ms", "MB"
  std::optional<double> target;  // the goal on the reference machine
  bool higher_is_better = true;  // rates: yes; durations: no
  std::optional<double> ratio;   // to the matching raw figure, when there is one
  std::string ratio_of;          // which raw figure
};

// Latency samples in milliseconds; summarised as percentiles.
struct LatencySeries {
  std::string name;
  std::vector<double> samples_ms;
  std::optional<double> target_p99_ms;
  std::optional<double> target_max_ms;
  double Percentile(double p) const;  // 0 when empty
  double Max() const { return Percentile(100); }
};

struct ScenarioResult {
  std::string scenario;
  std::vector<std::pair<std::string, std::string>> parameters;
  std::vector<Figure> figures;
  std::vector<LatencySeries> latencies;
  std::optional<ProcessStats> master, worker;  // of one worker, when workers are processes
  double wall_seconds = 0;
  std::vector<std::string> notes;  // what limited it, what was checked
};

std::string RenderTable(const std::vector<ScenarioResult>& results);
std::string RenderJson(const std::vector<ScenarioResult>& results, const std::string& command,
                       const std::string& machine);
std::string RenderSvg(const std::vector<ScenarioResult>& results);

// "2 cores, Intel ..., 24 GiB, Linux 6.1": what the figures were measured on.
std::string DescribeMachine();

}  // namespace zcluster::bench
