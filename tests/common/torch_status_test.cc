#include "core/common/torch_status.h"

#include <torch/script.h>

#include "gtest/gtest.h"

namespace rat {
namespace {

TEST(CallTorchTest, ReturnsValueWhenNoException) {
  absl::StatusOr<int64_t> result =
      CallTorch("sum", [] { return torch::ones({3}).sum().item<int64_t>(); });
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(3, *result);
}

TEST(CallTorchTest, ConvertsShapeErrorWithContext) {
  absl::Status status = CallTorch("model \"m\" forward", [] {
    (void)torch::matmul(torch::ones({2, 3}), torch::ones({2, 3}));
  });
  EXPECT_EQ(absl::StatusCode::kInternal, status.code());
  EXPECT_EQ(0u, status.message().find("model \"m\" forward: "));
  EXPECT_EQ(std::string::npos, status.message().find('\n'));
}

TEST(FirstLineTest, DropsBacktrace) {
  EXPECT_EQ("shape mismatch", FirstLine("shape mismatch\nframe #0: ..."));
  EXPECT_EQ("one line", FirstLine("one line"));
}

}  // namespace
}  // namespace rat
