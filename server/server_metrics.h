// Prometheus metrics of rat-server, exported on the metrics port.
#ifndef RAT_SERVER_SERVER_METRICS_H_
#define RAT_SERVER_SERVER_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>

#include "core/scores/score_types.h"

namespace rat::server {

// The metric children of one model, created once so the request path does
// not look up labels. Pointers are owned by ServerMetrics' registry.
struct ModelMetrics {
  prometheus::Gauge* ready = nullptr;
  prometheus::Gauge* queue_depth = nullptr;
  prometheus::Histogram* request_duration = nullptr;
  prometheus::Histogram* queue_duration = nullptr;
  prometheus::Histogram* batch_size = nullptr;
  // Stages: "prepare" (conversion into the batch tensor), "score" (the
  // whole scoring engine call) split into "forward" (clean pass), "backward"
  // (input gradients) and "extra" (the scores' extra passes), and "respond"
  // (top-k, decisions and the response message, per request).
  prometheus::Histogram* prepare_duration = nullptr;
  prometheus::Histogram* score_duration = nullptr;
  prometheus::Histogram* forward_duration = nullptr;
  prometheus::Histogram* backward_duration = nullptr;
  prometheus::Histogram* extra_duration = nullptr;
  prometheus::Histogram* respond_duration = nullptr;
  prometheus::Counter* predictions = nullptr;
  std::map<ScoreKind, prometheus::Counter*> rejections;
  std::map<ScoreKind, prometheus::Histogram*> confidence;
};

// Owns the registry and the metric families. Thread-safe: prometheus-cpp
// metrics and Family::Add lock internally.
class ServerMetrics {
 public:
  ServerMetrics();

  // Creates the children for `model` with every score kind. Call once per
  // model before serving it; the result stays valid as long as this object.
  ModelMetrics AddModel(const std::string& model);

  // Counts one finished RPC with its gRPC code name (e.g. "OK",
  // "INVALID_ARGUMENT"); `model` is "" when the request named no loaded model.
  void CountRequest(const std::string& model, const std::string& code);

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Family<prometheus::Histogram>& queue_duration_;
  prometheus::Family<prometheus::Histogram>& compute_duration_;
  prometheus::Family<prometheus::Histogram>& batch_size_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Family<prometheus::Counter>& predictions_;
  prometheus::Family<prometheus::Counter>& rejections_;
  prometheus::Family<prometheus::Histogram>& confidence_;
  prometheus::Family<prometheus::Gauge>& ready_;
};

}  // namespace rat::server

#endif  // RAT_SERVER_SERVER_METRICS_H_
