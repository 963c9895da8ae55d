#include "zcluster/nodes/cluster_config.h"

#include <catch2/catch.hpp>

#include <filesystem>

#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::nodes;

namespace {

const std::string kKey = "c98b62a9b6169ac5f67dae55ae4a9088";

std::string Conf(const std::string& inner) {
  return "<ossec_config><global><email_notification>no</email_notification></global>"
         "<cluster>" +
         inner + "</cluster></ossec_config>";
}

Result<ClusterConfig> Parse(const std::string& inner) {
  return ParseClusterConfig(Conf(inner), "/etc/zc");
}

// The one-line error for `inner`, which must be refused.
std::string Error(const std::string& inner) {
  Result<ClusterConfig> c = Parse(inner);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Code::kInvalidArgument);
  return c.status().message();
}

}  // namespace

TEST_CASE("Wazuh defaults apply to a minimal block", "[nodes][config]") {
  Result<ClusterConfig> c = Parse("<key>" + kKey + "</key>");
  REQUIRE(c.ok());
  CHECK(c->name == "wazuh");
  CHECK(c->node_name == "node01");
  CHECK(c->node_type == NodeType::kMaster);
  CHECK(c->port == 1516);
  CHECK(c->bind_addr == "0.0.0.0");
  CHECK_FALSE(c->hidden);
  CHECK_FALSE(c->disabled);
  CHECK(c->home == "/var/ossec");
  CHECK_FALSE(c->curve.has_value());
  CHECK(c->intervals.keep_alive == 5);
  CHECK(c->intervals.max_allowed_time_without_keepalive == 15);
  CHECK(c->master_endpoint() == "tcp://*:1516");
  CHECK(c->log_path() == "/var/ossec/logs/cluster.log");
  CHECK(c->control_path() == "/var/ossec/queue/cluster/control.sock");
}

TEST_CASE("a full worker block is read", "[nodes][config]") {
  Result<ClusterConfig> c = Parse(
      "<name>prod</name><node_name>worker-01</node_name><node_type>worker</node_type>"
      "<key>" +
      kKey +
      "</key><port>1600</port><bind_addr>0.0.0.0</bind_addr>"
      "<nodes><node>10.0.0.5</node><node>10.0.0.6</node></nodes>"
      "<hidden>yes</hidden><disabled>no</disabled><home>/opt/wazuh/</home>"
      "<curve><secret_key>keys/w.key</secret_key><public_key>/k/w.pub</public_key>"
      "<master_public_key>m.pub</master_public_key></curve>"
      "<intervals><keep_alive>0.5</keep_alive>"
      "<max_allowed_time_without_keepalive>2</max_allowed_time_without_keepalive></intervals>");
  REQUIRE(c.ok());
  CHECK(c->name == "prod");
  CHECK(c->node_type == NodeType::kWorker);
  CHECK(c->port == 1600);
  CHECK(c->nodes == std::vector<std::string>{"10.0.0.5", "10.0.0.6"});
  CHECK(c->hidden);
  CHECK(c->home == "/opt/wazuh");
  REQUIRE(c->curve.has_value());
  CHECK(c->curve->secret_key == "/etc/zc/keys/w.key");
  CHECK(c->curve->public_key == "/k/w.pub");
  CHECK(c->curve->master_public_key == "/etc/zc/m.pub");
  CHECK(c->intervals.keep_alive == 0.5);
  CHECK(c->master_endpoint() == "tcp://10.0.0.5:1600");
}

