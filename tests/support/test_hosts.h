// Test hosts on one machine: a hub network namespace and one namespace per spoke, each spoke
// joined to the hub by a veth pair with addresses of the benchmarking range 198.18.0.0/15
// (spoke i: hub 198.18.i.1, spoke 198.18.i.2). Links can lose packets at random (nftables'
// numgen, for kernels without netem) and be cut and restored. Traffic stays inside the
// namespaces; every namespace made is removed, with its links, when the object goes away.
// Needs root (CAP_NET_ADMIN), iproute2 and nftables; without them available() is false and
// error() says why.
#pragma once

#include <string>
#include <vector>

namespace zcluster::testing {

// Runs a program from PATH and waits for it; its exit status (127 when it cannot start).
int RunProgram(const std::vector<std::string>& argv);

class TestHosts {
 public:
  explicit TestHosts(const std::vector<std::string>& spokes);
  ~TestHosts();
  TestHosts(const TestHosts&) = delete;
  TestHosts& operator=(const TestHosts&) = delete;

  bool available() const { return available_; }
  const std::string& error() const { return error_; }

  // The namespace of "hub" or of a spoke, for `ip netns exec`.
  std::string Namespace(const std::string& host) const;
  // `argv` run inside the host's namespace.
  std::vector<std::string> In(const std::string& host, std::vector<std::string> argv) const;
  // The hub's address on the spoke's link: what the spoke reaches the hub at.
  std::string HubAddress(const std::string& spoke) const;
  // Drops `percent` of the packets crossing the spoke's link, in each direction.
  bool SetLoss(const std::string& spoke, int percent);
  // Drops every packet on the spoke's link (a pulled cable: no reset, no error), or lets them
  // through again.
  bool Cut(const std::string& spoke, bool cut);

 private:
  int Index(const std::string& spoke) const;
  bool Nft(const std::string& spoke, const std::string& script);

  std::string prefix_;
  std::vector<std::string> spokes_;
  std::vector<std::string> made_;  // namespaces to remove
  bool available_ = false;
  std::string error_;
};

}  // namespace zcluster::testing
