#include "core/scores/score_types.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/common/status_macros.h"

namespace rat {
namespace {

bool IsPositiveFinite(double value) {
  return std::isfinite(value) && value > 0;
}

bool IsNonNegativeFinite(double value) {
  return std::isfinite(value) && value >= 0;
}

absl::Status CheckPositive(absl::string_view name, double value) {
  if (IsPositiveFinite(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(name, " must be finite and > 0, got ", value));
}

absl::Status CheckNonNegative(absl::string_view name, double value) {
  if (IsNonNegativeFinite(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(name, " must be finite and >= 0, got ", value));
}

}  // namespace

const std::vector<ScoreKind>& AllScoreKinds() {
  static const std::vector<ScoreKind>* const kinds = new std::vector<ScoreKind>{
      ScoreKind::kMsr,    ScoreKind::kOdin,   ScoreKind::kRrFast,
      ScoreKind::kRrBs,   ScoreKind::kMls,    ScoreKind::kNegEntropy,
      ScoreKind::kMargin, ScoreKind::kDoctor, ScoreKind::kEnergy};
  return *kinds;
}

absl::string_view ScoreName(ScoreKind kind) {
  switch (kind) {
    case ScoreKind::kMsr:
      return "msr";
    case ScoreKind::kOdin:
      return "odin";
    case ScoreKind::kRrFast:
      return "rr_fast";
    case ScoreKind::kRrBs:
      return "rr_bs";
    case ScoreKind::kMls:
      return "mls";
    case ScoreKind::kNegEntropy:
      return "neg_entropy";
    case ScoreKind::kMargin:
      return "margin";
    case ScoreKind::kDoctor:
      return "doctor";
    case ScoreKind::kEnergy:
      return "energy";
  }
  return "unknown";
}

absl::StatusOr<ScoreKind> ParseScoreKind(absl::string_view name) {
  const std::string normalized =
      absl::AsciiStrToLower(absl::StrReplaceAll(name, {{"-", "_"}}));
  for (ScoreKind kind : AllScoreKinds()) {
    if (ScoreName(kind) == normalized) return kind;
  }

  std::vector<std::string> names;
  for (ScoreKind kind : AllScoreKinds()) {
    names.emplace_back(ScoreName(kind));
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown score \"", name,
                                                 "\", expected one of ",
                                                 absl::StrJoin(names, ", ")));
}

bool NeedsInputGradient(ScoreKind kind, double odin_epsilon) {
  switch (kind) {
    case ScoreKind::kOdin:
      return odin_epsilon > 0;
    case ScoreKind::kRrFast:
    case ScoreKind::kRrBs:
      return true;
    default:
      return false;
  }
}

absl::Status ValidateScoreParams(const ScoreParams& params) {
  RAT_RETURN_IF_ERROR(
      CheckPositive("odin_temperature", params.odin_temperature));
  RAT_RETURN_IF_ERROR(CheckNonNegative("odin_epsilon", params.odin_epsilon));
  RAT_RETURN_IF_ERROR(
      CheckPositive("rr_fast_temperature", params.rr_fast_temperature));
  RAT_RETURN_IF_ERROR(CheckPositive("rr_fast_step", params.rr_fast_step));
  RAT_RETURN_IF_ERROR(
      CheckPositive("rr_fast_max_radius", params.rr_fast_max_radius));
  RAT_RETURN_IF_ERROR(
      CheckPositive("rr_bs_temperature", params.rr_bs_temperature));
  RAT_RETURN_IF_ERROR(
      CheckPositive("rr_bs_initial_epsilon", params.rr_bs_initial_epsilon));
  if (params.rr_bs_max_iterations < 1 || params.rr_bs_max_iterations > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("rr_bs_max_iterations must be in [1, 64], got ",
                     params.rr_bs_max_iterations));
  }
  RAT_RETURN_IF_ERROR(CheckNonNegative("rr_bs_rel_tol", params.rr_bs_rel_tol));
  if (params.rr_bs_pgd_steps < 0 || params.rr_bs_pgd_steps > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rr_bs_pgd_steps must be in [0, 100] (0 selects FGSM), got ",
        params.rr_bs_pgd_steps));
  }
  RAT_RETURN_IF_ERROR(
      CheckPositive("doctor_temperature", params.doctor_temperature));
  RAT_RETURN_IF_ERROR(
      CheckPositive("energy_temperature", params.energy_temperature));
  return absl::OkStatus();
}

}  // namespace rat
