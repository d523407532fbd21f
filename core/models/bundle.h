// Model bundles: one TorchScript archive whose extra file "model_card.json"
// holds the rat.v1.ModelCard as JSON.
#ifndef RAT_CORE_MODELS_BUNDLE_H_
#define RAT_CORE_MODELS_BUNDLE_H_

#include <string>

#include <torch/script.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rat/v1/model_card.pb.h"

namespace rat {

inline constexpr char kModelCardFile[] = "model_card.json";

struct Bundle {
  torch::jit::Module module;
  rat::v1::ModelCard card;
};

// Loads a bundle onto `device` (e.g. "cpu", "cuda:0") in evaluation mode.
// Errors name the file and the problem: NOT_FOUND for a missing file,
// INVALID_ARGUMENT for a truncated or non-TorchScript file, a missing card or
// a card that fails to parse (with the parser's message).
absl::StatusOr<Bundle> LoadBundle(const std::string& path,
                                  const std::string& device = "cpu");

// Writes module and card atomically (temporary file, then rename).
absl::Status SaveBundle(const std::string& path, const torch::jit::Module& module,
                        const rat::v1::ModelCard& card);

// JSON (proto3 JSON mapping) to and from a card.
absl::StatusOr<std::string> ModelCardToJson(const rat::v1::ModelCard& card);
absl::StatusOr<rat::v1::ModelCard> ModelCardFromJson(const std::string& json);

}  // namespace rat

#endif  // RAT_CORE_MODELS_BUNDLE_H_
