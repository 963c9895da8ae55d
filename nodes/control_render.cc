#include "zcluster/nodes/control_render.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <nlohmann/json.hpp>

namespace zcluster::nodes {
namespace {

std::string UtcTime(double unix_seconds, const char* format) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

schemas::NodeList MasterFirst(schemas::NodeList list) {
  std::stable_sort(list.nodes.begin(), list.nodes.end(),
                   [](const schemas::NodeInfo& a, const schemas::NodeInfo& b) {
                     if ((a.type == "master") != (b.type == "master")) return a.type == "master";
                     return a.name < b.name;
                   });
  return list;
}

}  // namespace

std::string RenderNodesTable(const schemas::NodeList& unsorted) {
  schemas::NodeList list = MasterFirst(unsorted);
  std::vector<std::array<std::string, 5>> rows{
      {"NAME", "TYPE", "VERSION", "ADDRESS", "LAST-KEEPALIVE (UTC)"}};
  for (const schemas::NodeInfo& n : list.nodes) {
    rows.push_back({n.name, n.type, n.version, n.address,
                    UtcTime(n.last_keepalive, "%Y/%m/%d %H:%M:%S")});
  }
  std::array<std::size_t, 5> width{};
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      out += i + 1 < r.size() ? fmt::format("{:<{}}  ", r[i], width[i]) : r[i];
    }
    out += "\n";
  }
  return out;
}

std::string RenderNodesJson(const schemas::NodeList& unsorted) {
  schemas::NodeList list = MasterFirst(unsorted);
  nlohmann::json nodes = nlohmann::json::array();
  for (const schemas::NodeInfo& n : list.nodes) {
    nodes.push_back({{"name", n.name},
                     {"type", n.type},
                     {"version", n.version},
                     {"address", n.address},
                     {"last_keepalive", UtcTime(n.last_keepalive, "%Y-%m-%dT%H:%M:%SZ")}});
  }
  return nlohmann::json{{"nodes", nodes}}.dump() + "\n";
}

}  // namespace zcluster::nodes
