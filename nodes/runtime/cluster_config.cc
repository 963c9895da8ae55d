#include "zcluster/nodes/cluster_config.h"

#include <arpa/inet.h>

#include <fmt/format.h>
#include <pugixml.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "zcluster/schemas/files.h"
#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {
namespace {

Status Bad(std::string_view element, std::string_view why) {
  return Status::InvalidArgument("config: <cluster>" + std::string(element) + " " +
                                 std::string(why));
}

std::string Trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string Text(const pugi::xml_node& n) { return Trim(n.child_value()); }

// A TCP port number, 0 included (the kernel's choice); nullopt for anything else.
std::optional<int> ParsePort(const std::string& v) {
  int port = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), port);
  if (ec != std::errc() || end != v.data() + v.size() || port < 0 || port > 65535) {
    return std::nullopt;
  }
  return port;
}

Status ParseBool(const pugi::xml_node& n, std::string_view element, bool* out) {
  std::string v = Text(n);
  if (v == "yes")
    *out = true;
  else if (v == "no")
    *out = false;
  else
    return Bad(element, "must be 'yes' or 'no', got '" + v + "'");
  return Status::Ok();
}

constexpr double kMinKeepAlive = 0.1;

Status ParseSeconds(const pugi::xml_node& n, std::string_view element, double* out) {
  std::string v = Text(n);
  double d = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc() || end != v.data() + v.size() || !std::isfinite(d) || d <= 0 || d > 86400) {
    return Bad(element, "must be a number of seconds above 0 and at most 86400, got '" + v + "'");
  }
  *out = d;
  return Status::Ok();
}

std::string Resolve(const std::string& path, const std::string& base_dir) {
  if (path.empty() || path.front() == '/') return path;
  return base_dir + "/" + path;
}

// The text being parsed, so that an element's error can name its line. Set by ParseBlock for
// the length of one parse on this thread.
thread_local std::string_view g_source;

// The 1-based line of `n` in g_source (0 when unknown).
int LineOf(const pugi::xml_node& n) {
  const std::ptrdiff_t at = n.offset_debug();
  if (at < 0 || static_cast<std::size_t>(at) > g_source.size()) return 0;
  return 1 + static_cast<int>(std::count(g_source.begin(), g_source.begin() + at, '\n'));
}

std::string AtLine(const pugi::xml_node& n) {
  const int line = LineOf(n);
  return line > 0 ? fmt::format(" (line {})", line) : "";
}

// Edits that turn `a` into `b` (Levenshtein), for "did you mean".
std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Refuses an element `parent` may not hold, with the nearest allowed name when one is close, and
// an element given twice, which would otherwise be read first-wins without a word. Elements in
// `repeatable` may repeat.
Status CheckOnly(const pugi::xml_node& parent, std::string_view where,
                 std::initializer_list<std::string_view> allowed,
                 std::initializer_list<std::string_view> repeatable = {}) {
  std::set<std::string> seen;
  for (const pugi::xml_node& c : parent.children()) {
    if (c.type() != pugi::node_element) continue;
    const std::string name = c.name();
    bool known = false;
    std::string_view nearest;
    std::size_t nearest_distance = 3;  // suggest only within two edits
    for (std::string_view a : allowed) {
      known = known || a == name;
      const std::size_t d = EditDistance(name, a);
      if (d < nearest_distance) {
        nearest = a;
        nearest_distance = d;
      }
    }
    if (!known) {
      return Status::InvalidArgument(
          "config: unknown element <cluster>" + std::string(where) + "<" + name + ">" + AtLine(c) +
          (nearest.empty() ? "" : "; did you mean <" + std::string(nearest) + ">?"));
    }
    const bool repeats = std::find(repeatable.begin(), repeatable.end(), name) != repeatable.end();
    if (!repeats && !seen.insert(name).second) {
      return Status::InvalidArgument("config: <cluster>" + std::string(where) + "<" + name +
                                     "> is given twice" + AtLine(c) + "; give it once");
    }
  }
  return Status::Ok();
}

