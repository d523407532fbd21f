#include "trainer/calibration.h"

#include <limits>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"
#include "core/metrics/metrics.h"
#include "core/scores/score_engine.h"
#include "spdlog/spdlog.h"

namespace rat {
namespace {

// Scores and correctness flags of the whole tuning set for one request.
struct GridScores {
  std::map<ScoreKind, std::vector<double>> scores;
  std::vector<bool> correct;
};

std::vector<double> ToVector(const at::Tensor& tensor) {
  at::Tensor values = tensor.to(at::kDouble).contiguous();
  const double* data = values.data_ptr<double>();
  return std::vector<double>(data, data + values.numel());
}

absl::StatusOr<GridScores> ScoreAll(torch::jit::Module& model,
                                    const at::Tensor& images,
                                    const at::Tensor& labels,
                                    const ScoreRequest& request,
                                    int64_t batch_size) {
  GridScores result;
  const int64_t count = images.size(0);
  for (int64_t start = 0; start < count; start += batch_size) {
    const int64_t end = std::min(count, start + batch_size);
    RAT_ASSIGN_OR_RETURN(
        ScoreResult batch,
        ScoreEngine::Score(model, images.slice(0, start, end), request));
    for (const auto& [kind, values] : batch.scores) {
      std::vector<double> part = ToVector(values);
      std::vector<double>& all = result.scores[kind];
      all.insert(all.end(), part.begin(), part.end());
    }
    at::Tensor hits = batch.predictions.eq(labels.slice(0, start, end));
    for (int64_t i = 0; i < hits.size(0); ++i) {
      result.correct.push_back(hits[i].item<bool>());
    }
  }
  return result;
}

absl::StatusOr<double> AurcOf(const GridScores& grid, ScoreKind kind) {
  const std::vector<double>& scores = grid.scores.at(kind);
  // std::vector<bool> is packed, so the metric needs a plain bool array.
  std::unique_ptr<bool[]> correct(new bool[grid.correct.size()]);
  for (size_t i = 0; i < grid.correct.size(); ++i) correct[i] = grid.correct[i];
  return Aurc(scores, absl::MakeConstSpan(correct.get(), grid.correct.size()));
}

// Best AURC seen so far for one score and the parameters that reached it.
struct Best {
  double aurc = std::numeric_limits<double>::infinity();
  double temperature = 1;
  double epsilon = 0;
  std::vector<double> scores;

