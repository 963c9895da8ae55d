// zcluster-monitor: the cluster's live traffic, connections and lag, from the node's monitor
// endpoint (<home>/queue/cluster/monitor.sock). A refreshing terminal view (ncurses) by default;
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

Result<schemas::ClusterStats> Fetch(const std::string& path, std::chrono::milliseconds timeout) {
  Result<schemas::Message> reply = nodes::ControlRequest(path, schemas::MonitorQuery{}, timeout);
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

int RunView(const std::string& path, std::chrono::milliseconds timeout, double interval) {
  // The first snapshot before the screen is taken over: a node that is not there is one line
  // on a normal terminal.
  Result<schemas::ClusterStats> first = Fetch(path, timeout);
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
      Result<schemas::ClusterStats> got = Fetch(path, timeout);
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
  app.add_option("-c,--config", config_path, "the node's ossec.conf")->capture_default_str();
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

  Result<nodes::ClusterConfig> config = nodes::LoadClusterConfig(config_path);
  if (!config.ok()) return Fail(config.status().message());
  if (dump) return RunDump(config->tap_path(), filter);
  const std::string path = config->monitor_path();
  const auto timeout = std::chrono::milliseconds(timeout_ms);
  if (!once) return RunView(path, timeout, interval);

  Result<schemas::ClusterStats> stats = Fetch(path, timeout);
  if (!stats.ok()) return Fail(stats.status().message());
  if (json) {
    std::fputs(monitor::RenderJson(*stats).c_str(), stdout);
    return 0;
  }
  // The view's rates need two snapshots: the second one interval after the first.
  std::this_thread::sleep_for(std::chrono::duration<double>(interval));
  Result<schemas::ClusterStats> later = Fetch(path, timeout);
  if (!later.ok()) return Fail(later.status().message());
  monitor::ViewOptions options;
  options.height = 1000;
  options.now = nodes::UnixNow();
  for (const std::string& line : monitor::RenderView(*stats, *later, options)) {
    std::puts(line.c_str());
  }
  return 0;
}