// IPv4:PORT, as in "127.0.0.1:9516" (port 0: any free port).
Status ParseHostPort(const std::string& v, std::string_view element, std::string_view example_port,
                     std::string* host, std::optional<std::uint16_t>* port) {
  auto colon = v.rfind(':');
  std::optional<int> number =
      colon == std::string::npos ? std::nullopt : ParsePort(v.substr(colon + 1));
  std::string address = colon == std::string::npos ? "" : v.substr(0, colon);
  in_addr addr{};
  if (!number || ::inet_pton(AF_INET, address.c_str(), &addr) != 1) {
    return Bad(element, "must be an IPv4 address and a port, like 127.0.0.1:" +
                            std::string(example_port) + ", got '" + v + "'");
  }
  *host = address;
  *port = static_cast<std::uint16_t>(*number);
  return Status::Ok();
}

Status ParseCurve(const pugi::xml_node& n, const std::string& base_dir, CurveFiles* out) {
  ZC_RETURN_IF_ERROR(CheckOnly(
      n, "<curve>", {"secret_key", "public_key", "master_public_key", "authorized_keys"}));
  out->secret_key = Resolve(Text(n.child("secret_key")), base_dir);
  out->public_key = Resolve(Text(n.child("public_key")), base_dir);
  out->master_public_key = Resolve(Text(n.child("master_public_key")), base_dir);
  out->authorized_keys = Resolve(Text(n.child("authorized_keys")), base_dir);
  return Status::Ok();
}

Status Validate(const ClusterConfig& c) {
  using schemas::IsValidName;
  if (!IsValidName(c.name)) {
    return Bad("<name>", "must be 1-64 of A-Z a-z 0-9 . - _, got '" + c.name + "'");
  }
  if (!IsValidName(c.node_name)) {
    return Bad("<node_name>", "must be 1-64 of A-Z a-z 0-9 . - _, got '" + c.node_name + "'");
  }
  if (!c.curve) {
    if (c.key.empty()) return Bad("<key>", "is required when <curve> is not given");
  }
  if (!c.key.empty()) {
    bool alnum = true;
    for (char ch : c.key) alnum = alnum && std::isalnum(static_cast<unsigned char>(ch));
    if (c.key.size() != 32 || !alnum) {
      return Bad("<key>", "must be 32 characters long and only have alphanumeric characters");
    }
  }
  static const std::set<std::string> kReserved = {"localhost", "NODE_IP", "0.0.0.0", "127.0.1.1"};
  for (const std::string& n : c.nodes) {
    if (kReserved.count(n)) return Bad("<nodes><node>", "has an invalid address: '" + n + "'");
    if (n.empty()) return Bad("<nodes><node>", "is empty");
  }
  if (c.node_type == NodeType::kWorker && c.nodes.empty()) {
    return Bad("<nodes><node>", "is required on a worker: the master's address");
  }
  if (c.home.empty() || c.home.front() != '/') {
    return Bad("<home>", "must be an absolute path, got '" + c.home + "'");
  }
  // sockaddr_un holds 107 path bytes; a longer control path would fail only at bind time.
  if (c.control_path().size() > 100) {
    return Bad("<home>", "is too long for the control socket path (" + c.control_path() + ")");
  }
  if (c.curve) {
    const CurveFiles& k = *c.curve;
    if (k.secret_key.empty()) return Bad("<curve><secret_key>", "is required");
    if (k.public_key.empty()) return Bad("<curve><public_key>", "is required");
    if (c.node_type == NodeType::kWorker && k.master_public_key.empty()) {
      return Bad("<curve><master_public_key>", "is required on a worker");
    }
    if (c.node_type == NodeType::kMaster && k.authorized_keys.empty()) {
      return Bad("<curve><authorized_keys>", "is required on a master");
    }
  }
  // The TCP monitor endpoint fails closed: it names its admins, and they need this node's
  // public key file (there is none in shared-key mode).
  if (c.monitor_port) {
    if (c.monitor_authorized_keys.empty()) {
      return Bad("<monitor><authorized_keys>", "is required with <monitor><bind>");
    }
    if (!c.curve)
      return Bad("<monitor><bind>", "needs <curve>: admins connect with its public key");
  } else if (!c.monitor_authorized_keys.empty()) {
    return Bad("<monitor><authorized_keys>", "has no use without <monitor><bind>");
  }
  // Remote administration is the master's, and fails closed like the monitor endpoint.
  if (c.admin_port) {
    if (c.node_type != NodeType::kMaster) {
      return Bad("<admin><bind>", "is the master's: a worker forwards -l, -a and -i to it");
    }
    if (c.admin_authorized_keys.empty()) {
      return Bad("<admin><authorized_keys>", "is required with <admin><bind>");
    }
    if (!c.curve) return Bad("<admin><bind>", "needs <curve>: admins connect with its public key");
  } else if (!c.admin_authorized_keys.empty()) {
    return Bad("<admin><authorized_keys>", "has no use without <admin><bind>");
  }
  // A worker connects to the master's ports, so it cannot leave them to the kernel.
  if (c.node_type == NodeType::kWorker && c.port == 0) {
    return Bad("<port>", "must name the master's port on a worker, got '0'");
  }
  if (c.node_type == NodeType::kWorker && c.stream_port_or_next() == 0) {
    return Bad("<stream_port>", "must name the master's stream port on a worker, got '0'");
  }
  if (c.port != 0 && c.stream_port_or_next() == c.port) {
    return Bad("<stream_port>", "must differ from <port>");
  }
  if (c.node_type == NodeType::kWorker && c.agent_port != 0 &&
      (c.agent_port == c.port || c.agent_port == c.stream_port_or_next())) {
    return Bad("<agent_port>", "must differ from <port> and <stream_port>");
  }
  // Ten a second is already a flood from a thousand workers, not a liveness check.
  if (c.intervals.keep_alive < kMinKeepAlive) {
    return Bad("<intervals><keep_alive>", fmt::format("must be at least {} seconds, got {}",
                                                      kMinKeepAlive, c.intervals.keep_alive));
  }
  // One late or lost keepalive must not drop a worker: the master waits for two at least.
  if (c.intervals.max_allowed_time_without_keepalive < 2 * c.intervals.keep_alive) {
    return Bad(
        "<intervals><max_allowed_time_without_keepalive>",
        fmt::format("must be at least twice <keep_alive> ({} s), got {}",
                    2 * c.intervals.keep_alive, c.intervals.max_allowed_time_without_keepalive));
  }
  return Status::Ok();
}

}  // namespace

