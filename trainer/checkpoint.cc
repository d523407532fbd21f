#include "trainer/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize/output-archive.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"

namespace rat {
namespace {

constexpr char kFormat[] = "rat-train-checkpoint/1";

struct NamedTensors {
  std::vector<std::string> names;
  std::vector<at::Tensor> tensors;
};

NamedTensors CollectTensors(const torch::jit::Module& model, bool buffers) {
  NamedTensors result;
  auto add = [&](const std::string& name, const at::Tensor& tensor) {
    result.names.push_back(name);
    result.tensors.push_back(tensor);
  };
  if (buffers) {
    for (const auto& item : model.named_buffers(/*recurse=*/true)) {
      add(item.name, item.value);
    }
  } else {
    for (const auto& item : model.named_parameters(/*recurse=*/true)) {
      add(item.name, item.value);
    }
  }
  return result;
}

void WriteTensors(torch::serialize::OutputArchive& archive,
                  const std::string& kind, const NamedTensors& named) {
  archive.write(kind + "_names", c10::IValue(absl::StrJoin(named.names, "\n")));
  for (size_t i = 0; i < named.tensors.size(); ++i) {
    archive.write(absl::StrCat(kind, "_", i), named.tensors[i].detach());
  }
}

absl::Status ReadTensors(torch::serialize::InputArchive& archive,
                         const std::string& kind, const NamedTensors& target) {
  c10::IValue names_value;
  archive.read(kind + "_names", names_value);
  const std::string& joined = names_value.toStringRef();
  std::vector<std::string> names;
  if (!joined.empty()) names = absl::StrSplit(joined, '\n');
  if (names != target.names) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", kind, "s [", absl::StrJoin(names, ", "),
                     "] do not match the model's [",
                     absl::StrJoin(target.names, ", "), "]"));
  }

  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < names.size(); ++i) {
    at::Tensor saved;
    archive.read(absl::StrCat(kind, "_", i), saved);
    if (!saved.sizes().equals(target.tensors[i].sizes())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint ", kind, " \"", names[i], "\" has shape ",
          absl::StrJoin(saved.sizes(), "x"), ", the model expects ",
          absl::StrJoin(target.tensors[i].sizes(), "x")));
    }
    target.tensors[i].copy_(saved);
  }
  return absl::OkStatus();
}

void WriteProgress(torch::serialize::OutputArchive& archive,
                   const TrainingProgress& progress) {
  archive.write("epoch", c10::IValue(progress.epoch));
  archive.write("batch_in_epoch", c10::IValue(progress.batch_in_epoch));
  archive.write("step", c10::IValue(progress.step));
  archive.write("train_seconds", c10::IValue(progress.train_seconds));
}

TrainingProgress ReadProgress(torch::serialize::InputArchive& archive) {
  TrainingProgress progress;
  c10::IValue value;
  archive.read("epoch", value);
  progress.epoch = value.toInt();
  archive.read("batch_in_epoch", value);
  progress.batch_in_epoch = value.toInt();
  archive.read("step", value);
  progress.step = value.toInt();
  archive.read("train_seconds", value);
  progress.train_seconds = value.toDouble();
  return progress;
}

at::Tensor GeneratorState() {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void SetGeneratorState(const at::Tensor& state) {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

}  // namespace

absl::Status SaveCheckpoint(const std::string& path,
                            const torch::jit::Module& model,
                            torch::optim::Optimizer& optimizer,
                            const TrainOptions& options,
                            const TrainingProgress& progress) {
  const std::string temporary = path + ".tmp";
  RAT_RETURN_IF_ERROR(
      CallTorch(absl::StrCat("writing checkpoint \"", temporary, "\""), [&]() {
        torch::serialize::OutputArchive archive;
        archive.write("format", c10::IValue(std::string(kFormat)));
        archive.write("options",
                      c10::IValue(TrainOptionsToJson(options).dump()));
        WriteProgress(archive, progress);
        WriteTensors(archive, "parameter", CollectTensors(model, false));
        WriteTensors(archive, "buffer", CollectTensors(model, true));
        archive.write("cpu_generator_state", GeneratorState());

        torch::serialize::OutputArchive optimizer_archive;
        optimizer.save(optimizer_archive);
        archive.write("optimizer", optimizer_archive);
        archive.save_to(temporary);
      }));

  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    return absl::InternalError(absl::StrCat("renaming checkpoint \"", temporary,
                                            "\" to \"", path,
                                            "\" failed: ", error.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckpointContents> ReadCheckpoint(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(
        absl::StrCat("checkpoint \"", path, "\" not found"));
  }
  CheckpointContents contents;
  contents.archive = std::make_shared<torch::serialize::InputArchive>();
  std::string options_json;
  absl::Status status = CallTorch(
      absl::StrCat("reading checkpoint \"", path, "\""), [&]() -> absl::Status {
        contents.archive->load_from(path);
        c10::IValue value;
        if (!contents.archive->try_read("format", value) || !value.isString() ||
            value.toStringRef() != kFormat) {
          return absl::InvalidArgumentError(absl::StrCat(
              "\"", path, "\" is not a rat-train checkpoint (expected format ",
              kFormat, ")"));
        }
        contents.archive->read("options", value);
        options_json = value.toStringRef();
        contents.progress = ReadProgress(*contents.archive);
        return absl::OkStatus();
      });
  // A file that is not a TorchScript archive at all fails inside load_from.
  if (!status.ok()) return absl::InvalidArgumentError(status.message());

  nlohmann::json json = nlohmann::json::parse(options_json, nullptr, false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint \"", path, "\" has unreadable options"));
  }
  RAT_ASSIGN_OR_RETURN(contents.options, TrainOptionsFromJson(json));
  return contents;
}

absl::Status RestoreCheckpoint(const CheckpointContents& checkpoint,
                               torch::jit::Module& model,
                               torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive& archive = *checkpoint.archive;
  return CallTorch("restoring checkpoint", [&]() -> absl::Status {
    RAT_RETURN_IF_ERROR(
        ReadTensors(archive, "parameter", CollectTensors(model, false)));
    RAT_RETURN_IF_ERROR(
        ReadTensors(archive, "buffer", CollectTensors(model, true)));

    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);

    at::Tensor generator_state;
    archive.read("cpu_generator_state", generator_state);
    SetGeneratorState(generator_state);
    return absl::OkStatus();
  });
}

}  // namespace rat