TEST_CASE("every Wazuh rule and extension rule names its element", "[nodes][config]") {
  const std::string key = "<key>" + kKey + "</key>";
  CHECK(Error(key + "<node_type>boss</node_type>") ==
        "config: <cluster><node_type> must be master or worker, got 'boss'");
  CHECK(Error("<key>short</key>") ==
        "config: <cluster><key> must be 32 characters long and only have alphanumeric "
        "characters");
  CHECK(Error("<key>c98b62a9b6169ac5f67dae55ae4a908!</key>").find("<key>") != std::string::npos);
  CHECK(Error("").find("<key> is required") != std::string::npos);
  CHECK(Error(key + "<port>1024</port>").find("<port> must be higher than 1024") !=
        std::string::npos);
  CHECK(Error(key + "<port>65535</port>").find("<port>") != std::string::npos);
  CHECK(Error(key + "<port>15x6</port>").find("<port>") != std::string::npos);
  CHECK(Error(key + "<node_name>bad name</node_name>").find("<node_name>") != std::string::npos);
  CHECK(Error(key + "<node_name></node_name>").find("<node_name>") != std::string::npos);
  CHECK(Error(key + "<name>a/b</name>").find("<name>") != std::string::npos);
  for (std::string reserved : {"localhost", "NODE_IP", "0.0.0.0", "127.0.1.1"}) {
    CHECK(Error(key + "<nodes><node>" + reserved + "</node></nodes>") ==
          "config: <cluster><nodes><node> has an invalid address: '" + reserved + "'");
  }
  CHECK(Error(key + "<node_type>worker</node_type>").find("<nodes><node> is required") !=
        std::string::npos);
  CHECK(Error(key + "<hidden>maybe</hidden>") ==
        "config: <cluster><hidden> must be 'yes' or 'no', got 'maybe'");
  CHECK(Error(key + "<disabled>1</disabled>").find("<disabled>") != std::string::npos);
  CHECK(Error(key + "<home>relative/path</home>").find("<home> must be an absolute path") !=
        std::string::npos);
  CHECK(Error(key + "<home>/" + std::string(120, 'h') + "</home>").find("too long") !=
        std::string::npos);
  CHECK(Error(key + "<intervals><keep_alive>0</keep_alive></intervals>")
            .find("<intervals><keep_alive>") != std::string::npos);
  CHECK(Error(key + "<intervals><keep_alive>nan</keep_alive></intervals>")
            .find("<intervals><keep_alive>") != std::string::npos);
  CHECK(Error(key + "<intervals><keep_alive>20</keep_alive></intervals>") ==
        "config: <cluster><intervals><max_allowed_time_without_keepalive> must be at least "
        "twice <keep_alive> (40 s), got 15");
  CHECK(Error(key + "<intervals><keep_alive>10</keep_alive></intervals>").find("(20 s), got 15") !=
        std::string::npos);
  CHECK(Error(key + "<intervals><keep_alive>0.001</keep_alive></intervals>") ==
        "config: <cluster><intervals><keep_alive> must be at least 0.1 seconds, got 0.001");
  CHECK(Error(key + "<colour>blue</colour>") ==
        "config: unknown element <cluster><colour> (line 1)");
  CHECK(Error(key + "<curve><secret>x</secret></curve>") ==
        "config: unknown element <cluster><curve><secret> (line 1)");
  CHECK(Error("<curve><public_key>p</public_key></curve>") ==
        "config: <cluster><curve><secret_key> is required");
  CHECK(Error("<curve><secret_key>s</secret_key><public_key>p</public_key></curve>") ==
        "config: <cluster><curve><authorized_keys> is required on a master");
  CHECK(Error("<node_type>worker</node_type><nodes><node>10.0.0.1</node></nodes>"
              "<curve><secret_key>s</secret_key><public_key>p</public_key></curve>") ==
        "config: <cluster><curve><master_public_key> is required on a worker");
}

TEST_CASE("port 0 leaves the choice to the kernel, on the ports a node binds only",
          "[nodes][config]") {
  const std::string key = "<key>" + kKey + "</key>";
  Result<ClusterConfig> master = Parse(key + "<port>0</port>");
  REQUIRE(master.ok());
  CHECK(master->master_endpoint() == "tcp://*:0");
  CHECK(master->stream_endpoint() == "tcp://*:0");
  Result<ClusterConfig> streams = Parse(key + "<port>1600</port><stream_port>1700</stream_port>");
  REQUIRE(streams.ok());
  CHECK(streams->stream_endpoint() == "tcp://*:1700");
  CHECK(Parse(key + "<port>1600</port>")->stream_endpoint() == "tcp://*:1601");

  const std::string worker =
      key + "<node_type>worker</node_type><nodes><node>10.0.0.1</node></nodes>";
  Result<ClusterConfig> w = Parse(worker +
                                  "<port>1600</port><stream_port>1601</stream_port>"
                                  "<agent_port>0</agent_port>");
  REQUIRE(w.ok());
  CHECK(w->agent_endpoint() == "tcp://*:0");
  CHECK(w->stream_endpoint() == "tcp://10.0.0.1:1601");
  CHECK(Error(worker + "<port>0</port>") ==
        "config: <cluster><port> must name the master's port on a worker, got '0'");
  CHECK(Error(worker + "<stream_port>0</stream_port>") ==
        "config: <cluster><stream_port> must name the master's stream port on a worker, got "
        "'0'");
  CHECK(Error(worker + "<port>1600</port><stream_port>1600</stream_port>") ==
        "config: <cluster><stream_port> must differ from <port>");
  CHECK(Error(worker + "<stream_port>1700</stream_port><agent_port>1700</agent_port>") ==
        "config: <cluster><agent_port> must differ from <port> and <stream_port>");
  CHECK(Error(key + "<stream_port>65536</stream_port>") ==
        "config: <cluster><stream_port> must be between 0 and 65535, got '65536'");
  CHECK(Error(key + "<agent_port>-1</agent_port>") ==
        "config: <cluster><agent_port> must be between 0 and 65535, got '-1'");
}

