// Option checks, the environment reader, the single-process group and the
// gradient buckets: everything that needs no second process.
#include <cstdlib>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/trainer/distributed_test_model.h"
#include "trainer/distributed.h"
#include "trainer/distributed_bucket.h"

namespace rat {
namespace {

// Clears the torchrun variables before and after each test.
class DistributedEnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override { Clear(); }
  void TearDown() override { Clear(); }

  static void Clear() {
    for (const char* name :
         {"RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}) {
      unsetenv(name);
    }
  }

  static void SetWorld(const char* rank, const char* world_size) {
    setenv("RANK", rank, 1);
    setenv("WORLD_SIZE", world_size, 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", "29511", 1);
  }
};

TEST_F(DistributedEnvironmentTest, UnsetVariablesKeepDefaults) {
  DistributedOptions options;

  ASSERT_TRUE(ReadDistributedEnvironment(&options).ok());

  EXPECT_EQ(options.rank, 0);
  EXPECT_EQ(options.world_size, 1);
  EXPECT_EQ(options.master_addr, "127.0.0.1");
  EXPECT_EQ(options.master_port, 29500);
}

TEST_F(DistributedEnvironmentTest, ReadsAllVariables) {
  SetWorld("3", "4");
  setenv("LOCAL_RANK", "1", 1);
  setenv("MASTER_ADDR", "node0", 1);
  DistributedOptions options;

  ASSERT_TRUE(ReadDistributedEnvironment(&options).ok());

  EXPECT_EQ(options.rank, 3);
  EXPECT_EQ(options.world_size, 4);
  EXPECT_EQ(options.local_rank, 1);
  EXPECT_EQ(options.master_addr, "node0");
  EXPECT_EQ(options.master_port, 29511);
}

TEST_F(DistributedEnvironmentTest, RejectsRankNotBelowWorldSize) {
  SetWorld("2", "2");
  DistributedOptions options;

  absl::Status status = ReadDistributedEnvironment(&options);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "RANK 2 is out of range for WORLD_SIZE 2; expected 0 <= RANK < "
            "WORLD_SIZE");
  EXPECT_EQ(options.rank, 0);
}

TEST_F(DistributedEnvironmentTest, RejectsNonNumericRank) {
  SetWorld("one", "2");
  DistributedOptions options;

  absl::Status status = ReadDistributedEnvironment(&options);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "environment variable RANK must be an integer >= 0, got \"one\"");
}

TEST_F(DistributedEnvironmentTest, RejectsZeroWorldSize) {
  SetWorld("0", "0");
  DistributedOptions options;

  absl::Status status = ReadDistributedEnvironment(&options);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "environment variable WORLD_SIZE must be an integer >= 1, got "
            "\"0\"");
}

TEST_F(DistributedEnvironmentTest, RejectsPortOutOfRange) {
  SetWorld("0", "2");
  setenv("MASTER_PORT", "70000", 1);
  DistributedOptions options;

  absl::Status status = ReadDistributedEnvironment(&options);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "environment variable MASTER_PORT must be an integer in [1, "
            "65535], got \"70000\"");
}

TEST_F(DistributedEnvironmentTest, RejectsMissingMasterAddr) {
  SetWorld("1", "2");
  unsetenv("MASTER_ADDR");
  DistributedOptions options;

  absl::Status status = ReadDistributedEnvironment(&options);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "environment variable MASTER_ADDR is not set; WORLD_SIZE 2 needs "
            "the rendezvous address of rank 0");
}

TEST_F(DistributedEnvironmentTest, RejectsLocalRankAboveRank) {
  SetWorld("0", "2");
  setenv("LOCAL_RANK", "1", 1);
  DistributedOptions options;

  absl::Status status = ReadDistributedEnvironment(&options);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "LOCAL_RANK 1 is greater than RANK 0; expected LOCAL_RANK <= RANK");
}