std::string_view NodeTypeName(NodeType type) {
  return type == NodeType::kMaster ? "master" : "worker";
}

std::string ClusterConfig::master_endpoint() const {
  std::string host = node_type == NodeType::kMaster ? bind_addr : nodes.front();
  if (host == "0.0.0.0" || host == "any") host = "*";
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return "tcp://" + host + ":" + std::to_string(port);
}

std::string ClusterConfig::stream_endpoint() const {
  std::string endpoint = master_endpoint();
  return endpoint.substr(0, endpoint.rfind(':') + 1) + std::to_string(stream_port_or_next());
}

std::string ClusterConfig::admin_endpoint() const {
  return "tcp://" + admin_host + ":" + std::to_string(admin_port.value_or(0));
}

std::string ClusterConfig::monitor_endpoint() const {
  return "tcp://" + monitor_host + ":" + std::to_string(monitor_port.value_or(0));
}

std::string ClusterConfig::agent_endpoint() const {
  std::string host = bind_addr;
  if (host == "0.0.0.0" || host == "any") host = "*";
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return "tcp://" + host + ":" + std::to_string(agent_port);
}

namespace {

Result<ClusterConfig> ParseBlock(std::string_view xml, const std::string& base_dir,
                                 std::string_view source);

// Errors quote the value they refuse, and a value may hold a newline: the error must still be
// the one line that -t prints and the log writes.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Result<ClusterConfig> ParseClusterConfig(std::string_view xml, const std::string& base_dir,
                                         std::string_view source) {
  Result<ClusterConfig> config = ParseBlock(xml, base_dir, source);
  if (config.ok()) return config;
  return Status(config.status().code(), OneLine(config.status().message()));
}

