// Prints the example encoding of every documented message, in SCHEMAS.md's "```frames TYPE"
// block format. scripts/update-schema-examples.sh writes them into SCHEMAS.md; the doc test
// then checks the page against the code.
#include <cstdio>

#include "zcluster/schemas/messages.h"

using namespace zcluster;
using namespace zcluster::schemas;

namespace {

void Print(const Message& m) {
  Frames f = Encode(m);
  std::printf("```frames %s\n", std::string(TypeOf(m)).c_str());
  for (std::size_t i = 0; i < f.size(); ++i) {
    std::printf("frame %zu:", i);
    for (unsigned char c : f[i]) std::printf(" %02x", c);
    std::printf("\n");
  }
  std::printf("```\n");
}

NodeStats SampleStats() {
  NodeStats s;
  s.name = "worker-1";
  s.type = "worker";
  s.software = "zcluster 0.1.0";
  s.time = 1764000060;
  s.uptime = 3600;
  s.cpu_seconds = 12.5;
  s.rss_bytes = 41943040;
  s.groups_seq = 42;
  s.files_seq = 17;
  s.agents_active = 2;
  s.reports_accepted = 120;
  s.reports_bad_mac = 1;
  s.traffic = {{"master", "keepalive", true, 360, 25200},
               {"agents", "agent_report", false, 120, 48000}};
  s.events = {{7, 1764000001.25, "connected", "cluster", "tcp://10.0.0.1:1516", ""}};
  s.handshake_failures = {{"10.0.0.9", 3}};
  return s;
}

AgentState SampleState() {
  AgentState s;
  s.name = "web-1";
  s.ip = "10.0.0.7";
  s.os = {"Ubuntu", "22.04.4 LTS", "22", "04", "jammy", "ubuntu", "", "Linux 5.15.0", "x86_64"};
  s.version = "Wazuh v4.14.0";
  s.config_sum = "ab73";
  s.merged_sum = "4a87";
  s.labels = {{"env", "prod"}};
  s.status = AgentStatus::kActive;
  s.last_keepalive = 1764000000;
  return s;
}

}  // namespace

int main() {
  Print(Hello{"wazuh", "worker-1", 1, "zcluster 0.1.0"});
  Print(Welcome{"wazuh", "master", 1, "zcluster 0.1.0", 20});
  Print(Keepalive{7, 42, 0x1234abcd5678ef90, 17, 0x0f1e2d3c4b5a6978, 1764000000.5, 1764000000.75, 2,
                  1, 0, "", 1764000000, 1764000000.25, 2000});
  Print(KeepaliveAck{7, false});
  Print(Goodbye{"stopping"});
  Print(ErrorReply{Code::kFailedPrecondition,
                   "cluster name 'x' does not match the master's 'wazuh'", "hello"});
  Print(NodesQuery{});
  Print(NodeList{{{"master", "master", "0.1.0", "10.0.0.1:1516", 1764000000.0},
                  {"worker-1", "worker", "0.1.0", "10.0.0.2", 1764000005.0}}});
  AgentState s = SampleState();
  Print(AgentReport{"001", 7, EncodeAgentState(s), std::string(32, '\x5a'), std::nullopt});
  Print(AgentReportAck{"001", 7, {"default"}});
  AgentState brief;
  brief.name = "web-2";
  brief.status = AgentStatus::kActive;
  brief.last_keepalive = 1764000060;
  Print(AgentReports{{
      AgentReport{"002", 9, EncodeAgentState(brief), std::string(32, '\x5a'), std::nullopt},
      AgentReport{"004", 12, "", std::string(32, '\x5a'), 1764000070},
  }});
  Print(
      AgentReportsAck{{AgentReportAck{"002", 9, {"default"}}},
                      {RefusedReport{"003", 4, Code::kPermissionDenied,
                                     "replayed or stale report from agent 003 (counter 4 <= 4)"}}});
  AgentState k;
  k.last_keepalive = 1764000060;
  Print(AgentInfoBatch{12, 0, {AgentUpdate{"001", true, s, 41}, AgentUpdate{"002", false, k, 7}}});
  Print(AgentInfoAck{12, {"002"}, {"003"}});
  Print(AgentsQuery{});
  Print(AgentsQuery{{"001", "002"}});
  Print(AgentList{{AgentRecord{"001", s, "worker-1", {"default", "web"}, 41}}});
  Print(AgentAdd{"web-2", "any", {"web"}});
  Print(AgentRemove{"002"});
  Print(AgentEntry{"003", "web-2", "any",
                   "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"});
  Print(HealthQuery{});
  Print(StatusQuery{});
  Print(NodeStatus{"worker-1", "worker", 42, 17, true, 0, 2000, 3});
  Print(Health{{WorkerHealth{"worker-1",
                             1764000060,
                             1764000000,
                             1764000000.25,
                             2000,
                             1,
                             0,
                             42,
                             42,
                             true,
                             17,
                             17,
                             true,
                             1764000000.5,
                             1764000000.75,
                             2,
                             1,
                             0,
                             "store: write: IO error: No space left on device",
                             "0.1.0",
                             "10.0.0.2",
                             1999}},
               "",
               "master",
               "0.1.0",
               "10.0.0.1",
               {"worker-2"}});
  Print(GroupsDelta{{{41, "001", {"default", "web"}}, {42, "002", {}}}});
  Print(StreamHeartbeat{"groups", 42});
  Print(GroupsSyncRequest{40});
  Print(GroupsSync{42, false, {{41, "001", {"default", "web"}}, {42, "002", {}}}, {}});
  Print(GroupsSync{42, true, {}, {{"001", {"default", "web"}}, {"003", {"default"}}}});
  Print(GroupAssign{{"001"}, {"web"}, false});
  Print(GroupUnassign{{"001"}, {"web"}});
  Print(GroupsChanged{43, 1});
  Print(GroupTableQuery{});
  Print(GroupTable{42, {{"001", {"default", "web"}}}, {"default", "web"}});
  const std::string hash(64, 'a');
  FileEntry rule{"etc/rules/local_rules.xml", hash, 1024, 0660};
  // The rule's content, zstd-compressed, rides with its change (small files do).
  const std::string z("\x28\xb5\x2f\xfd\x20\x02\x11\x00\x00\x6f\x6b", 11);
  Print(FilesDelta{{{17, false, rule, z}, {18, true, {"etc/shared/web/old.conf", "", 0, 0}, ""}}});
  Print(FilesSyncRequest{16});
  Print(FilesSync{18,
                  false,
                  {{17, false, rule, ""}, {18, true, {"etc/shared/web/old.conf", "", 0, 0}, ""}},
                  {}});
  Print(FilesSync{18, true, {}, {rule}});
  Print(FileFetch{{{"etc/rules/local_rules.xml", hash, 0, 1048576}}});
  Print(FileData{{{"etc/rules/local_rules.xml", hash, 0, 1024, false,
                   std::string("\x28\xb5\x2f\xfd\x20\x02\x11\x00\x00\x6f\x6b", 11), 2}}});
  Print(FileTableQuery{});
  Print(FileTable{18, {rule}});
  Print(SampleStats());
  Print(MonitorQuery{});
  NodeStats seen = SampleStats();
  seen.state = "up";
  seen.groups_lag = 1;
  seen.last_keepalive = 1764000059.5;
  Print(ClusterStats{"wazuh", "master", kProtocolVersion, {seen}});
  return 0;
}
