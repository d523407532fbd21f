#include "core/models/architectures.h"

#include <torch/script.h>

#include <cmath>
#include <functional>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/substitute.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"
#include "core/models/module_builder.h"

namespace rat {
namespace {

using torch::jit::Module;

// Every architecture halves the resolution twice.
constexpr int64_t kMinImageSizePixels = 4;

absl::Status ValidateOptions(const ArchitectureOptions& options) {
  if (options.channels < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("architecture \"", options.name,
                     "\" expects channels >= 1, got ", options.channels));
  }
  if (options.height < kMinImageSizePixels ||
      options.width < kMinImageSizePixels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "architecture \"", options.name, "\" expects images of at least ",
        kMinImageSizePixels, "x", kMinImageSizePixels, " pixels, got ",
        options.height, "x", options.width));
  }
  if (options.num_classes < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("architecture \"", options.name,
                     "\" expects num_classes >= 2, got ", options.num_classes));
  }

  if (options.mean.size() != options.std.size() ||
      (!options.mean.empty() &&
       static_cast<int64_t>(options.mean.size()) != options.channels)) {
    return absl::InvalidArgumentError(
        absl::StrCat("normalization has ", options.mean.size(), " mean and ",
                     options.std.size(), " std values, expected both empty or ",
                     options.channels, " (one per channel)"));
  }
  for (float value : options.std) {
    if (!(value > 0.0f) || !std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("normalization std ", value,
                       " is invalid, expected a finite "
                       "value > 0"));
    }
  }
  return absl::OkStatus();
}

// Registers mean and std as 1 x C x 1 x 1 buffers. An empty normalization
// becomes mean 0 and std 1, so every model has the same forward.
void AddNormalization(Module& model, const ArchitectureOptions& options) {
  at::Tensor mean = at::zeros({1, options.channels, 1, 1});
  at::Tensor std = at::ones({1, options.channels, 1, 1});
  for (int64_t c = 0; c < static_cast<int64_t>(options.mean.size()); ++c) {
    mean[0][c] = options.mean[c];
    std[0][c] = options.std[c];
  }
  model.register_buffer("mean", mean);
  model.register_buffer("std", std);
}

Module BuildSmallCnn(ModuleBuilder& builder,
                     const ArchitectureOptions& options) {
  Module model = builder.NewModule("SmallCnn");
  AddNormalization(model, options);

  // Narrow enough that one forward and backward pass of 128 images stays
  // cheap on a CPU; see architectures.h.
  const int64_t widths[] = {16, 16, 32, 32};
  int64_t in_channels = options.channels;
  for (int i = 0; i < 4; ++i) {
    model.register_module(absl::StrCat("conv", i + 1),
                          builder.Conv2d(in_channels, widths[i], 3, 1));
    model.register_module(absl::StrCat("bn", i + 1),
                          builder.BatchNorm2d(widths[i]));
    in_channels = widths[i];
  }

  // Each 2x2 max pooling floors odd sizes, as torch.max_pool2d does. Without
  // gradients it runs as two element-wise maxima of strided views: LibTorch
  // 1.13's CPU max_pool2d kernel took 6 ms for one 128 x 16 x 28 x 28 batch,
  // the maxima 0.5 ms. With gradients max_pool2d stays, because the maxima's
  // backward through the strided views cost three times its saving.
  //
  // In training mode the activations after the first block are kept
  // channels-last, the one layout for which max_pool2d is vectorized. A plain
  // training step of 128 images then took 46 ms instead of 62 ms, and a RAT
  // step 97 ms instead of 119 ms. Scoring stays on the default layout, where
  // the input gradient's convolutions measured faster. A one-channel input is
  // both layouts at once, so the switch follows the first convolution.
  const int64_t pooled_pixels = (options.height / 4) * (options.width / 4);
  model.register_module("fc1", builder.Linear(32 * pooled_pixels, 128));
  model.register_module("fc2", builder.Linear(128, options.num_classes));

  builder.Define(model, R"(
def max_pool_2x2(self, x):
    if x.requires_grad:
        return torch.max_pool2d(x, [2, 2], [2, 2])
    h = x.size(2) // 2 * 2
    w = x.size(3) // 2 * 2
    x = torch.maximum(x[:, :, :h, 0:w:2], x[:, :, :h, 1:w:2])
    return torch.maximum(x[:, :, 0::2], x[:, :, 1::2])

def forward(self, x):
    x = (x - self.mean) / self.std
    x = torch.relu(self.bn1.forward(self.conv1.forward(x)))
    if self.training:
        x = x.contiguous(memory_format=2)  # torch.channels_last
    x = torch.relu(self.bn2.forward(self.conv2.forward(x)))
    x = self.max_pool_2x2(x)
    x = torch.relu(self.bn3.forward(self.conv3.forward(x)))
    x = torch.relu(self.bn4.forward(self.conv4.forward(x)))
    x = self.max_pool_2x2(x)
    x = torch.relu(self.fc1.forward(torch.flatten(x, 1)))
    return self.fc2.forward(x)
)");
  return model;
}