TEST(DistributedCreateTest, WorldOfOneIsNoOp) {
  auto distributed = Distributed::Create(DistributedOptions(), "cpu");
  ASSERT_TRUE(distributed.ok()) << distributed.status();
  torch::jit::Module module = testing::MakeTinyModel(/*seed=*/7);
  const std::vector<double> before = testing::FlattenState(module);

  EXPECT_EQ((*distributed)->rank(), 0);
  EXPECT_EQ((*distributed)->world_size(), 1);
  EXPECT_TRUE((*distributed)->is_main());
  EXPECT_TRUE((*distributed)->BroadcastModule(module).ok());
  EXPECT_TRUE((*distributed)->AverageGradients(module).ok());
  EXPECT_TRUE((*distributed)->AverageBuffers(module).ok());
  EXPECT_TRUE((*distributed)->Barrier().ok());
  auto sums = (*distributed)->SumScalars({1.5, -2.0});
  ASSERT_TRUE(sums.ok());
  EXPECT_EQ(*sums, std::vector<double>({1.5, -2.0}));
  EXPECT_EQ(testing::FlattenState(module), before);
}

TEST(DistributedCreateTest, RejectsRankOutOfRange) {
  DistributedOptions options;
  options.rank = 2;
  options.world_size = 2;

  auto distributed = Distributed::Create(options, "cpu");

  EXPECT_EQ(distributed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(distributed.status().message(),
            "rank 2 is out of range for world_size 2; expected 0 <= rank < "
            "world_size");
}

TEST(DistributedCreateTest, RejectsUnknownBackend) {
  DistributedOptions options;
  options.backend = "mpi";

  auto distributed = Distributed::Create(options, "cpu");

  EXPECT_EQ(distributed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(distributed.status().message(),
            "backend must be \"gloo\", \"nccl\" or empty, got \"mpi\"");
}

#if !defined(RAT_WITH_NCCL)
TEST(DistributedCreateTest, NcclNeedsCudaBuild) {
  DistributedOptions options;
  options.world_size = 2;
  options.backend = "nccl";

  auto distributed = Distributed::Create(options, "cpu");

  EXPECT_EQ(distributed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(distributed.status().message()),
              ::testing::HasSubstr("built with Gloo only"));
}
#endif

TEST(DistributedBucketTest, SplitsByBytesAndDtype) {
  std::vector<at::Tensor> tensors = {at::zeros({4}), at::zeros({4}),
                                     at::zeros({2}, at::kDouble),
                                     at::zeros({20}), at::zeros({1})};

  // 32 bytes: two 4-float tensors fit, the doubles start a new bucket, the
  // 80-byte tensor gets one of its own.
  auto buckets = SplitIntoBuckets(tensors, 32);

  ASSERT_EQ(buckets.size(), 4u);
  EXPECT_EQ(buckets[0].size(), 2u);
  EXPECT_EQ(buckets[1].size(), 1u);
  EXPECT_EQ(buckets[2].size(), 1u);
  EXPECT_EQ(buckets[3].size(), 1u);
  EXPECT_EQ(buckets[2][0].numel(), 20);
}

TEST(DistributedBucketTest, FlattenThenUnflattenRestoresShapes) {
  at::Tensor a = at::arange(6, at::kFloat).view({2, 3});
  at::Tensor b = at::arange(6, 10, at::kFloat).view({2, 2}).t();
  std::vector<at::Tensor> bucket = {a, b};

  at::Tensor flat = FlattenBucket(bucket);
  ASSERT_EQ(flat.numel(), 10);
  flat.mul_(2);
  UnflattenBucket(flat, bucket);

  EXPECT_TRUE(at::equal(a, at::arange(6, at::kFloat).view({2, 3}) * 2));
  EXPECT_FALSE(b.is_contiguous());
  EXPECT_TRUE(at::equal(b, at::arange(6, 10, at::kFloat).view({2, 2}).t() * 2));
}

}  // namespace
}  // namespace rat
