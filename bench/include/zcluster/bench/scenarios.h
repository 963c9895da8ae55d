// The bench scenarios. Each starts what it needs (real zclusterd processes, or in-process clients
// where a thousand are needed), drives load, waits for convergence with a bound, checks that the
// result is right (a fast wrong answer is a failure), and reports figures.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "zcluster/bench/report.h"

namespace zcluster::bench {

struct BenchOptions {
  std::string tools_dir;  // where zclusterd is
  bool smoke = false;     // tiny sizes: the test suite's run
  bool keep = false;      // leave each deployment's folder (homes, logs) behind
  // Sizes; 0 keeps the scenario's default (the target sizes, or the smoke sizes).
  std::size_t workers = 0;
  std::size_t agents = 0;   // agents per worker (agent-info), or in all (qa)
  std::size_t changes = 0;  // group assignment changes
  std::size_t files = 0;
  std::size_t file_bytes = 0;
  std::size_t samples = 0;  // latency samples
  double duration = 0;      // seconds of load (agent-info lag, qa)
  double rate = 0;          // agent reports per second in all (scale)
  std::size_t relay = 1;    // reports per message from the simulated agents (scale)
  std::string observe;      // "monitor" or "dump": watch the master meanwhile (Deployment::Observe)
  std::function<void(const std::string&)> progress;  // one line of progress
};

// This machine's limits with no cluster logic, to which the other scenarios compare.
struct RawFigures {
  double report_msgs_per_s = 0;  // CURVE DEALER→ROUTER, agent-report-sized messages
  double batch_mb_per_s = 0;     // CURVE DEALER→ROUTER, agent-info-batch-sized messages
  double changes_per_s = 0;      // CURVE PUB→SUB, group changes delivered to W subscribers
  std::size_t subscribers = 0;
  double pipeline_records_per_s = 0;  // msgpack parse in place + RocksDB synced WriteBatch
  double seen_rows_per_s = 0;         // RocksDB alone: small per-agent rows, sorted synced groups
  double handshakes_per_s = 0;        // CURVE DEALER connects to one ROUTER, first message through
};

Result<ScenarioResult> RunRaw(const BenchOptions& options, RawFigures* figures);
Result<ScenarioResult> RunAgentInfo(const BenchOptions& options, const RawFigures& raw);
Result<ScenarioResult> RunGroups(const BenchOptions& options, const RawFigures& raw);
Result<ScenarioResult> RunFiles(const BenchOptions& options, const RawFigures& raw);
// Keepalive round trips to the master while a fresh worker syncs and every agent is listed.
Result<ScenarioResult> RunLoop(const BenchOptions& options, const RawFigures& raw);
Result<ScenarioResult> RunConnect(const BenchOptions& options, const RawFigures& raw);
Result<ScenarioResult> RunQa(const BenchOptions& options, const RawFigures& raw);
// Ten minutes of churn on every flow with a worker restarted every minute: memory and descriptors
// over time. Not part of "all": it is a run of its own.
// A million agents reporting keepalives at Wazuh's pace: what the cluster sustains, and what
// it costs in CPU and memory per report.
Result<ScenarioResult> RunScale(const BenchOptions& options, const RawFigures& raw);
Result<ScenarioResult> RunSoak(const BenchOptions& options, const RawFigures& raw);

}  // namespace zcluster::bench
