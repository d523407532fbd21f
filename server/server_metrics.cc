#include "server/server_metrics.h"

#include <string>

namespace rat::server {
namespace {

// 100 us to 30 s, roughly x2.5 per bucket.
prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0, 30.0};
}

prometheus::Histogram::BucketBoundaries BatchSizeBuckets() {
  return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
}

// Probabilities (MSR, ODIN, DOCTOR, margin) fall in [0, 1]; robust radii are
// L-infinity pixel distances, mostly 1e-4 to 1e-1; logit scores reach tens.
prometheus::Histogram::BucketBoundaries ConfidenceBuckets() {
  return {0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1,  0.2, 0.3,  0.4,
          0.5,    0.6,    0.7,   0.8,   0.9,  0.95, 0.99, 1.0, 10.0, 100.0};
}

}  // namespace

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("rat_requests_total")
                    .Help("Finished RPCs by model and gRPC status code.")
                    .Register(*registry_)),
      request_duration_(prometheus::BuildHistogram()
                            .Name("rat_request_duration_seconds")
                            .Help("Predict time from arrival to response.")
                            .Register(*registry_)),
      queue_duration_(prometheus::BuildHistogram()
                          .Name("rat_queue_duration_seconds")
                          .Help("Time a Predict request waited in its "
                                "model's queue.")
                          .Register(*registry_)),
      compute_duration_(prometheus::BuildHistogram()
                            .Name("rat_compute_duration_seconds")
                            .Help("Time per batch and stage (prepare, score, "
                                  "forward, backward, extra, respond).")
                            .Register(*registry_)),
      batch_size_(prometheus::BuildHistogram()
                      .Name("rat_batch_size")
                      .Help("Images per computed batch.")
                      .Register(*registry_)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("rat_queue_depth")
                       .Help("Requests waiting in the model's queue.")
                       .Register(*registry_)),
      predictions_(prometheus::BuildCounter()
                       .Name("rat_predictions_total")
                       .Help("Images classified.")
                       .Register(*registry_)),
      rejections_(prometheus::BuildCounter()
                      .Name("rat_rejections_total")
                      .Help("Predictions rejected by the reject policy, by "
                            "deciding score.")
                      .Register(*registry_)),
      confidence_(prometheus::BuildHistogram()
                      .Name("rat_confidence_score")
                      .Help("Confidence scores returned, for drift "
                            "monitoring.")
                      .Register(*registry_)),
      ready_(prometheus::BuildGauge()
                 .Name("rat_model_ready")
                 .Help("1 once the model is loaded and warmed up.")
                 .Register(*registry_)) {}

ModelMetrics ServerMetrics::AddModel(const std::string& model) {
  ModelMetrics metrics;
  metrics.ready = &ready_.Add({{"model", model}});
  metrics.queue_depth = &queue_depth_.Add({{"model", model}});
  metrics.request_duration =
      &request_duration_.Add({{"model", model}}, LatencyBuckets());
  metrics.queue_duration =
      &queue_duration_.Add({{"model", model}}, LatencyBuckets());
  metrics.batch_size = &batch_size_.Add({{"model", model}}, BatchSizeBuckets());
  metrics.prepare_duration = &compute_duration_.Add(
      {{"model", model}, {"stage", "prepare"}}, LatencyBuckets());
  metrics.score_duration = &compute_duration_.Add(
      {{"model", model}, {"stage", "score"}}, LatencyBuckets());
  metrics.forward_duration = &compute_duration_.Add(
      {{"model", model}, {"stage", "forward"}}, LatencyBuckets());
  metrics.backward_duration = &compute_duration_.Add(
      {{"model", model}, {"stage", "backward"}}, LatencyBuckets());
  metrics.extra_duration = &compute_duration_.Add(
      {{"model", model}, {"stage", "extra"}}, LatencyBuckets());
  metrics.respond_duration = &compute_duration_.Add(
      {{"model", model}, {"stage", "respond"}}, LatencyBuckets());
  metrics.predictions = &predictions_.Add({{"model", model}});
  for (ScoreKind kind : AllScoreKinds()) {
    const std::string score(ScoreName(kind));
    metrics.rejections[kind] =
        &rejections_.Add({{"model", model}, {"score", score}});
    metrics.confidence[kind] = &confidence_.Add(
        {{"model", model}, {"score", score}}, ConfidenceBuckets());
  }
  return metrics;
}

void ServerMetrics::CountRequest(const std::string& model,
                                 const std::string& code) {
  requests_.Add({{"model", model}, {"code", code}}).Increment();
}

}  // namespace rat::server