namespace {

Result<ClusterConfig> ParseBlock(std::string_view xml, const std::string& base_dir,
                                 std::string_view source) {
  g_source = xml;
  struct Forget {
    ~Forget() { g_source = {}; }
  } forget;
  pugi::xml_document doc;
  // ossec.conf may hold several <ossec_config> roots, so parse it as a fragment.
  pugi::xml_parse_result parsed =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default | pugi::parse_fragment);
  if (!parsed) {
    const std::size_t at =
        std::min(static_cast<std::size_t>(std::max<std::ptrdiff_t>(parsed.offset, 0)), xml.size());
    const auto line =
        1 + std::count(xml.begin(), xml.begin() + static_cast<std::ptrdiff_t>(at), '\n');
    return Status::InvalidArgument(fmt::format("config: {}line {}: XML error: {}",
                                               source.empty() ? "" : std::string(source) + " ",
                                               line, parsed.description()));
  }
  pugi::xml_node block, logging;
  int blocks = 0;
  for (const pugi::xml_node& root : doc.children("ossec_config")) {
    for (const pugi::xml_node& c : root.children("cluster")) {
      block = c;
      ++blocks;
    }
    if (auto l = root.child("logging")) logging = l;
  }
  if (blocks == 0) return Status::InvalidArgument("config: no <ossec_config><cluster> block");
  if (blocks > 1) return Status::InvalidArgument("config: more than one <cluster> block");

