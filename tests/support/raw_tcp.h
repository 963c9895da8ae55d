// Plain TCP connections to a node's port, as an attacker or a port scanner makes them: no ZMTP,
// no CURVE, from any loopback address.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace zcluster::testing {

// A non-blocking TCP socket to 127.0.0.1:`port` from `source` (any 127/8 address; loopback
// takes them all), connected or still connecting: a listener whose backlog is full leaves the
// connection pending, as a flood would. -1 when the socket cannot be made.
int ConnectTcp(std::uint16_t port, const std::string& source = "127.0.0.1");

// True once the other end has ended the stream; whatever it sent before (a ZMTP greeting) is
// read and dropped. Never blocks.
bool PeerEnded(int fd);
// How many of `fds` the other end has ended.
std::size_t CountPeerEnded(const std::vector<int>& fds);
// Everything the other end sends until it ends the stream, or what came within `bound`.
std::string ReadUntilEnd(int fd, std::chrono::milliseconds bound);

}  // namespace zcluster::testing
