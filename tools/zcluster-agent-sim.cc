// zcluster-agent-sim: simulated agents reporting to a worker's agent port.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>

#include "control_render.h"
#include "zcluster/agent_sim/agent_simulator.h"
#include "zcluster/bus/curve_keys.h"

using namespace zcluster;

int main(int argc, char** argv) {
  CLI::App app{"zcluster-agent-sim: simulated agents reporting to a zcluster worker"};
  std::string worker, server_key, keys_path, truth_path;
  nodes::AgentSimOptions o;
  app.add_option("--worker", worker, "HOST:PORT of the worker's agent port")->required();
  app.add_option("--server-key", server_key, "the worker's public key: a .pub file or Z85 text")
      ->required();
  app.add_option("--keys", keys_path, "client.keys holding the agents")->required();
  app.add_option("--count", o.count, "agents to simulate (0: all in client.keys)");
  app.add_option("--rate", o.rate, "reports per second in all (0: as fast as acks allow)");
  app.add_option("--churn", o.churn, "chance a report changes labels or checksums")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--duration", o.duration, "seconds of reporting after one round (0: one round)");
  app.add_option("--connections", o.connections, "sockets the agents share")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--relay", o.relay,
                 "reports per message: 1 as agents send them, up to 256 as a relay forwards them")
      ->check(CLI::Range(std::size_t{1}, schemas::kMaxRelayedReports))
      ->capture_default_str();
  app.add_option("--truth", truth_path, "write the last acknowledged state of each agent as JSON");
  CLI11_PARSE(app, argc, argv);

  auto fail = [](const Status& s) {
    std::fprintf(stderr, "zcluster-agent-sim: %s\n", s.message().c_str());
    return 1;
  };
  o.endpoint = "tcp://" + worker;
  if (bus::IsValidZ85Key(server_key)) {
    o.server_public_z85 = server_key;
  } else {
    Result<std::string> key = bus::ReadPublicKeyFile(server_key);
    if (!key.ok()) return fail(key.status());
    o.server_public_z85 = *key;
  }
  Result<nodes::ClientKeys> keys = nodes::ClientKeys::Load(keys_path);
  if (!keys.ok()) return fail(keys.status());
  Result<nodes::AgentSimResult> result = nodes::RunAgentSimulation(*keys, o);
  if (!result.ok()) return fail(result.status());
  std::printf(
      "agents %zu, reports sent %llu, acknowledged %llu, errors %llu, lost %llu, keepalive-only "
      "%llu, states asked for %llu\n",
      result->truth.size(), static_cast<unsigned long long>(result->sent),
      static_cast<unsigned long long>(result->acked),
      static_cast<unsigned long long>(result->errors),
      static_cast<unsigned long long>(result->lost),
      static_cast<unsigned long long>(result->keepalive_only),
      static_cast<unsigned long long>(result->asked));
  if (!truth_path.empty()) {
    std::ofstream out(truth_path, std::ios::trunc);
    schemas::AgentList truth;  // in the -a --json shape
    for (const auto& [id, state] : result->truth) truth.agents.push_back({id, state, "", {}});
    out << nodes::RenderAgentsJson(truth);
    if (!out) return fail(Status::Unavailable("cannot write '" + truth_path + "'"));
  }
  return result->errors == 0 ? 0 : 2;
}
