#include "core/models/bundle.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"

namespace rat {
namespace {

namespace fs = std::filesystem;

std::string Quoted(const std::string& path) {
  return absl::StrCat("\"", path, "\"");
}

// Checks that `path` names a non-empty regular file before LibTorch opens it,
// so a missing file gives NOT_FOUND instead of a zip reader error.
absl::Status CheckBundleFile(const std::string& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (!fs::exists(status)) {
    return absl::NotFoundError(
        absl::StrCat("model bundle ", Quoted(path), " not found"));
  }
  if (!fs::is_regular_file(status)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model bundle ", Quoted(path), " is not a regular file"));
  }

  const uintmax_t size_bytes = fs::file_size(path, error);
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the size of model bundle ", Quoted(path),
                     ": ", error.message()));
  }
  if (size_bytes == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model bundle ", Quoted(path),
                     " is empty (0 bytes), expected a TorchScript archive"));
  }
  return absl::OkStatus();
}

absl::StatusOr<c10::Device> ParseDevice(const std::string& name) {
  absl::StatusOr<c10::Device> device =
      CallTorch("device", [&] { return c10::Device(name); });
  if (!device.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid device \"", name, "\", expected e.g. \"cpu\" or \"cuda:0\""));
  }

  // NOTE: only the "no CUDA device" branch has been run, because Debian's
  // LibTorch 1.13 is built for CPU only.
  if (device->is_cuda()) {
    const int64_t available = static_cast<int64_t>(torch::cuda::device_count());
    const int64_t index = device->has_index() ? device->index() : 0;
    if (index >= available) {
      return absl::FailedPreconditionError(
          absl::StrCat("device \"", name, "\" is not available: ", available,
                       " CUDA device(s) visible"));
    }
  }
  return *device;
}

// Flushes the written archive to disk before the rename publishes it, so a
// crash cannot leave a renamed but incomplete bundle.
absl::Status SyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open ", Quoted(path), " to flush it"));
  }
  const int result = ::fsync(fd);
  ::close(fd);
  if (result != 0) {
    return absl::InternalError(
        absl::StrCat("fsync of ", Quoted(path), " failed"));
  }
  return absl::OkStatus();
}

// Finds the device of the module's first parameter or buffer.
c10::Device ModuleDevice(const torch::jit::Module& module) {
  for (const at::Tensor& parameter : module.parameters()) {
    return parameter.device();
  }
  for (const at::Tensor& buffer : module.buffers()) {
    return buffer.device();
  }
  return c10::Device(c10::kCPU);
}

std::string ShapeString(at::IntArrayRef sizes) {
  return absl::StrJoin(sizes.begin(), sizes.end(), "x");
}

// Checks the output of CheckBundle's forward pass and returns K.
absl::StatusOr<int64_t> CheckLogits(const rat::v1::ModelCard& card,
                                    const c10::IValue& output) {
  const std::string model = Quoted(card.name());
  if (!output.isTensor()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model ", model, " forward returned ", output.tagKind(),
                     ", expected a 1 x K tensor of logits"));
  }

  const at::Tensor& logits = output.toTensor();
  if (logits.dim() != 2 || logits.size(0) != 1 || logits.size(1) < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model ", model, " forward of one image returned logits of shape ",
        ShapeString(logits.sizes()), ", expected 1 x K with K >= 2"));
  }
  if (!logits.is_floating_point()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model ", model, " returned logits of type ",
        c10::toString(logits.scalar_type()), ", expected a floating type"));
  }

  const int64_t num_classes = logits.size(1);
  if (card.class_names_size() > 0 && card.class_names_size() != num_classes) {
    return absl::InvalidArgumentError(
        absl::StrCat("model ", model, " returns ", num_classes,
                     " logits but its card lists ", card.class_names_size(),
                     " class names"));
  }
  return num_classes;
}

}  // namespace

