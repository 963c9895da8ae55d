// zcluster-monitor: the cluster's live traffic, connections and lag, from the node's monitor
// endpoint: <home>/queue/cluster/monitor.sock, or with --endpoint a node's <monitor><bind> over
// CURVE with an admin's key. A refreshing terminal view (ncurses) by default;
// --once prints one snapshot, as the view's text or (--json) as JSON for scripts; --dump prints
// every message the node sends or receives (<home>/queue/cluster/tap.sock), one JSON line each.
#include <curses.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include "monitor_render.h"
#include "zcluster/bus/curve_keys.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/clock.h"
#include "zcluster/nodes/cluster_config.h"
#include "zcluster/nodes/control.h"

using namespace zcluster;

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "zcluster-monitor: %s\n", message.c_str());
  return 1;
}

// Where the monitor asks: the node's local monitor socket, or a TCP endpoint with CURVE.
struct Source {
  std::string path;  // local
  std::string endpoint, server_public;
  bus::CurveKeyPair own;
};

Result<schemas::ClusterStats> Fetch(const Source& from, std::chrono::milliseconds timeout) {
  Result<schemas::Message> reply =
      from.endpoint.empty()
          ? nodes::ControlRequest(from.path, schemas::MonitorQuery{}, timeout)
          : nodes::RemoteControlRequest(from.endpoint, from.server_public, from.own,
                                        schemas::MonitorQuery{}, timeout);
  if (!reply.ok()) return reply.status();
  if (const auto* error = std::get_if<schemas::ErrorReply>(&*reply)) {
    return Status(error->code, "the node refused: " + error->message);
  }
  const auto* stats = std::get_if<schemas::ClusterStats>(&*reply);
  if (stats == nullptr) {
    return Status::Internal("unexpected reply '" + std::string(schemas::TypeOf(*reply)) + "'");
  }
  if (stats->protocol != schemas::kProtocolVersion) {
    return Status::FailedPrecondition(
        fmt::format("node '{}' speaks protocol {}; this monitor speaks {}", stats->node,
                    stats->protocol, schemas::kProtocolVersion));
  }
  return *stats;
}

class Screen {
 public:
  Screen() {
    initscr();
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    timeout(100);  // getch waits at most this long, so the view refreshes on time
  }
  ~Screen() { endwin(); }
  void Draw(const std::vector<std::string>& lines) {
    erase();
    for (std::size_t i = 0; i < lines.size() && static_cast<int>(i) < LINES; ++i) {
      mvaddnstr(static_cast<int>(i), 0, lines[i].c_str(), COLS);
    }
    refresh();
  }
};

std::string TooSmall() {
  return fmt::format("terminal is {}x{}; zcluster-monitor needs at least {}x{}", COLS, LINES,
                     monitor::kMinWidth, monitor::kMinHeight);
}

int RunView(const Source& source, std::chrono::milliseconds timeout, double interval) {
  // The first snapshot before the screen is taken over: a node that is not there is one line
  // on a normal terminal.
  Result<schemas::ClusterStats> first = Fetch(source, timeout);
  if (!first.ok()) return Fail(first.status().message());
  std::optional<schemas::ClusterStats> before, now = *first;
  std::string problem;
  monitor::ViewOptions options;
  {
    Screen screen;
    if (COLS < monitor::kMinWidth || LINES < monitor::kMinHeight) {
      std::string message = TooSmall();
      endwin();
      return Fail(message);
    }
    auto next = std::chrono::steady_clock::now() + std::chrono::duration<double>(interval);
    for (;;) {
      options.width = COLS;
      options.height = LINES;
      options.now = nodes::UnixNow();
      if (COLS < monitor::kMinWidth || LINES < monitor::kMinHeight) {
        screen.Draw({TooSmall()});
      } else {
        std::vector<std::string> lines = monitor::RenderView(before, *now, options);
        if (!problem.empty() && lines.size() > 2) lines[2] = "! " + problem;
        screen.Draw(lines);
      }
      int key = getch();
      switch (key) {
        case 'q':
        case 'Q':
          return 0;
        case 'p':
        case ' ':
          options.paused = !options.paused;
          break;
        case 'n':
          options.sort = monitor::SortBy::kName;
          break;
        case 'm':
          options.sort = monitor::SortBy::kMessages;
          break;
        case 'b':
          options.sort = monitor::SortBy::kBytes;
          break;
        case 'l':
          options.sort = monitor::SortBy::kLag;
          break;
        default:
          break;  // KEY_RESIZE and the rest: the loop redraws
      }
      if (options.paused || std::chrono::steady_clock::now() < next) continue;
      next = std::chrono::steady_clock::now() + std::chrono::duration<double>(interval);
      Result<schemas::ClusterStats> got = Fetch(source, timeout);
      if (!got.ok()) {
        problem = got.status().message();  // kept on screen; the next interval tries again
        continue;
      }
      problem.clear();
      before = std::move(now);
      now = std::move(got).value();
    }
  }
}

volatile sig_atomic_t stop_dump = 0;