  void Offer(double candidate_aurc, double t, double eps,
             const std::vector<double>& candidate_scores) {
    if (candidate_aurc >= aurc) return;
    aurc = candidate_aurc;
    temperature = t;
    epsilon = eps;
    scores = candidate_scores;
  }
};

const std::vector<ScoreKind>& CheapScores() {
  static const std::vector<ScoreKind> kinds = {
      ScoreKind::kMsr,    ScoreKind::kMls,    ScoreKind::kNegEntropy,
      ScoreKind::kMargin, ScoreKind::kDoctor, ScoreKind::kEnergy};
  return kinds;
}

absl::Status CheckInputs(const at::Tensor& images, const at::Tensor& labels) {
  if (images.dim() != 4 || labels.dim() != 1 ||
      images.size(0) != labels.size(0) || images.size(0) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "calibration expects N x C x H x W images and N labels with N > 0, "
        "got ",
        images.dim(), "-d images and ", labels.numel(), " labels"));
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<double>& TemperatureGrid() {
  static const std::vector<double> grid = {0.2, 0.4, 0.6, 0.8, 1, 1.1, 1.2, 1.3,
                                           1.4, 1.5, 2,   2.5, 3, 100, 1000};
  return grid;
}

const std::vector<double>& OdinEpsilonGrid() {
  static const std::vector<double> grid = {0,    5e-5,   1e-4, 1.5e-4,
                                           2e-4, 2.5e-4, 3e-4, 3.5e-4,
                                           4e-4, 6e-4,   8e-4, 1e-3};
  return grid;
}

namespace {

// Offers ODIN at `temperature` with every eps > 0 of the grid to `best`; each
// needs its own perturbed forward.
absl::Status TuneOdinEpsilon(torch::jit::Module& model,
                             const at::Tensor& images, const at::Tensor& labels,
                             double temperature,
                             const CalibrationOptions& options, Best& best) {
  for (double epsilon : OdinEpsilonGrid()) {
    if (epsilon == 0) continue;
    ScoreRequest request;
    request.scores = {ScoreKind::kOdin};
    request.params.odin_temperature = temperature;
    request.params.odin_epsilon = epsilon;
    RAT_ASSIGN_OR_RETURN(
        GridScores grid,
        ScoreAll(model, images, labels, request, options.batch_size));
    RAT_ASSIGN_OR_RETURN(double aurc, AurcOf(grid, ScoreKind::kOdin));
    best.Offer(aurc, temperature, epsilon, {});
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<rat::v1::Calibration> CalibrateScores(
    torch::jit::Module& model, const at::Tensor& images,
    const at::Tensor& labels, const CalibrationOptions& options) {
  RAT_RETURN_IF_ERROR(CheckInputs(images, labels));
  rat::v1::Calibration calibration;
  Best odin;
  Best rr_fast;
  Best rr_bs;
  std::vector<bool> correct;

  for (double temperature : TemperatureGrid()) {
    // One call per temperature shares its forward pass and input backward
    // among ODIN (eps = 0), RR-Fast and, when tuned, RR-BS.
    const bool score_rr_bs = options.tune_rr_bs || temperature == 1;
    ScoreRequest request;
    request.scores = {ScoreKind::kOdin, ScoreKind::kRrFast};
    if (score_rr_bs) request.scores.push_back(ScoreKind::kRrBs);
    request.params.odin_temperature = temperature;
    request.params.odin_epsilon = 0;
    request.params.rr_fast_temperature = temperature;
    request.params.rr_bs_temperature = temperature;
    if (temperature == 1) {
      for (ScoreKind kind : CheapScores()) request.scores.push_back(kind);
    }
    RAT_ASSIGN_OR_RETURN(
        GridScores grid,
        ScoreAll(model, images, labels, request, options.batch_size));
    correct = grid.correct;

    RAT_ASSIGN_OR_RETURN(double odin_aurc, AurcOf(grid, ScoreKind::kOdin));
    odin.Offer(odin_aurc, temperature, 0, {});
    RAT_ASSIGN_OR_RETURN(double fast_aurc, AurcOf(grid, ScoreKind::kRrFast));
    rr_fast.Offer(fast_aurc, temperature, 0, grid.scores[ScoreKind::kRrFast]);
    if (score_rr_bs) {
      RAT_ASSIGN_OR_RETURN(double bs_aurc, AurcOf(grid, ScoreKind::kRrBs));
      rr_bs.Offer(bs_aurc, temperature, 0, {});
    }
    if (temperature == 1) {
      for (ScoreKind kind : CheapScores()) {
        RAT_ASSIGN_OR_RETURN(double aurc, AurcOf(grid, kind));
        (*calibration.mutable_aurc())[std::string(ScoreName(kind))] = aurc;
      }
    }
    if (options.full_odin_grid) {
      RAT_RETURN_IF_ERROR(
          TuneOdinEpsilon(model, images, labels, temperature, options, odin));
    }
    spdlog::debug(
        "calibration T={} done: best AURC odin {} rr_fast {} rr_bs {}",
        temperature, odin.aurc, rr_fast.aurc, rr_bs.aurc);
  }
  if (!options.full_odin_grid) {
    RAT_RETURN_IF_ERROR(TuneOdinEpsilon(model, images, labels, odin.temperature,
                                        options, odin));
  }

  calibration.set_odin_temperature(odin.temperature);
  calibration.set_odin_epsilon(odin.epsilon);
  calibration.set_rr_fast_temperature(rr_fast.temperature);
  calibration.set_rr_bs_temperature(rr_bs.temperature);
  calibration.set_tuned_on(options.tuned_on);
  (*calibration.mutable_aurc())["odin"] = odin.aurc;
  (*calibration.mutable_aurc())["rr_fast"] = rr_fast.aurc;
  (*calibration.mutable_aurc())["rr_bs"] = rr_bs.aurc;

  std::unique_ptr<bool[]> flags(new bool[correct.size()]);
  for (size_t i = 0; i < correct.size(); ++i) flags[i] = correct[i];
  RAT_ASSIGN_OR_RETURN(
      ThresholdChoice choice,
      SelectiveRiskAtCoverage(rr_fast.scores,
                              absl::MakeConstSpan(flags.get(), correct.size()),
                              options.reject_coverage));
  rat::v1::RejectPolicy* reject = calibration.mutable_reject();
  reject->set_score(std::string(ScoreName(ScoreKind::kRrFast)));
  reject->set_threshold(choice.threshold);
  reject->set_method("coverage");
  reject->set_target(options.reject_coverage);
  reject->set_achieved_coverage(choice.coverage);
  reject->set_achieved_risk(choice.risk);
  return calibration;
}

}  // namespace rat
