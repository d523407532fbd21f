// rat-client: the command-line client of rat-server.
#include <string>
#include <vector>

#include "client/cli.h"

int main(int argc, char** argv) {
  return rat::client::RunCli(std::vector<std::string>(argv, argv + argc));
}
