// Model bundles: one TorchScript archive whose extra file "model_card.json"
// contains the rat.v1.ModelCard as JSON.
#ifndef RAT_CORE_MODELS_BUNDLE_H_
#define RAT_CORE_MODELS_BUNDLE_H_

#include <torch/script.h>

#include <cstdint>
#include <string>

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
// Errors name the file and the problem. NOT_FOUND for a missing file.
// INVALID_ARGUMENT for a truncated or non-TorchScript file, a missing card, a
// card that fails to parse (with the parser's message), a card whose
// input_shape is missing or not positive, and an invalid device string.
// FAILED_PRECONDITION for a CUDA device that is not available. Does not run
// the model: CheckBundle does.
absl::StatusOr<Bundle> LoadBundle(const std::string& path,
                                  const std::string& device = "cpu");

// Writes module and card atomically: the archive goes to `path` + ".tmp",
// which is then renamed to `path`, so readers never see a partial file.
// INVALID_ARGUMENT for a card that fails ValidateModelCard; INTERNAL when
// writing or renaming fails (the temporary file is removed).
absl::Status SaveBundle(const std::string& path,
                        const torch::jit::Module& module,
                        const rat::v1::ModelCard& card);

// Runs one forward pass of a 1 x C x H x W batch of zeros, with C, H and W
// from the card's input_shape. The pass runs in evaluation mode without
// gradients, on the device of the module's first parameter or buffer (CPU
// when it has none), and the module's previous mode is restored afterwards.
// Returns K, the number of classes.
// INVALID_ARGUMENT when the forward fails, returns anything but a floating
// 1 x K tensor with K >= 2, or K differs from the number of class names
// (when the card lists any). Not thread safe with other calls on the module.
absl::StatusOr<int64_t> CheckBundle(Bundle& bundle);

// OK when the card's input_shape is present with positive channels, height
// and width; INVALID_ARGUMENT naming the field otherwise.
absl::Status ValidateModelCard(const rat::v1::ModelCard& card);

// JSON (proto3 JSON mapping, field names as in the .proto file) to and from
// a card. Parsing is strict: unknown fields give INVALID_ARGUMENT with the
// parser's message.
absl::StatusOr<std::string> ModelCardToJson(const rat::v1::ModelCard& card);
absl::StatusOr<rat::v1::ModelCard> ModelCardFromJson(const std::string& json);

}  // namespace rat

#endif  // RAT_CORE_MODELS_BUNDLE_H_