// Prints each tapped message as one JSON line until interrupted or the node stops.
int RunDump(const std::string& path, const monitor::DumpFilter& filter) {
  if (::access(path.c_str(), F_OK) != 0) {
    return Fail("no socket at '" + path + "': is zclusterd running?");
  }
  // A file left by a node that was killed would be a silent wait.
  if (!nodes::SomethingListens(path)) {
    return Fail("nothing listens at '" + path + "': is zclusterd running?");
  }
  struct sigaction sa {};
  sa.sa_handler = [](int) { stop_dump = 1; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a closed pipe shows as a failed write
  zmq::context_t ctx(1);
  Result<bus::SubscriberSocket> sub = bus::SubscriberSocket::ConnectLocal(ctx, path);
  if (!sub.ok()) return Fail(sub.status().message());
  std::vector<bus::PollItem> items{{&sub->socket(), -1, false}};
  while (!stop_dump) {
    // Woken at least once a second to notice a node that stopped (its socket file goes).
    if (!bus::Poll(items, std::chrono::milliseconds(1000)).ok()) continue;  // EINTR: look again
    if (!items[0].readable) {
      if (::access(path.c_str(), F_OK) != 0) return Fail("the node stopped");
      continue;
    }
    for (int budget = 1000; budget > 0; --budget) {
      Result<std::optional<bus::Frames>> frames = sub->Receive();
      if (!frames.ok() || !frames->has_value()) break;
      std::optional<std::string> line = monitor::RenderDumpLine(**frames, filter);
      if (!line) continue;
      if (std::fputs(line->c_str(), stdout) < 0 || std::fputc('\n', stdout) < 0 ||
          std::fflush(stdout) != 0) {
        return 0;  // the reader went away (a pipe into head)
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"zcluster-monitor: watch a zcluster's live traffic, connections and lag"};
  std::string config_path = "/var/ossec/etc/ossec.conf";
  double interval = 1;
  bool once = false, json = false;
  int timeout_ms = 2000;
  CLI::Option* config_option =
      app.add_option("-c,--config", config_path, "the node's ossec.conf")->capture_default_str();
  Source remote;
  std::string server_key_file, key_prefix;
  CLI::Option* endpoint_option =
      app.add_option("--endpoint", remote.endpoint,
                     "a node's TCP monitor endpoint (<monitor><bind>), as tcp://HOST:PORT")
          ->excludes(config_option);
  app.add_option("--server-key", server_key_file, "with --endpoint: the node's public key file")
      ->needs(endpoint_option);
  app.add_option("--key", key_prefix,
                 "with --endpoint: the admin key pair PREFIX.key/PREFIX.pub (zcluster-keygen)")
      ->needs(endpoint_option);
  app.add_option("-d,--delay", interval, "seconds between refreshes")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_flag("--once", once,
               "print the view once (rates over one -d interval) and exit; with --json, one "
               "snapshot of the counters");
  app.add_flag("--json", json, "with --once: the snapshot as JSON");
  bool dump = false;
  monitor::DumpFilter filter;
  app.add_flag("--dump", dump, "print each message the node sends or receives, one JSON line each");
  app.add_option("--type", filter.type, "with --dump: only this message type (keepalive, ...)");
  app.add_option("--node", filter.node, "with --dump: only messages to or from this node");
  app.add_option("--timeout", timeout_ms, "milliseconds to wait for the node")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (json && !once) return Fail("--json needs --once");
  if (dump && once) return Fail("--dump and --once do not go together");
  if (!dump && (!filter.type.empty() || !filter.node.empty())) {
    return Fail("--type and --node need --dump");
  }

  const auto timeout = std::chrono::milliseconds(timeout_ms);
  Source source;
  if (!remote.endpoint.empty()) {
    if (dump) return Fail("--dump reads the node's local tap: run it on the node, with -c");
    if (server_key_file.empty() || key_prefix.empty()) {
      return Fail("--endpoint needs --server-key and --key");
    }
    Result<std::string> server = bus::ReadPublicKeyFile(server_key_file);
    if (!server.ok()) return Fail("--server-key: " + server.status().message());
    Result<std::string> secret = bus::ReadSecretKeyFile(key_prefix + ".key");
    if (!secret.ok()) return Fail("--key: " + secret.status().message());
    Result<std::string> own_public = bus::PublicKeyOf(*secret);
    if (!own_public.ok()) return Fail("--key: " + own_public.status().message());
    source = std::move(remote);
    source.server_public = *server;
    source.own = {*own_public, *secret};
  } else {
    Result<nodes::ClusterConfig> config = nodes::LoadClusterConfig(config_path);
    if (!config.ok()) return Fail(config.status().message());
    if (dump) return RunDump(config->tap_path(), filter);
    source.path = config->monitor_path();
  }
  if (!once) return RunView(source, timeout, interval);

  Result<schemas::ClusterStats> stats = Fetch(source, timeout);
  if (!stats.ok()) return Fail(stats.status().message());
  if (json) {
    std::fputs(monitor::RenderJson(*stats).c_str(), stdout);
    return 0;
  }
  // The view's rates need two snapshots: the second one interval after the first.
  std::this_thread::sleep_for(std::chrono::duration<double>(interval));
  Result<schemas::ClusterStats> later = Fetch(source, timeout);
  if (!later.ok()) return Fail(later.status().message());
  monitor::ViewOptions options;
  options.height = 1000;
  options.now = nodes::UnixNow();
  for (const std::string& line : monitor::RenderView(*stats, *later, options)) {
    std::puts(line.c_str());
  }
  return 0;
}