  ClusterConfig c;
  if (auto f = logging.child("log_format")) {
    std::string v = Text(f);
    v.erase(std::remove(v.begin(), v.end(), ' '), v.end());
    if (v == "plain" || v == "json" || v == "plain,json" || v == "json,plain") {
      c.log_plain = v != "json";
      c.log_json = v != "plain";
    } else {
      return Status::InvalidArgument(
          "config: <logging><log_format> must be plain, json or plain,json, got '" + Text(f) + "'");
    }
  }
  // Wazuh ships its <cluster> block disabled, with an empty <key> and a placeholder node: a
  // disabled cluster is not checked any further, and the daemon exits 0 on it, as Wazuh's does.
  if (auto n = block.child("disabled")) {
    ZC_RETURN_IF_ERROR(ParseBool(n, "<disabled>", &c.disabled));
    if (c.disabled) return c;
  }
  ZC_RETURN_IF_ERROR(CheckOnly(
      block, "", {"name",           "node_name",  "node_type",  "key",         "port",
                  "bind_addr",      "nodes",      "hidden",     "disabled",    "home",
                  "curve",          "intervals",  "agent_port", "stream_port", "tuning",
                  "reload_command", "sync_files", "monitor",    "admin",       "haproxy_helper"}));
  if (block.child("haproxy_helper")) {
    c.warnings.push_back(
        "<haproxy_helper> is Wazuh's load-balancer helper; zcluster has none and ignores it");
  }
  if (auto n = block.child("name")) c.name = Text(n);
  if (auto n = block.child("node_name")) c.node_name = Text(n);
  if (auto n = block.child("node_type")) {
    std::string t = Text(n);
    if (t == "master") {
      c.node_type = NodeType::kMaster;
    } else if (t == "worker") {
      c.node_type = NodeType::kWorker;
    } else if (t == "client") {
      c.node_type = NodeType::kWorker;
      c.warnings.push_back("<node_type>client is deprecated (Wazuh 3.x); read as worker");
    } else {
      return Bad("<node_type>", "must be master or worker, got '" + t + "'");
    }
  }
  if (auto n = block.child("key")) c.key = Text(n);
  if (auto n = block.child("port")) {
    std::string v = Text(n);
    // Wazuh: "Port must be higher than 1024 and lower than 65535". 0 is ours: any free port.
    std::optional<int> port = ParsePort(v);
    if (!port || (*port != 0 && (*port <= 1024 || *port >= 65535))) {
      return Bad("<port>",
                 "must be higher than 1024 and lower than 65535 (or 0: any free port), "
                 "got '" +
                     v + "'");
    }
    c.port = static_cast<std::uint16_t>(*port);
  }
  if (auto n = block.child("stream_port")) {
    std::string v = Text(n);
    std::optional<int> port = ParsePort(v);
    if (!port) return Bad("<stream_port>", "must be between 0 and 65535, got '" + v + "'");
    c.stream_port = static_cast<std::uint16_t>(*port);
  }
  if (auto n = block.child("bind_addr")) c.bind_addr = Text(n);
  if (auto n = block.child("reload_command")) c.reload_command = Text(n);
  if (auto n = block.child("sync_files")) {
    ZC_RETURN_IF_ERROR(CheckOnly(n, "<sync_files>", {"folder", "file"}, {"folder", "file"}));
    for (const pugi::xml_node& e : n.children()) {
      if (e.type() != pugi::node_element) continue;
      ClusterConfig::ExtraSync x;
      x.path = Text(e);
      x.folder = std::string_view(e.name()) == "folder";
      std::string where = std::string("<sync_files><") + e.name() + ">";
      if (!schemas::IsSafeRelativePath(x.path) || x.path.rfind("etc/", 0) != 0) {
        return Bad(where, "must be a relative path under etc/, got '" + x.path + "'");
      }
      std::string mode = e.attribute("mode").as_string(x.folder ? "0660" : "0640");
      unsigned long m = 0;
      auto [end, ec] = std::from_chars(mode.data(), mode.data() + mode.size(), m, 8);
      if (ec != std::errc() || end != mode.data() + mode.size() || m > 0777) {
        return Bad(where, "mode must be octal permission bits like 0660, got '" + mode + "'");
      }
      x.mode = static_cast<std::uint32_t>(m);
      std::string reload = e.attribute("reload").as_string("no");
      if (reload != "yes" && reload != "no") return Bad(where, "reload must be yes or no");
      x.reload = reload == "yes";
      c.sync_files.push_back(std::move(x));
    }
  }
  if (auto n = block.child("monitor")) {
    ZC_RETURN_IF_ERROR(CheckOnly(n, "<monitor>", {"metrics_bind", "bind", "authorized_keys"}));
    if (auto m = n.child("metrics_bind")) {
      ZC_RETURN_IF_ERROR(ParseHostPort(Text(m), "<monitor><metrics_bind>", "9516", &c.metrics_host,
                                       &c.metrics_port));
    }
    if (auto m = n.child("bind")) {
      ZC_RETURN_IF_ERROR(
          ParseHostPort(Text(m), "<monitor><bind>", "1518", &c.monitor_host, &c.monitor_port));
    }
    c.monitor_authorized_keys = Resolve(Text(n.child("authorized_keys")), base_dir);
  }
  if (auto n = block.child("admin")) {
    ZC_RETURN_IF_ERROR(CheckOnly(n, "<admin>", {"bind", "authorized_keys"}));
    if (auto m = n.child("bind")) {
      ZC_RETURN_IF_ERROR(
          ParseHostPort(Text(m), "<admin><bind>", "1519", &c.admin_host, &c.admin_port));
    }
    c.admin_authorized_keys = Resolve(Text(n.child("authorized_keys")), base_dir);
  }
  if (auto n = block.child("agent_port")) {
    std::string v = Text(n);
    std::optional<int> port = ParsePort(v);
    if (!port) return Bad("<agent_port>", "must be between 0 and 65535, got '" + v + "'");
    c.agent_port = static_cast<std::uint16_t>(*port);
  }
  if (auto n = block.child("nodes")) {
    ZC_RETURN_IF_ERROR(CheckOnly(n, "<nodes>", {"node"}, {"node"}));
    for (const pugi::xml_node& node : n.children("node")) c.nodes.push_back(Text(node));
  }
  if (auto n = block.child("hidden")) ZC_RETURN_IF_ERROR(ParseBool(n, "<hidden>", &c.hidden));