absl::Status ValidateModelCard(const rat::v1::ModelCard& card) {
  if (!card.has_input_shape()) {
    return absl::InvalidArgumentError(
        "model card has no input_shape, expected channels, height and width");
  }

  const rat::v1::InputShape& shape = card.input_shape();
  if (shape.channels() <= 0 || shape.height() <= 0 || shape.width() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model card input_shape is ", shape.channels(), "x", shape.height(),
        "x", shape.width(), ", expected positive channels, height and width"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ModelCardToJson(const rat::v1::ModelCard& card) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;

  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(card, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot write model card as JSON: ", status.ToString()));
  }
  return json;
}

absl::StatusOr<rat::v1::ModelCard> ModelCardFromJson(const std::string& json) {
  rat::v1::ModelCard card;
  const auto status = google::protobuf::util::JsonStringToMessage(
      json, &card, google::protobuf::util::JsonParseOptions());
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid model card JSON: ", status.ToString()));
  }
  return card;
}

absl::StatusOr<Bundle> LoadBundle(const std::string& path,
                                  const std::string& device) {
  RAT_RETURN_IF_ERROR(CheckBundleFile(path));
  RAT_ASSIGN_OR_RETURN(const c10::Device target, ParseDevice(device));

  // torch::jit::load fills only the keys present in the archive, so an
  // empty value after loading means the card is missing.
  torch::jit::ExtraFilesMap extra_files{{kModelCardFile, ""}};
  absl::StatusOr<torch::jit::Module> module = CallTorch(
      "load", [&] { return torch::jit::load(path, target, extra_files); });
  if (!module.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model bundle ", Quoted(path), " is not a valid TorchScript archive: ",
        absl::StripPrefix(module.status().message(), "load: ")));
  }

  const std::string& json = extra_files[kModelCardFile];
  if (json.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model bundle ", Quoted(path), " has no ", kModelCardFile,
        " extra file. Save it with SaveBundle or torch.jit.save(..., "
        "_extra_files={\"",
        kModelCardFile, "\": ...})"));
  }

  Bundle bundle;
  absl::StatusOr<rat::v1::ModelCard> card = ModelCardFromJson(json);
  if (!card.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model bundle ", Quoted(path), ": ", card.status().message()));
  }
  bundle.card = *std::move(card);
  const absl::Status valid = ValidateModelCard(bundle.card);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model bundle ", Quoted(path), ": ", valid.message()));
  }

  bundle.module = *std::move(module);
  bundle.module.eval();
  return bundle;
}

absl::Status SaveBundle(const std::string& path,
                        const torch::jit::Module& module,
                        const rat::v1::ModelCard& card) {
  RAT_RETURN_IF_ERROR(ValidateModelCard(card));
  RAT_ASSIGN_OR_RETURN(std::string json, ModelCardToJson(card));

  const std::string temporary = path + ".tmp";
  const torch::jit::ExtraFilesMap extra_files{{kModelCardFile, json}};
  absl::Status status = CallTorch(absl::StrCat("save ", Quoted(temporary)),
                                  [&] { module.save(temporary, extra_files); });
  if (status.ok()) status = SyncFile(temporary);

  std::error_code error;
  if (status.ok()) {
    fs::rename(temporary, path, error);
    if (!error) return absl::OkStatus();
    status = absl::InternalError(
        absl::StrCat("cannot rename ", Quoted(temporary), " to ", Quoted(path),
                     ": ", error.message()));
  }
  fs::remove(temporary, error);
  return status;
}

absl::StatusOr<int64_t> CheckBundle(Bundle& bundle) {
  RAT_RETURN_IF_ERROR(ValidateModelCard(bundle.card));
  const rat::v1::InputShape& shape = bundle.card.input_shape();
  const std::vector<int64_t> sizes = {1, shape.channels(), shape.height(),
                                      shape.width()};

  const bool was_training = bundle.module.is_training();
  absl::StatusOr<c10::IValue> output = CallTorch("forward", [&] {
    at::NoGradGuard no_grad;
    bundle.module.eval();
    const at::Tensor zeros = at::zeros(
        sizes, at::TensorOptions().device(ModuleDevice(bundle.module)));
    return bundle.module.forward({zeros});
  });
  CallTorch("restore mode", [&] {
    bundle.module.train(was_training);
  }).IgnoreError();

  if (!output.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model \"", bundle.card.name(), "\" failed a forward pass of ",
        ShapeString(sizes),
        " zeros (the card's input_shape): ", output.status().message()));
  }
  return CheckLogits(bundle.card, *output);
}

}  // namespace rat
