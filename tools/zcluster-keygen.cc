// zcluster-keygen PREFIX: writes PREFIX.key (Z85 secret key, mode 0600) and PREFIX.pub.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "zcluster/bus/curve_keys.h"

int main(int argc, char** argv) {
  CLI::App app{"zcluster-keygen: make a CurveZMQ key pair for a zcluster node or admin"};
  std::string prefix;
  app.add_option("PREFIX", prefix, "writes PREFIX.key (secret, 0600) and PREFIX.pub")->required();
  CLI11_PARSE(app, argc, argv);

  zcluster::Result<zcluster::bus::CurveKeyPair> pair = zcluster::bus::GenerateKeyPair();
  zcluster::Status status = pair.ok() ? zcluster::bus::WriteKeyPair(prefix, *pair) : pair.status();
  if (!status.ok()) {
    std::fprintf(stderr, "zcluster-keygen: %s\n", status.message().c_str());
    return 1;
  }
  std::printf("%s\n", pair->public_z85.c_str());
  return 0;
}