TEST_CASE("per-node keys make <key> optional", "[nodes][config]") {
  Result<ClusterConfig> c = Parse(
      "<curve><secret_key>s</secret_key><public_key>p</public_key>"
      "<authorized_keys>/k</authorized_keys></curve>");
  REQUIRE(c.ok());
  CHECK(c->key.empty());
}

TEST_CASE("the file must hold exactly one well-formed <cluster> block", "[nodes][config]") {
  CHECK(ParseClusterConfig("<ossec_config><cluster>", "/")
            .status()
            .message()
            .find("config: line 1: XML error: ") == 0);
  CHECK(ParseClusterConfig("<ossec_config/>", "/").status().message() ==
        "config: no <ossec_config><cluster> block");
  std::string two = Conf("<key>" + kKey + "</key>") + Conf("<key>" + kKey + "</key>");
  CHECK(ParseClusterConfig(two, "/").status().message() == "config: more than one <cluster> block");
  CHECK(LoadClusterConfig("/nonexistent/ossec.conf").status().code() == Code::kNotFound);
}

TEST_CASE("sync_files adds paths to Wazuh's file set", "[nodes][config]") {
  const std::string key = "<key>" + kKey + "</key>";
  Result<ClusterConfig> c = Parse(key +
                                  "<sync_files><folder mode=\"0640\" reload=\"yes\">etc/extra"
                                  "</folder><file>etc/local.conf</file></sync_files>");
  REQUIRE(c.ok());
  REQUIRE(c->sync_files.size() == 2);
  CHECK(c->sync_files[0].mode == 0640);
  CHECK(c->sync_files[0].reload);
  CHECK_FALSE(c->sync_files[1].folder);
  CHECK(c->sync_files[1].mode == 0640);
  CHECK(Error(key + "<sync_files><folder>../etc</folder></sync_files>")
            .find("<sync_files><folder>") != std::string::npos);
  CHECK(Error(key + "<sync_files><folder>var/db</folder></sync_files>").find("under etc/") !=
        std::string::npos);
  CHECK(Error(key + "<sync_files><file mode=\"999\">etc/x</file></sync_files>").find("mode") !=
        std::string::npos);
  CHECK(Error(key + "<sync_files><dir>etc/x</dir></sync_files>") ==
        "config: unknown element <cluster><sync_files><dir> (line 1)");
}

TEST_CASE("the metrics endpoint is off unless <monitor><metrics_bind> names an IPv4 and port",
          "[nodes][config]") {
  const std::string key = "<key>" + kKey + "</key>";
  CHECK_FALSE(Parse(key)->metrics_port.has_value());
  Result<ClusterConfig> on = Parse(key +
                                   "<monitor><metrics_bind>127.0.0.1:9516</metrics_bind>"
                                   "</monitor>");
  REQUIRE(on.ok());
  CHECK(on->metrics_host == "127.0.0.1");
  CHECK(on->metrics_port == 9516);
  for (const std::string bad : {"999.1.1.1:9516", "localhost:9516", "127.0.0.1", "127.0.0.1:x",
                                "127.0.0.1:65536", ":9516"}) {
    CHECK(Error(key + "<monitor><metrics_bind>" + bad + "</metrics_bind></monitor>") ==
          "config: <cluster><monitor><metrics_bind> must be an IPv4 address and a port, like "
          "127.0.0.1:9516, got '" +
              bad + "'");
  }
  CHECK(Error(key + "<monitor><bogus/></monitor>").find("<monitor>") != std::string::npos);
}

