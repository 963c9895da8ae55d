#include "zcluster/bench/report.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace zcluster::bench;

TEST_CASE("latency percentiles are nearest-rank over the samples", "[bench]") {
  LatencySeries l{"x", {}, std::nullopt, std::nullopt};
  CHECK(l.Percentile(99) == 0);
  for (int i = 100; i >= 1; --i) l.samples_ms.push_back(i);
  CHECK(l.Percentile(50) == 50);
  CHECK(l.Percentile(99) == 99);
  CHECK(l.Max() == 100);
  l.samples_ms = {7};
  CHECK(l.Percentile(1) == 7);
  CHECK(l.Percentile(99) == 7);
}

TEST_CASE("a figure meets its target in the right direction", "[bench]") {
  CHECK(Figure("rate", 10, "records/s").Target(5, true).Met());
  CHECK_FALSE(Figure("rate", 4, "records/s").Target(5, true).Met());
  CHECK(Figure("time", 0.5, "s").Target(1, false).Met());
  CHECK_FALSE(Figure("time", 2, "s").Target(1, false).Met());
  CHECK(Figure("untargeted", 0, "s").Met());
}

TEST_CASE("the JSON and the SVG carry every scenario's figures", "[bench]") {
  ScenarioResult r;
  r.scenario = "groups";
  r.parameters = {{"workers", "16"}};
  r.figures.push_back(Figure("converged", 1.5, "s").Target(2, false));
  r.figures.push_back(Figure("delivered", 1e6, "changes/s").Ratio(0.25, "CURVE PUB->SUB"));
  r.latencies.push_back({"one change <all>", {1, 2, 3}, 20.0, std::nullopt});
  r.master = ProcessStats{42.5, 1.25};
  nlohmann::json j = nlohmann::json::parse(RenderJson({r}, "zcluster-bench groups", "test box"));
  CHECK(j["command"] == "zcluster-bench groups");
  const auto& s = j["scenarios"][0];
  CHECK(s["scenario"] == "groups");
  CHECK(s["parameters"]["workers"] == "16");
  CHECK(s["figures"][0]["met"] == true);
  CHECK(s["figures"][1]["ratio_to_raw"] == 0.25);
  CHECK(s["latencies"][0]["p99_ms"] == 3);
  CHECK(s["latencies"][0]["n"] == 3);
  CHECK(s["master"]["peak_rss_mb"] == 42.5);
  std::string svg = RenderSvg({r});
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("groups: one change &lt;all&gt;") != std::string::npos);  // escaped
  CHECK(svg.find("stroke=\"red\"") != std::string::npos);                  // the target
  std::string table = RenderTable({r});
  CHECK(table.find("target <=2 met") != std::string::npos);
  CHECK(table.find("0.25 of raw CURVE PUB->SUB") != std::string::npos);
}
