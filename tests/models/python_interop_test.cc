// Bundles written from C++ open in Python's torch.jit.load, and TorchScript
// archives written by Python's torch.jit.save open through LoadBundle.
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>
#include <torch/script.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "core/models/architectures.h"
#include "core/models/bundle.h"
#include "tests/models/test_files.h"

namespace rat {
namespace {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t read_bytes;
  while ((read_bytes = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    result.output.append(buffer, read_bytes);
  }
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::vector<double> ParseNumbers(const std::string& line) {
  std::istringstream stream(line);
  std::vector<double> numbers;
  double value;
  while (stream >> value) numbers.push_back(value);
  return numbers;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::istringstream stream(text);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(stream, line)) lines.push_back(line);
  return lines;
}

class PythonInteropTest : public ::testing::Test {
 protected:
  // Uses the first interpreter that imports torch: $RAT_PYTHON when set,
  // then python3 from PATH, then Debian's /usr/bin/python3 (python3-torch),
  // which a python3 from a virtual environment or pyenv may hide.
  void SetUp() override {
    std::vector<std::string> candidates = {"python3", "/usr/bin/python3"};
    if (const char* configured = std::getenv("RAT_PYTHON")) {
      candidates.insert(candidates.begin(), configured);
    }

    std::string failures;
    for (const std::string& candidate : candidates) {
      const CommandResult probe =
          RunCommand("'" + candidate + "' -c 'import torch'");
      if (probe.exit_code == 0) {
        python_ = candidate;
        return;
      }
      failures += "\n" + candidate + " (exit code " +
                  std::to_string(probe.exit_code) + "): " + probe.output;
    }
    GTEST_SKIP() << "no python3 can import torch:" << failures;
  }

  // Writes `source` to a script in the temporary directory and runs it with
  // `argument`; fails the test when python3 exits with an error.
  std::vector<std::string> RunPython(const std::string& source,
                                     const std::string& argument) {
    const std::string script = dir_.File("script.py");
    testing::WriteFile(script, source);
    const CommandResult result =
        RunCommand("'" + python_ + "' '" + script + "' '" + argument + "'");
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return SplitLines(result.output);
  }

  std::string python_;
  testing::ScopedTempDir dir_;
};

TEST_F(PythonInteropTest, CppBundleLoadsInPython) {
  ArchitectureOptions options;
  options.mean = {0.286f};
  options.std = {0.353f};
  options.seed = 3;
  torch::jit::Module module = BuildArchitecture(options).value();
  module.eval();
  rat::v1::ModelCard card;
  card.set_name("fmnist-small");
  card.mutable_input_shape()->set_channels(1);
  card.mutable_input_shape()->set_height(28);
  card.mutable_input_shape()->set_width(28);
  const std::string path = dir_.File("model.pt");
  ASSERT_TRUE(SaveBundle(path, module, card).ok());
  const at::Tensor images =
      at::arange(784, at::kFloat).view({1, 1, 28, 28}) / 784;
  const at::Tensor logits = module.forward({images}).toTensor();

  const std::vector<std::string> lines = RunPython(R"(
import json
import sys
import torch

files = {"model_card.json": ""}
model = torch.jit.load(sys.argv[1], _extra_files=files)
model.eval()
images = torch.arange(784, dtype=torch.float32).reshape(1, 1, 28, 28) / 784
print(json.loads(files["model_card.json"])["name"])
print(" ".join(repr(v) for v in model(images)[0].tolist()))
)",
                                                   path);

  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "fmnist-small");
  const std::vector<double> python_logits = ParseNumbers(lines[1]);
  ASSERT_EQ(python_logits.size(), 10u);
  for (int64_t k = 0; k < 10; ++k) {
    EXPECT_NEAR(python_logits[k], logits[0][k].item<double>(), 1e-6)
        << "class " << k;
  }
}

TEST_F(PythonInteropTest, PythonBundleLoadsThroughLoadBundle) {
  const std::string path = dir_.File("python_model.pt");

  const std::vector<std::string> lines = RunPython(R"(
import sys
import torch

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(12, 3)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))

torch.manual_seed(0)
model = torch.jit.script(Net()).eval()
card = ('{"name": "python-linear", "architecture": "linear",'
        ' "input_shape": {"channels": 3, "height": 2, "width": 2},'
        ' "class_names": ["a", "b", "c"]}')
torch.jit.save(model, sys.argv[1], _extra_files={"model_card.json": card})
images = torch.linspace(0, 1, 12).reshape(1, 3, 2, 2)
print(" ".join(repr(v) for v in model(images)[0].tolist()))
)",
                                                   path);
  ASSERT_EQ(lines.size(), 1u);
  const std::vector<double> python_logits = ParseNumbers(lines[0]);
  ASSERT_EQ(python_logits.size(), 3u);

  absl::StatusOr<Bundle> bundle = LoadBundle(path);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  const absl::StatusOr<int64_t> num_classes = CheckBundle(*bundle);

  ASSERT_TRUE(num_classes.ok()) << num_classes.status();
  EXPECT_EQ(*num_classes, 3);
  EXPECT_EQ(bundle->card.name(), "python-linear");
  EXPECT_EQ(bundle->card.class_names(2), "c");
  const at::Tensor images = at::linspace(0, 1, 12).view({1, 3, 2, 2});
  const at::Tensor logits = bundle->module.forward({images}).toTensor();
  for (int64_t k = 0; k < 3; ++k) {
    EXPECT_NEAR(python_logits[k], logits[0][k].item<double>(), 1e-6)
        << "class " << k;
  }
}

}  // namespace
}  // namespace rat