TEST_CASE("a TCP monitor endpoint needs its admin keys and the node's CURVE keys",
          "[nodes][config]") {
  const std::string curve =
      "<curve><secret_key>m.key</secret_key><public_key>m.pub</public_key>"
      "<authorized_keys>workers</authorized_keys></curve>";
  CHECK_FALSE(Parse(curve)->monitor_port.has_value());
  Result<ClusterConfig> on = Parse(curve +
                                   "<monitor><bind>127.0.0.1:0</bind>"
                                   "<authorized_keys>admins</authorized_keys></monitor>");
  REQUIRE(on.ok());
  CHECK(on->monitor_endpoint() == "tcp://127.0.0.1:0");
  CHECK(on->monitor_authorized_keys == "/etc/zc/admins");
  CHECK(Error(curve + "<monitor><bind>127.0.0.1:1518</bind></monitor>") ==
        "config: <cluster><monitor><authorized_keys> is required with <monitor><bind>");
  CHECK(Error(curve + "<monitor><authorized_keys>admins</authorized_keys></monitor>") ==
        "config: <cluster><monitor><authorized_keys> has no use without <monitor><bind>");
  CHECK(Error("<key>" + kKey +
              "</key><monitor><bind>127.0.0.1:1518</bind>"
              "<authorized_keys>admins</authorized_keys></monitor>") ==
        "config: <cluster><monitor><bind> needs <curve>: admins connect with its public key");
  CHECK(Error(curve + "<monitor><bind>example.org:1518</bind></monitor>") ==
        "config: <cluster><monitor><bind> must be an IPv4 address and a port, like "
        "127.0.0.1:1518, got 'example.org:1518'");
}

TEST_CASE("an error quoting a value with a newline is still one line", "[nodes][config]") {
  // Found by tests/fuzz/config_fuzz.cc (regressions/config/).
  std::string e = Error(
      "<node_type>worker</node_type><nodes><node>192.0.2.1</node></nodes>"
      "<key>" +
      kKey + "</key><agent_port>1\n   518</agent_port>");
  CHECK(e.find('\n') == std::string::npos);
  CHECK(e.find("1\\n   518") != std::string::npos);
}

TEST_CASE("connection caps per address default to 256 on the master and none for agents",
          "[nodes][config]") {
  Result<ClusterConfig> c = Parse("<key>" + kKey + "</key>");
  REQUIRE(c.ok());
  CHECK(c->connections_per_address == 256);
  CHECK(c->agent_connections_per_address == 0);
  c = Parse("<key>" + kKey +
            "</key><tuning><connections_per_address>0</connections_per_address>"
            "<agent_connections_per_address>64</agent_connections_per_address></tuning>");
  REQUIRE(c.ok());
  CHECK(c->connections_per_address == 0);
  CHECK(c->agent_connections_per_address == 64);
  CHECK(Error("<key>" + kKey +
              "</key><tuning><connections_per_address>-1</connections_per_address></tuning>") ==
        "config: <cluster><tuning><connections_per_address> must be a number from 0 to 10000000, "
        "got '-1'");
  CHECK(Error("<key>" + kKey + "</key><tuning><pub_hwm>0</pub_hwm></tuning>") ==
        "config: <cluster><tuning><pub_hwm> must be a number from 1 to 10000000, got '0'");
}

TEST_CASE("Wazuh's stock disabled block is read as disabled and nothing else is checked",
          "[nodes][config]") {
  // As Wazuh's ossec.conf ships it: no key, a placeholder node.
  Result<ClusterConfig> c = Parse(
      "<name>wazuh</name><node_name>node01</node_name><node_type>master</node_type>"
      "<key></key><port>1516</port><bind_addr>0.0.0.0</bind_addr>"
      "<nodes><node>NODE_IP</node></nodes><hidden>no</hidden><disabled>yes</disabled>");
  REQUIRE(c.ok());
  CHECK(c->disabled);
  CHECK(Error("<disabled>maybe</disabled>") ==
        "config: <cluster><disabled> must be 'yes' or 'no', got 'maybe'");
}

TEST_CASE("Wazuh's client type and haproxy_helper are accepted with a warning", "[nodes][config]") {
  Result<ClusterConfig> c = Parse("<key>" + kKey +
                                  "</key><node_type>client</node_type><nodes><node>10.0.0.1</node>"
                                  "</nodes><haproxy_helper><haproxy_disabled>yes</haproxy_disabled>"
                                  "</haproxy_helper>");
  REQUIRE(c.ok());
  CHECK(c->node_type == NodeType::kWorker);
  REQUIRE(c->warnings.size() == 2);
  CHECK(c->warnings[0].find("<haproxy_helper>") != std::string::npos);
  CHECK(c->warnings[1] == "<node_type>client is deprecated (Wazuh 3.x); read as worker");
  CHECK(Parse("<key>" + kKey + "</key>")->warnings.empty());
}

