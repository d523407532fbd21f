#include "core/scores/logit_scores.h"

#include <ATen/ATen.h>

namespace rat {
namespace {

// log_softmax(logits / T) in float64: finite even when logits differ by
// thousands, where softmax followed by log would give -inf.
torch::Tensor LogSoftmax(const torch::Tensor& logits, double temperature) {
  torch::Tensor scaled = logits.to(torch::kFloat64);
  if (temperature != 1.0) scaled = scaled / temperature;
  return at::log_softmax(scaled, /*dim=*/1);
}

}  // namespace

torch::Tensor MaxSoftmax(const torch::Tensor& logits, double temperature) {
  return std::get<0>(LogSoftmax(logits, temperature).max(/*dim=*/1)).exp();
}

bool IsLogitScore(ScoreKind kind, const ScoreParams& params) {
  return !NeedsInputGradient(kind, params.odin_epsilon);
}

torch::Tensor ComputeLogitScore(ScoreKind kind, const torch::Tensor& logits,
                                const ScoreParams& params) {
  switch (kind) {
    case ScoreKind::kMsr:
      return MaxSoftmax(logits, 1.0);
    case ScoreKind::kOdin:
      return MaxSoftmax(logits, params.odin_temperature);
    case ScoreKind::kMls:
      return std::get<0>(logits.to(torch::kFloat64).max(/*dim=*/1));
    case ScoreKind::kNegEntropy: {
      const torch::Tensor log_p = LogSoftmax(logits, 1.0);
      return (log_p.exp() * log_p).sum(/*dim=*/1);
    }
    case ScoreKind::kMargin: {
      const torch::Tensor top2 =
          std::get<0>(LogSoftmax(logits, 1.0).topk(2, /*dim=*/1)).exp();
      return top2.select(1, 0) - top2.select(1, 1);
    }
    case ScoreKind::kDoctor:
      return (2.0 * LogSoftmax(logits, params.doctor_temperature))
          .exp()
          .sum(/*dim=*/1);
    case ScoreKind::kEnergy: {
      const double t = params.energy_temperature;
      return t * at::logsumexp(logits.to(torch::kFloat64) / t, /*dim=*/1);
    }
    default:
      TORCH_CHECK(false, "score \"", std::string(ScoreName(kind)),
                  "\" needs an input gradient and is not a logit score");
  }
}

}  // namespace rat
