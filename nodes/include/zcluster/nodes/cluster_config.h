// The <cluster> block of an ossec.conf-format file: Wazuh's elements with Wazuh's validation
// rules, plus zcluster's extensions. Every element, its unit and its default is listed in the
// README ("Configuration"); keep the two in step.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zcluster/schemas/status.h"

namespace zcluster::nodes {

enum class NodeType { kMaster, kWorker };
std::string_view NodeTypeName(NodeType type);

// <curve>: per-node key files (zcluster-keygen output). Relative paths are taken from the folder
// of the config file.
struct CurveFiles {
  std::string secret_key;         // this node's secret key (mode 0600)
  std::string public_key;         // this node's public key
  std::string master_public_key;  // workers: the master's public key
  std::string authorized_keys;    // master: folder of NODE_NAME.pub, one per allowed worker
};

// <intervals>, in seconds (fractions allowed), named as in Wazuh's cluster.json.
struct Intervals {
  double keep_alive = 5;                           // worker → master keepalive period
  double max_allowed_time_without_keepalive = 15;  // master drops a silent worker after this
  double agents_disconnection_time = 600;          // worker marks a silent agent disconnected
  double local_integrity = 5;  // master rescans its files this often (inotify acts at once)
  double integrity_check = 5;  // worker rescans its copy this often and repairs drift
};

struct ClusterConfig {
  std::string name = "wazuh";        // <name>: cluster name; hello must match it
  std::string node_name = "node01";  // <node_name>
  NodeType node_type = NodeType::kMaster;
  std::string key;            // <key>: 32 alphanumerics; required without <curve>
  std::uint16_t port = 1516;  // <port>: master's ROUTER port (1025..65534; 0: any free port)
  // <stream_port>: master's PUB port; absent, <port>+1 (and any free port with <port>0).
  std::optional<std::uint16_t> stream_port;
  std::string bind_addr = "0.0.0.0";  // <bind_addr>: master's listen address
  std::vector<std::string> nodes;     // <nodes><node>: the master's address (workers use the first)
  bool hidden = false;                // <hidden>
  // <ossec_config><logging><log_format>: plain (cluster.log), json (cluster.json, one object per
  // line) or "plain,json" for both, as in Wazuh's own <logging> block.
  bool log_plain = true;
  bool log_json = false;
  bool disabled = false;            // <disabled>: yes ends the parse; nothing else is read
  std::string home = "/var/ossec";  // <home>: holds etc/, logs/, queue/, var/
  std::uint16_t agent_port = 1514;  // <agent_port>: worker's port for agents; 0: any free port
  int pub_hwm = 1000;               // <tuning><pub_hwm>: messages queued per subscriber
  int sub_hwm = 1000;               // <tuning><sub_hwm>: messages a worker queues unread
  int delta_batch = 5000;           // <tuning><delta_batch>: changes per published delta
  // <tuning><connections_per_address>: TCP connections one address may hold on the master's ports
  // at once, handshaken or not (a worker holds two; every worker behind one NAT shares the
  // count). 0: no cap, only the descriptor budget.
  int connections_per_address = 256;
  // <tuning><agent_connections_per_address>: the same on a worker's agent port. 0 (the default):
  // no cap, since a site's agents may all reach the worker from one NAT address.
  int agent_connections_per_address = 0;
  // <tuning><agent_reports_per_second>: reports one agent may have accepted per second on a
  // worker; the rest are refused and counted (rate_limited). 0: no limit. A Wazuh agent reports
  // every 10 s.
  int agent_reports_per_second = 100;
  std::string reload_command;  // <reload_command>: worker, after rules/decoders/lists change
  // <sync_files>: more paths to keep identical, beside Wazuh's set (see FileSet::Default):
  // <folder mode="0660" reload="no">etc/extra</folder>, <file mode="0640">etc/x.conf</file>.
  struct ExtraSync {
    std::string path;
    bool folder = true;
    std::uint32_t mode = 0660;
    bool reload = false;
  };
  std::vector<ExtraSync> sync_files;
  std::optional<CurveFiles> curve;  // absent: keys derived from <key> (compatibility mode)
  // <monitor><metrics_bind>IPv4:PORT</metrics_bind>: the master serves Prometheus metrics at
  // http://IPv4:PORT/metrics (port 0: any free port). Empty: off.
  std::string metrics_host;
  std::optional<std::uint16_t> metrics_port;
  // <monitor><bind>IPv4:PORT</bind>: the monitor endpoint is also served on TCP, with CURVE, to
  // the admin keys of <monitor><authorized_keys> (a folder of NAME.pub) only. Empty: local only.
  std::string monitor_host;
  std::optional<std::uint16_t> monitor_port;
  std::string monitor_authorized_keys;
  // <admin><bind>IPv4:PORT</bind>: the master also answers control requests on TCP, with CURVE,
  // to the keys of <admin><authorized_keys>: a folder whose read/NAME.pub keys may ask (-l, -a,
  // -i, tables) and whose admin/NAME.pub keys may also change agents and groups. Master only.
  std::string admin_host;
  std::optional<std::uint16_t> admin_port;
  std::string admin_authorized_keys;
  Intervals intervals;

  std::string log_path() const { return home + "/logs/cluster.log"; }
  std::string json_log_path() const { return home + "/logs/cluster.json"; }
  std::string control_path() const { return home + "/queue/cluster/control.sock"; }
  std::string monitor_path() const { return home + "/queue/cluster/monitor.sock"; }
  // tcp://HOST:PORT of the TCP monitor endpoint (with <monitor><bind>).
  std::string monitor_endpoint() const;
  // tcp://HOST:PORT of the remote administration endpoint (with <admin><bind>).
  std::string admin_endpoint() const;
  std::string tap_path() const { return home + "/queue/cluster/tap.sock"; }
  std::string db_path() const { return home + "/var/db/cluster"; }
  std::string pid_path() const { return home + "/var/run/zclusterd.pid"; }
  std::string client_keys_path() const { return home + "/etc/client.keys"; }
  std::uint16_t stream_port_or_next() const {
    if (stream_port) return *stream_port;
    return port == 0 ? 0 : static_cast<std::uint16_t>(port + 1);
  }
  // tcp://HOST:STREAM_PORT: the master's PUB (bind) or the worker's SUB (connect).
  std::string stream_endpoint() const;
  // tcp://HOST:PORT of the worker's agent port.
  std::string agent_endpoint() const;
  // tcp://HOST:PORT the master binds (master) or the worker connects to (worker).
  std::string master_endpoint() const;

  // What the file holds that zcluster reads but does not use as written (Wazuh's deprecated or
  // foreign elements): logged as warnings at start and printed by -t.
  std::vector<std::string> warnings;
};

// Wazuh's debug level for the cluster daemon, `wazuh_clusterd.debug=N` (0, 1 or 2), from
// <home>/etc/local_internal_options.conf, else <home>/etc/internal_options.conf; 0 when neither
// sets it. Read at start and on SIGHUP: 1 or more turns DEBUG lines on.
int ClusterDebugLevel(const std::string& home);

// Parses ossec.conf text. `base_dir` resolves relative key paths; `source` (the file's path) goes
// into XML syntax errors. Errors are one line naming the element, and its line where the error is
// the element itself: "config: <cluster><port> must be between 1025 and 65534, got '80'",
// "config: <cluster><port> is given twice (line 9); give it once".
Result<ClusterConfig> ParseClusterConfig(std::string_view xml, const std::string& base_dir,
                                         std::string_view source = "");
Result<ClusterConfig> LoadClusterConfig(const std::string& path);

}  // namespace zcluster::nodes