// Post-activation basic block with an option A shortcut: identity when the
// shape is kept, otherwise every other pixel with zero channels added on
// both sides.
Module BuildBasicBlock(ModuleBuilder& builder, int64_t in_channels,
                       int64_t out_channels, int64_t stride) {
  const bool identity = stride == 1 && in_channels == out_channels;
  const int64_t pad = (out_channels - in_channels) / 2;
  Module block = builder.NewModule(
      identity ? std::string("BasicBlock")
               : absl::StrCat("BasicBlockDown_s", stride, "_pad", pad));
  block.register_module("conv1",
                        builder.Conv2d(in_channels, out_channels, 3, stride));
  block.register_module("bn1", builder.BatchNorm2d(out_channels));
  block.register_module("conv2",
                        builder.Conv2d(out_channels, out_channels, 3, 1));
  block.register_module("bn2", builder.BatchNorm2d(out_channels));

  const std::string shortcut =
      identity ? "x"
               : absl::Substitute(
                     "torch.constant_pad_nd(x[:, :, ::$0, ::$0], "
                     "[0, 0, 0, 0, $1, $2], 0.0)",
                     stride, pad, out_channels - in_channels - pad);
  builder.Define(block, absl::Substitute(R"(
def forward(self, x):
    out = torch.relu(self.bn1.forward(self.conv1.forward(x)))
    out = self.bn2.forward(self.conv2.forward(out))
    return torch.relu(out + $0)
)",
                                         shortcut));
  return block;
}

// Pre-activation wide block: BN-ReLU-conv3x3-BN-ReLU-conv3x3, with a 1x1
// convolution on the pre-activated input as shortcut when the shape changes.
Module BuildWideBlock(ModuleBuilder& builder, int64_t in_channels,
                      int64_t out_channels, int64_t stride) {
  const bool identity = stride == 1 && in_channels == out_channels;
  Module block = builder.NewModule(
      identity ? std::string("WideBlock")
               : absl::StrCat("WideBlockProjection_s", stride));
  block.register_module("bn1", builder.BatchNorm2d(in_channels));
  block.register_module("conv1",
                        builder.Conv2d(in_channels, out_channels, 3, stride));
  block.register_module("bn2", builder.BatchNorm2d(out_channels));
  block.register_module("conv2",
                        builder.Conv2d(out_channels, out_channels, 3, 1));
  if (!identity) {
    block.register_module("shortcut",
                          builder.Conv2d(in_channels, out_channels, 1, stride));
  }

  builder.Define(
      block, absl::Substitute(R"(
def forward(self, x):
    pre = torch.relu(self.bn1.forward(x))
    out = self.conv1.forward(pre)
    out = self.conv2.forward(torch.relu(self.bn2.forward(out)))
    return out + $0
)",
                              identity ? "x" : "self.shortcut.forward(pre)"));
  return block;
}

using BlockFactory =
    std::function<Module(ModuleBuilder&, int64_t, int64_t, int64_t)>;

// A stage of `num_blocks` blocks; the first changes channels and stride.
Module BuildStage(ModuleBuilder& builder, const std::string& class_name,
                  const BlockFactory& make_block, int64_t num_blocks,
                  int64_t in_channels, int64_t out_channels, int64_t stride) {
  Module stage = builder.NewModule(class_name);
  std::string source = "\ndef forward(self, x):\n";
  for (int64_t i = 0; i < num_blocks; ++i) {
    const std::string name = absl::StrCat("block", i);
    stage.register_module(
        name, make_block(builder, i == 0 ? in_channels : out_channels,
                         out_channels, i == 0 ? stride : 1));
    absl::StrAppend(&source, "    x = self.", name, ".forward(x)\n");
  }
  absl::StrAppend(&source, "    return x\n");
  builder.Define(stage, source);
  return stage;
}

Module BuildCifarResNet(ModuleBuilder& builder,
                        const ArchitectureOptions& options, int64_t depth) {
  const int64_t blocks_per_stage = (depth - 2) / 6;
  Module model = builder.NewModule(absl::StrCat("ResNet", depth));
  AddNormalization(model, options);

  model.register_module("conv1", builder.Conv2d(options.channels, 16, 3, 1));
  model.register_module("bn1", builder.BatchNorm2d(16));
  model.register_module("stage1",
                        BuildStage(builder, "ResNetStage1", BuildBasicBlock,
                                   blocks_per_stage, 16, 16, 1));
  model.register_module("stage2",
                        BuildStage(builder, "ResNetStage2", BuildBasicBlock,
                                   blocks_per_stage, 16, 32, 2));
  model.register_module("stage3",
                        BuildStage(builder, "ResNetStage3", BuildBasicBlock,
                                   blocks_per_stage, 32, 64, 2));
  model.register_module("fc", builder.Linear(64, options.num_classes));

  builder.Define(model, R"(
def forward(self, x):
    x = (x - self.mean) / self.std
    x = torch.relu(self.bn1.forward(self.conv1.forward(x)))
    x = self.stage3.forward(self.stage2.forward(self.stage1.forward(x)))
    return self.fc.forward(torch.mean(x, [2, 3]))
)");
  return model;
}

