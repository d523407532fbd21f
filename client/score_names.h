// Lowercase score names used on the command line and in reports
// ("msr", "odin", "rr_fast", ...), and their rat.v1.ScoreType values.
#ifndef RAT_CLIENT_SCORE_NAMES_H_
#define RAT_CLIENT_SCORE_NAMES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rat/v1/inference.pb.h"

namespace rat::client {

// Returns the type for `name`; INVALID_ARGUMENT listing the known names
// otherwise.
absl::StatusOr<rat::v1::ScoreType> ParseScoreType(absl::string_view name);

// Parses a comma-separated list ("msr,odin"); empty entries are skipped and
// duplicates removed, keeping the first position.
absl::StatusOr<std::vector<rat::v1::ScoreType>> ParseScoreList(
    absl::string_view names);

// Returns the lowercase name, or "unspecified" for SCORE_TYPE_UNSPECIFIED.
std::string ScoreTypeName(rat::v1::ScoreType type);

// Every name ParseScoreType accepts, comma-separated, for help texts.
std::string KnownScoreNames();

}  // namespace rat::client

#endif  // RAT_CLIENT_SCORE_NAMES_H_
