#include "client/score_names.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace rat::client {
namespace {

using rat::v1::ScoreType;

const std::vector<std::pair<std::string, ScoreType>>& NamedScores() {
  static const auto* const kScores =
      new std::vector<std::pair<std::string, ScoreType>>{
          {"msr", rat::v1::SCORE_TYPE_MSR},
          {"odin", rat::v1::SCORE_TYPE_ODIN},
          {"rr_fast", rat::v1::SCORE_TYPE_RR_FAST},
          {"rr_bs", rat::v1::SCORE_TYPE_RR_BS},
          {"mls", rat::v1::SCORE_TYPE_MLS},
          {"neg_entropy", rat::v1::SCORE_TYPE_NEG_ENTROPY},
          {"margin", rat::v1::SCORE_TYPE_MARGIN},
          {"doctor", rat::v1::SCORE_TYPE_DOCTOR},
          {"energy", rat::v1::SCORE_TYPE_ENERGY},
      };
  return *kScores;
}

}  // namespace

absl::StatusOr<ScoreType> ParseScoreType(absl::string_view name) {
  const std::string lower =
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
  for (const auto& [known, type] : NamedScores()) {
    if (known == lower) return type;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown score \"", name, "\"; expected one of ", KnownScoreNames()));
}

absl::StatusOr<std::vector<ScoreType>> ParseScoreList(absl::string_view names) {
  std::vector<ScoreType> types;
  for (absl::string_view name :
       absl::StrSplit(names, ',', absl::SkipWhitespace())) {
    absl::StatusOr<ScoreType> type = ParseScoreType(name);
    if (!type.ok()) return type.status();
    if (std::find(types.begin(), types.end(), *type) == types.end()) {
      types.push_back(*type);
    }
  }
  return types;
}

std::string ScoreTypeName(ScoreType type) {
  for (const auto& [name, known] : NamedScores()) {
    if (known == type) return name;
  }
  return "unspecified";
}

std::string KnownScoreNames() {
  std::vector<std::string> names;
  for (const auto& entry : NamedScores()) names.push_back(entry.first);
  return absl::StrJoin(names, ",");
}

}  // namespace rat::client
