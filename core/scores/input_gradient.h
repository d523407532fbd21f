// The clean forward pass and the input-only backward passes that the
// gradient scores (ODIN with epsilon > 0, RR-Fast, RR-BS) share. Internal to
// the scoring engine. Every function throws c10::Error on tensor failures.
#ifndef RAT_CORE_SCORES_INPUT_GRADIENT_H_
#define RAT_CORE_SCORES_INPUT_GRADIENT_H_

#include <torch/script.h>

namespace rat {

// Runs `model` on `images` (N x C x H x W) and returns its output tensor.
torch::Tensor Forward(torch::jit::Module& model, const torch::Tensor& images);

// Runs the forward pass under c10::InferenceMode and returns the
// predicted label of each image (N int64). The result is an inference tensor.
torch::Tensor PredictLabels(torch::jit::Module& model,
                            const torch::Tensor& images);

// Output of the clean forward pass.
struct CleanForward {
  // Detached copy of the images that requires grad when `with_graph` was
  // set; the images themselves otherwise.
  torch::Tensor input;
  // N x K logits; attached to the autograd graph of `input` when built with
  // a graph.
  torch::Tensor logits;
  // N int64 argmax of the logits.
  torch::Tensor predictions;
};

// Runs the clean forward pass. With `with_graph` the pass records an
// autograd graph to the input only, for ConfidenceGradientSign; parameter
// gradients are never accumulated. Without it the pass runs under
// torch::NoGradGuard.
CleanForward RunCleanForward(torch::jit::Module& model,
                             const torch::Tensor& images, bool with_graph);

// Returns sign(grad_x log softmax(f(x) / T)_{y_hat}) per image, with
// y_hat = `predictions`: the input direction that raises the confidence in
// the predicted class fastest (values -1, 0, +1, same shape as `input`).
//
// Only the sign is used, so each image's objective is rescaled by
// T / (1 - p_T(x)_{y_hat}) > 0: the rescaled gradient is
// sum_{j != y_hat} q_j (grad f_{y_hat} - grad f_j) with q = softmax over the
// other classes, which does not underflow to zero when the softmax saturates
// (logit gaps of thousands). Summing the per-image objectives gives
// per-image gradients because the model is in evaluation mode.
// `retain_graph` keeps the graph for a further call at another temperature.
torch::Tensor ConfidenceGradientSign(const torch::Tensor& input,
                                     const torch::Tensor& logits,
                                     const torch::Tensor& predictions,
                                     double temperature, bool retain_graph);

}  // namespace rat

#endif  // RAT_CORE_SCORES_INPUT_GRADIENT_H_