TEST_CASE("an element given twice is refused with its line and a misspelling gets a suggestion",
          "[nodes][config]") {
  CHECK(Error("<key>" + kKey + "</key>\n<port>1516</port>\n<port>1600</port>") ==
        "config: <cluster><port> is given twice (line 3); give it once");
  CHECK(Error("<key>" + kKey + "</key><nodes><node>a</node></nodes><nodes><node>b</node></nodes>")
            .find("<nodes> is given twice") != std::string::npos);
  CHECK(Error("<key>" + kKey + "</key><tuning><pub_hwm>5</pub_hwm><pub_hwm>6</pub_hwm></tuning>")
            .find("<tuning><pub_hwm> is given twice") != std::string::npos);
  // Several <node> are Wazuh's own form, and several folders a list.
  CHECK(Parse("<key>" + kKey + "</key><nodes><node>a</node><node>b</node></nodes>").ok());
  CHECK(Error("<key>" + kKey + "</key>\n<prot>1516</prot>") ==
        "config: unknown element <cluster><prot> (line 2); did you mean <port>?");
  CHECK(Error("<key>" + kKey + "</key><intervals><keepalive>5</keepalive></intervals>") ==
        "config: unknown element <cluster><intervals><keepalive> (line 1); did you mean "
        "<keep_alive>?");
  CHECK(Error("<key>" + kKey + "</key><colour>x</colour>").find("did you mean") ==
        std::string::npos);
}

TEST_CASE("an XML error names the file and the line", "[nodes][config]") {
  Result<ClusterConfig> c =
      ParseClusterConfig("<ossec_config>\n<cluster>\n<port>1</prt>\n</cluster>\n</ossec_config>\n",
                         "/etc", "/etc/ossec.conf");
  REQUIRE_FALSE(c.ok());
  INFO(c.status().message());
  CHECK(c.status().message().rfind("config: /etc/ossec.conf line 3: XML error: ", 0) == 0);
}

TEST_CASE("remote administration is the master's and names its keys", "[nodes][config]") {
  const std::string curve =
      "<curve><secret_key>m.key</secret_key><public_key>m.pub</public_key>"
      "<authorized_keys>workers</authorized_keys></curve>";
  Result<ClusterConfig> c = Parse(curve +
                                  "<admin><bind>127.0.0.1:1519</bind><authorized_keys>admins"
                                  "</authorized_keys></admin>");
  REQUIRE(c.ok());
  CHECK(c->admin_endpoint() == "tcp://127.0.0.1:1519");
  CHECK(c->admin_authorized_keys == "/etc/zc/admins");
  CHECK(Error(curve + "<admin><bind>127.0.0.1:1519</bind></admin>") ==
        "config: <cluster><admin><authorized_keys> is required with <admin><bind>");
  CHECK(Error("<key>" + kKey +
              "</key><admin><bind>127.0.0.1:1519</bind><authorized_keys>a"
              "</authorized_keys></admin>") ==
        "config: <cluster><admin><bind> needs <curve>: admins connect with its public key");
  CHECK(Error("<key>" + kKey +
              "</key><node_type>worker</node_type><nodes><node>10.0.0.1</node></nodes>"
              "<admin><bind>127.0.0.1:1519</bind><authorized_keys>a</authorized_keys></admin>")
            .find("is the master's") != std::string::npos);
}

TEST_CASE("wazuh_clusterd.debug is read from local_internal_options.conf first",
          "[nodes][config]") {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "etc");
  CHECK(ClusterDebugLevel(dir.path()) == 0);
  testing::WriteFile(dir / "etc/internal_options.conf", "wazuh_clusterd.debug=2\n");
  CHECK(ClusterDebugLevel(dir.path()) == 2);
  testing::WriteFile(dir / "etc/local_internal_options.conf",
                     "# local\n wazuh_clusterd.debug = 1\nwazuh_clusterd.debug=0\n");
  CHECK(ClusterDebugLevel(dir.path()) == 0);  // the last line of the local file counts
  testing::WriteFile(dir / "etc/local_internal_options.conf", "wazuh_clusterd.debug=9\n");
  CHECK(ClusterDebugLevel(dir.path()) == 2);  // nonsense is ignored: the next file decides
}
