// `rat-client predict`, `rat-client models` and `rat-client health`.
#ifndef RAT_CLIENT_PREDICT_COMMAND_H_
#define RAT_CLIENT_PREDICT_COMMAND_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "client/inference_client.h"

namespace rat::client {

struct PredictOptions {
  ClientOptions client;
  std::string model;
  std::vector<std::string> files;
  // Comma-separated score names; empty means the model's defaults.
  std::string scores;
  int top_k = 3;
  bool json = false;
};

struct ModelsOptions {
  ClientOptions client;
  bool json = false;
};

struct HealthOptions {
  ClientOptions client;
  // Service name; empty checks the whole server.
  std::string service;
};

// Each returns the process exit code and prints to stdout/stderr.
int RunPredictCommand(const PredictOptions& options);
int RunModelsCommand(const ModelsOptions& options);
// 0 only when the service is SERVING; 1 when it is not, when it is unknown
// or when the server cannot be reached.
int RunHealthCommand(const HealthOptions& options);

void AddPredictCommand(CLI::App& app, int& exit_code);
void AddModelsCommand(CLI::App& app, int& exit_code);
void AddHealthCommand(CLI::App& app, int& exit_code);

}  // namespace rat::client

#endif  // RAT_CLIENT_PREDICT_COMMAND_H_