  if (auto n = block.child("home")) {
    c.home = Text(n);
    while (c.home.size() > 1 && c.home.back() == '/') c.home.pop_back();
  }
  if (auto n = block.child("curve")) {
    CurveFiles files;
    ZC_RETURN_IF_ERROR(ParseCurve(n, base_dir, &files));
    c.curve = files;
  }
  if (auto n = block.child("tuning")) {
    ZC_RETURN_IF_ERROR(CheckOnly(n, "<tuning>",
                                 {"pub_hwm", "sub_hwm", "delta_batch", "connections_per_address",
                                  "agent_connections_per_address", "agent_reports_per_second"}));
    struct Tunable {
      const char* name;
      int* out;
      int min;
    };
    for (auto [name, out, min] :
         {Tunable{"pub_hwm", &c.pub_hwm, 1}, Tunable{"sub_hwm", &c.sub_hwm, 1},
          Tunable{"delta_batch", &c.delta_batch, 1},
          Tunable{"connections_per_address", &c.connections_per_address, 0},
          Tunable{"agent_connections_per_address", &c.agent_connections_per_address, 0},
          Tunable{"agent_reports_per_second", &c.agent_reports_per_second, 0}}) {
      if (auto k = n.child(name)) {
        std::string v = Text(k);
        int value = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
        if (ec != std::errc() || end != v.data() + v.size() || value < min || value > 10000000) {
          return Bad(std::string("<tuning><") + name + ">",
                     fmt::format("must be a number from {} to 10000000, got '{}'", min, v));
        }
        *out = value;
      }
    }
  }
  if (auto n = block.child("intervals")) {
    ZC_RETURN_IF_ERROR(
        CheckOnly(n, "<intervals>",
                  {"keep_alive", "max_allowed_time_without_keepalive", "agents_disconnection_time",
                   "local_integrity", "integrity_check"}));
    if (auto k = n.child("local_integrity")) {
      ZC_RETURN_IF_ERROR(
          ParseSeconds(k, "<intervals><local_integrity>", &c.intervals.local_integrity));
    }
    if (auto k = n.child("integrity_check")) {
      ZC_RETURN_IF_ERROR(
          ParseSeconds(k, "<intervals><integrity_check>", &c.intervals.integrity_check));
    }
    if (auto k = n.child("agents_disconnection_time")) {
      ZC_RETURN_IF_ERROR(ParseSeconds(k, "<intervals><agents_disconnection_time>",
                                      &c.intervals.agents_disconnection_time));
    }
    if (auto k = n.child("keep_alive")) {
      ZC_RETURN_IF_ERROR(ParseSeconds(k, "<intervals><keep_alive>", &c.intervals.keep_alive));
    }
    if (auto k = n.child("max_allowed_time_without_keepalive")) {
      ZC_RETURN_IF_ERROR(ParseSeconds(k, "<intervals><max_allowed_time_without_keepalive>",
                                      &c.intervals.max_allowed_time_without_keepalive));
    }
  }
  ZC_RETURN_IF_ERROR(Validate(c));
  return c;
}

}  // namespace

int ClusterDebugLevel(const std::string& home) {
  for (const char* file : {"/etc/local_internal_options.conf", "/etc/internal_options.conf"}) {
    std::ifstream in(home + file);
    std::optional<int> level;
    for (std::string line; std::getline(in, line);) {
      line = Trim(line);
      constexpr std::string_view kKey = "wazuh_clusterd.debug=";
      if (line.rfind(kKey, 0) != 0) continue;
      std::string v = Trim(std::string_view(line).substr(kKey.size()));
      if (v == "0" || v == "1" || v == "2") level = v[0] - '0';  // the last one counts
    }
    if (level) return *level;
  }
  return 0;
}

Result<ClusterConfig> LoadClusterConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("config: cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string dir = ".";
  if (auto slash = path.rfind('/'); slash != std::string::npos) dir = path.substr(0, slash);
  if (dir.empty()) dir = "/";
  return ParseClusterConfig(ss.str(), dir, path);
}

}  // namespace zcluster::nodes
