// Caps on the TCP connections a listening socket holds. libzmq accepts every connection and keeps
// it, handshaken or not, until its handshake timeout; each holds a descriptor, and a process that
// runs out of them aborts inside libzmq. A guard reads the listener's socket events: it learns
// each accepted connection's descriptor and peer, and shuts down (shutdown(2), after which libzmq
// sees the end of the stream and closes the descriptor itself) a connection from an address that
// already holds its share, or one that would take the process past its connection budget. What
// the budget leaves of the open-files limit is the reserve: the store, the control socket and the
// node's own connections never want for a descriptor.
//
// libzmq 4.3's monitor names the connection in "accepted" and "disconnected" but not in
// "handshake succeeded", so a cap counts every connection of an address, handshaken or pending;
// pending ones end after SocketOptions::handshake_timeout.
//
// Threading: a guard is owned by the thread that drains its socket's events. A budget is shared
// by the guards of one process and may be used from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "zcluster/bus/line_budget.h"
#include "zcluster/bus/socket_events.h"

namespace zcluster::bus {

// How many accepted connections every guarded listener of a process may hold together.
class DescriptorBudget {
 public:
  // The descriptors a node keeps for itself out of any limit: RocksDB's open tables, the log, the
  // control socket and its clients, libzmq's own signalling pairs, the files it syncs.
  static constexpr std::uint64_t kMinReserve = 256;
  // The budget for an open-files limit: the limit less a reserve of a quarter of it, at least
  // kMinReserve (and at least 16 connections).
  static std::size_t ForOpenFileLimit(std::uint64_t open_files_limit);

  explicit DescriptorBudget(std::size_t connections) : limit_(connections) {}
  DescriptorBudget(const DescriptorBudget&) = delete;
  DescriptorBudget& operator=(const DescriptorBudget&) = delete;

  // Counts one more connection; false when that takes the total past the budget (it is counted
  // all the same, since it holds a descriptor until it closes).
  bool Take() { return in_use_.fetch_add(1, std::memory_order_relaxed) < limit_; }
  void Give() { in_use_.fetch_sub(1, std::memory_order_relaxed); }
  std::size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  std::size_t limit() const { return limit_; }

 private:
  std::atomic<std::size_t> in_use_{0};
  const std::size_t limit_;
};

class ConnectionGuard {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Cause { kPerAddress, kDescriptors };
  struct Refusal {
    Cause cause;
    std::string address;  // the peer's IP
    std::size_t held;  // connections that address holds (kPerAddress) or the process (kDescriptors)
    LineBudget::Verdict note;  // whether to log it: a line per address per interval, and how many
                               // were not logged
  };
  using RefusalLog = std::function<void(const Refusal&)>;
  static constexpr std::size_t kMaxRefusalLinesPerInterval = 20;
  static constexpr std::chrono::seconds kRefusalLogInterval{30};

  // `per_address` 0: no cap per address, only the budget.
  ConnectionGuard(DescriptorBudget& budget, std::size_t per_address, RefusalLog log);
  ~ConnectionGuard();
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  // Applies the events of the guarded listener, as SocketEvents::Drain returned them.
  void Observe(const std::vector<SocketEvent>& events, Clock::time_point now = Clock::now());

  std::size_t open() const { return by_fd_.size(); }
  std::size_t OpenFrom(const std::string& address) const;
  std::uint64_t refused() const { return refused_; }

 private:
  struct Connection {
    std::string address;       // the peer's IP
    std::string peer;          // IP and port, to tell a reused descriptor from this connection
    std::uint16_t local_port;  // the listener's port
  };
  void Accepted(int fd, Clock::time_point now);
  void Closed(int fd);
  void Forget(std::unordered_map<int, Connection>::iterator it);
  // Drops records whose descriptor no longer holds their connection: libzmq reports no
  // "disconnected" for a connection its socket ends itself. At most once a second.
  void Reconcile(Clock::time_point now);
  bool StillHolds(int fd, const Connection& c) const;

  DescriptorBudget& budget_;
  std::size_t per_address_;
  RefusalLog log_;
  LineBudget lines_{kRefusalLogInterval, kMaxRefusalLinesPerInterval};
  std::unordered_map<int, Connection> by_fd_;
  std::unordered_map<std::string, std::size_t> per_ip_;
  Clock::time_point reconciled_{};
  std::uint64_t refused_ = 0;
};

}  // namespace zcluster::bus