Module BuildWideResNet(ModuleBuilder& builder,
                       const ArchitectureOptions& options, int64_t depth,
                       int64_t widen) {
  const int64_t blocks_per_stage = (depth - 4) / 6;
  const int64_t widths[] = {16 * widen, 32 * widen, 64 * widen};
  Module model =
      builder.NewModule(absl::StrCat("WideResNet", depth, "_", widen));
  AddNormalization(model, options);

  model.register_module("conv1", builder.Conv2d(options.channels, 16, 3, 1));
  model.register_module("stage1",
                        BuildStage(builder, "WideStage1", BuildWideBlock,
                                   blocks_per_stage, 16, widths[0], 1));
  model.register_module("stage2",
                        BuildStage(builder, "WideStage2", BuildWideBlock,
                                   blocks_per_stage, widths[0], widths[1], 2));
  model.register_module("stage3",
                        BuildStage(builder, "WideStage3", BuildWideBlock,
                                   blocks_per_stage, widths[1], widths[2], 2));
  model.register_module("bn", builder.BatchNorm2d(widths[2]));
  model.register_module("fc", builder.Linear(widths[2], options.num_classes));

  builder.Define(model, R"(
def forward(self, x):
    x = self.conv1.forward((x - self.mean) / self.std)
    x = self.stage3.forward(self.stage2.forward(self.stage1.forward(x)))
    x = torch.relu(self.bn.forward(x))
    return self.fc.forward(torch.mean(x, [2, 3]))
)");
  return model;
}

using ArchitectureFactory =
    std::function<Module(ModuleBuilder&, const ArchitectureOptions&)>;

const std::map<std::string, ArchitectureFactory>& Factories() {
  static const auto* factories = new std::map<std::string, ArchitectureFactory>{
      {"small_cnn", BuildSmallCnn},
      {"resnet20",
       [](ModuleBuilder& b, const ArchitectureOptions& o) {
         return BuildCifarResNet(b, o, 20);
       }},
      {"resnet56",
       [](ModuleBuilder& b, const ArchitectureOptions& o) {
         return BuildCifarResNet(b, o, 56);
       }},
      {"resnet110",
       [](ModuleBuilder& b, const ArchitectureOptions& o) {
         return BuildCifarResNet(b, o, 110);
       }},
      {"wrn28_10",
       [](ModuleBuilder& b, const ArchitectureOptions& o) {
         return BuildWideResNet(b, o, 28, 10);
       }},
  };
  return *factories;
}

}  // namespace

const std::vector<std::string>& ArchitectureNames() {
  static const auto* names = new std::vector<std::string>{
      "small_cnn", "resnet20", "resnet56", "resnet110", "wrn28_10"};
  return *names;
}

absl::StatusOr<torch::jit::Module> BuildArchitecture(
    const ArchitectureOptions& options) {
  const auto factory = Factories().find(options.name);
  if (factory == Factories().end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown architecture \"", options.name,
        "\", expected one of: ", absl::StrJoin(ArchitectureNames(), ", ")));
  }
  RAT_RETURN_IF_ERROR(ValidateOptions(options));

  return CallTorch(absl::StrCat("build architecture \"", options.name, "\""),
                   [&] {
                     ModuleBuilder builder(options.seed);
                     return factory->second(builder, options);
                   });
}

absl::StatusOr<NormalizationStats> DefaultNormalization(
    const std::string& dataset) {
  // Mean and standard deviation of the training images per channel, pixel
  // values in [0, 1].
  static const auto* stats = new std::map<std::string, NormalizationStats>{
      {"mnist", {{0.1307f}, {0.3081f}}},
      {"fashion-mnist", {{0.2860f}, {0.3530f}}},
      {"cifar10", {{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}}},
      {"cifar100", {{0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f}}},
  };
  const auto found = stats->find(dataset);
  if (found == stats->end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no default normalization for data set \"", dataset,
                     "\", expected mnist, fashion-mnist, cifar10 or cifar100"));
  }
  return found->second;
}

int64_t CountParameters(const torch::jit::Module& module) {
  int64_t count = 0;
  for (const at::Tensor& parameter : module.parameters()) {
    count += parameter.numel();
  }
  return count;
}

}  // namespace rat
