#include "core/data/loader.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace rat {
namespace {

// Returns `count` images of 1 x height x width with distinct non-zero
// pixels. Image i has label i, so a batch's labels name its images.
Dataset NumberedDataset(int64_t count, int64_t height = 2, int64_t width = 2) {
  Dataset dataset;
  dataset.name = "numbered";
  dataset.images = at::arange(count * height * width, at::kLong)
                       .remainder(255)
                       .add(1)
                       .to(at::kByte)
                       .reshape({count, 1, height, width});
  dataset.labels = at::arange(count, at::kLong);
  return dataset;
}

std::unique_ptr<DataLoader> MakeLoader(const Dataset& dataset,
                                       const LoaderOptions& options) {
  absl::StatusOr<std::unique_ptr<DataLoader>> loader =
      DataLoader::Create(dataset, options);
  EXPECT_TRUE(loader.ok()) << loader.status();
  return loader.ok() ? *std::move(loader) : nullptr;
}

// Labels of every batch of one epoch, batch by batch.
std::vector<std::vector<int64_t>> EpochLabels(DataLoader& loader, int64_t epoch,
                                              int64_t skip_batches = 0) {
  std::vector<std::vector<int64_t>> batches;
  loader.StartEpoch(epoch, skip_batches);
  while (std::optional<Batch> batch = loader.Next()) {
    const int64_t* labels = batch->labels.data_ptr<int64_t>();
    batches.emplace_back(labels, labels + batch->labels.size(0));
  }
  return batches;
}

std::vector<int64_t> Flatten(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<int64_t> all;
  for (const std::vector<int64_t>& batch : batches) {
    all.insert(all.end(), batch.begin(), batch.end());
  }
  return all;
}

std::vector<int64_t> Range(int64_t count) {
  std::vector<int64_t> values(count);
  std::iota(values.begin(), values.end(), int64_t{0});
  return values;
}

LoaderOptions Options(int64_t batch_size, uint64_t seed = 7) {
  LoaderOptions options;
  options.batch_size = batch_size;
  options.seed = seed;
  return options;
}

TEST(DataLoaderTest, VisitsEveryImageOncePerEpoch) {
  const Dataset dataset = NumberedDataset(100);
  auto loader = MakeLoader(dataset, Options(10));
  ASSERT_NE(loader, nullptr);

  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> seen = Flatten(EpochLabels(*loader, epoch));
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, Range(100)) << "epoch " << epoch;
  }
  EXPECT_EQ(loader->batches_per_epoch(), 10);
}

TEST(DataLoaderTest, BatchHoldsScaledImagesAndTheirLabels) {
  const Dataset dataset = NumberedDataset(12);
  auto loader = MakeLoader(dataset, Options(4));
  ASSERT_NE(loader, nullptr);

  loader->StartEpoch(0);
  std::optional<Batch> batch = loader->Next();

  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->images.sizes(), (std::vector<int64_t>{4, 1, 2, 2}));
  EXPECT_EQ(batch->images.scalar_type(), at::kFloat);
  const at::Tensor expected =
      dataset.images.index_select(0, batch->labels).to(at::kFloat) / 255.0;
  EXPECT_TRUE(batch->images.allclose(expected));
}

TEST(DataLoaderTest, SameSeedGivesSameOrder) {
  const Dataset dataset = NumberedDataset(50);
  auto first = MakeLoader(dataset, Options(5, 11));
  auto second = MakeLoader(dataset, Options(5, 11));
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);

  EXPECT_EQ(EpochLabels(*first, 3), EpochLabels(*second, 3));
}

TEST(DataLoaderTest, EpochAndSeedChangeOrder) {
  const Dataset dataset = NumberedDataset(50);
  auto loader = MakeLoader(dataset, Options(5, 11));
  auto other_seed = MakeLoader(dataset, Options(5, 12));
  ASSERT_NE(loader, nullptr);
  ASSERT_NE(other_seed, nullptr);

  const auto epoch0 = EpochLabels(*loader, 0);
  EXPECT_NE(epoch0, EpochLabels(*loader, 1));
  EXPECT_NE(epoch0, EpochLabels(*other_seed, 0));
  EXPECT_NE(Flatten(epoch0), Range(50));
}

TEST(DataLoaderTest, NoShuffleKeepsDataSetOrder) {
  const Dataset dataset = NumberedDataset(20);
  LoaderOptions options = Options(5);
  options.shuffle = false;
  auto loader = MakeLoader(dataset, options);
  ASSERT_NE(loader, nullptr);

  EXPECT_EQ(Flatten(EpochLabels(*loader, 4)), Range(20));
}

TEST(DataLoaderTest, SkipBatchesResumesSameSequence) {
  const Dataset dataset = NumberedDataset(64);
  auto loader = MakeLoader(dataset, Options(8));
  ASSERT_NE(loader, nullptr);

  const auto full = EpochLabels(*loader, 2);
  const auto resumed = EpochLabels(*loader, 2, /*skip_batches=*/3);

  ASSERT_EQ(full.size(), 8u);
  EXPECT_EQ(resumed,
            std::vector<std::vector<int64_t>>(full.begin() + 3, full.end()));
}

TEST(DataLoaderTest, SkipPastEndGivesEmptyEpoch) {
  auto loader = MakeLoader(NumberedDataset(16), Options(4));
  ASSERT_NE(loader, nullptr);

  EXPECT_TRUE(EpochLabels(*loader, 0, /*skip_batches=*/9).empty());
}

TEST(DataLoaderTest, StartEpochAbandonsUnfinishedEpoch) {
  auto loader = MakeLoader(NumberedDataset(40), Options(4));
  ASSERT_NE(loader, nullptr);

  loader->StartEpoch(0);
  ASSERT_TRUE(loader->Next().has_value());

  EXPECT_EQ(EpochLabels(*loader, 1).size(), 10u);
}

TEST(DataLoaderTest, DestroyMidEpochStopsProducer) {
  // The producer fills the prefetch queue and blocks; destruction must wake
  // and join it rather than hang.
  LoaderOptions options = Options(2);
  options.prefetch = 1;
  auto loader = MakeLoader(NumberedDataset(64), options);
  ASSERT_NE(loader, nullptr);
  loader->StartEpoch(0);
  ASSERT_TRUE(loader->Next().has_value());

  loader.reset();

  EXPECT_EQ(loader, nullptr);
}

TEST(DataLoaderTest, StatusIsOkAfterFullEpoch) {
  auto loader = MakeLoader(NumberedDataset(16), Options(4));
  ASSERT_NE(loader, nullptr);

  EXPECT_EQ(EpochLabels(*loader, 0).size(), 4u);

  EXPECT_TRUE(loader->status().ok()) << loader->status();
}

TEST(DataLoaderTest, NextBeforeStartEpochIsEmpty) {
  auto loader = MakeLoader(NumberedDataset(8), Options(4));
  ASSERT_NE(loader, nullptr);

  EXPECT_FALSE(loader->Next().has_value());
}

TEST(DataLoaderTest, DropLastDropsPartialBatch) {
  auto loader = MakeLoader(NumberedDataset(25), Options(10));
  ASSERT_NE(loader, nullptr);

  const auto batches = EpochLabels(*loader, 0);

  EXPECT_EQ(loader->batches_per_epoch(), 2);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].size(), 10u);
}

TEST(DataLoaderTest, KeepLastYieldsPartialBatch) {
  LoaderOptions options = Options(10);
  options.drop_last = false;
  auto loader = MakeLoader(NumberedDataset(25), options);
  ASSERT_NE(loader, nullptr);

  const auto batches = EpochLabels(*loader, 0);

  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[2].size(), 5u);
  std::vector<int64_t> seen = Flatten(batches);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, Range(25));
}

TEST(DataLoaderTest, ShardsAreDisjointAndCovering) {
  const Dataset dataset = NumberedDataset(120);
  std::vector<int64_t> all;
  for (int64_t rank = 0; rank < 3; ++rank) {
    LoaderOptions options = Options(8);
    options.rank = rank;
    options.world_size = 3;
    auto loader = MakeLoader(dataset, options);
    ASSERT_NE(loader, nullptr);

    const auto batches = EpochLabels(*loader, 5);

    EXPECT_EQ(batches.size(), 5u) << "rank " << rank;
    const std::vector<int64_t> mine = Flatten(batches);
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, Range(120));
}

TEST(DataLoaderTest, ShardsWithoutDropLastCoverAll) {
  const Dataset dataset = NumberedDataset(103);
  std::set<int64_t> seen;
  for (int64_t rank = 0; rank < 4; ++rank) {
    LoaderOptions options = Options(10);
    options.rank = rank;
    options.world_size = 4;
    options.drop_last = false;
    auto loader = MakeLoader(dataset, options);
    ASSERT_NE(loader, nullptr);

    const auto batches = EpochLabels(*loader, 1);

    // ceil(103 / 4) = 26 images per rank: batches of 10, 10 and 6.
    ASSERT_EQ(batches.size(), 3u) << "rank " << rank;
    EXPECT_EQ(batches[2].size(), 6u) << "rank " << rank;
    for (int64_t label : Flatten(batches)) seen.insert(label);
  }
  EXPECT_EQ(seen.size(), 103u);
}

TEST(DataLoaderTest, ShardsDropLastHaveEqualBatchCounts) {
  const Dataset dataset = NumberedDataset(103);
  for (int64_t rank = 0; rank < 4; ++rank) {
    LoaderOptions options = Options(5);
    options.rank = rank;
    options.world_size = 4;
    auto loader = MakeLoader(dataset, options);
    ASSERT_NE(loader, nullptr);

    // floor(103 / 4) = 25 images per rank: five full batches.
    EXPECT_EQ(EpochLabels(*loader, 0).size(), 5u) << "rank " << rank;
  }
}

// Images of one epoch, in batch order, as uint8.
at::Tensor EpochImages(DataLoader& loader, int64_t epoch) {
  std::vector<at::Tensor> images;
  loader.StartEpoch(epoch);
  while (std::optional<Batch> batch = loader.Next()) {
    images.push_back(batch->images.mul(255).round().to(at::kByte));
  }
  return at::cat(images);
}

LoaderOptions AugmentedOptions(int64_t padding, bool flip) {
  LoaderOptions options = Options(8);
  options.shuffle = false;
  options.augmentation.crop_padding = padding;
  options.augmentation.horizontal_flip = flip;
  return options;
}

TEST(DataLoaderTest, AugmentationIsDeterministic) {
  const Dataset dataset = NumberedDataset(32, 6, 6);
  auto first = MakeLoader(dataset, AugmentedOptions(2, true));
  auto second = MakeLoader(dataset, AugmentedOptions(2, true));
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);

  const at::Tensor epoch1 = EpochImages(*first, 1);

  EXPECT_TRUE(epoch1.equal(EpochImages(*second, 1)));
  EXPECT_FALSE(epoch1.equal(EpochImages(*first, 2)));
  EXPECT_EQ(epoch1.sizes(), dataset.images.sizes());
}

// Reference padded crop plus optional mirror of one C x H x W image.
at::Tensor ShiftImage(const at::Tensor& image, int64_t padding, int64_t dy,
                      int64_t dx, bool flip) {
  const int64_t height = image.size(1);
  const int64_t width = image.size(2);
  at::Tensor padded = at::zeros(
      {image.size(0), height + 2 * padding, width + 2 * padding}, at::kByte);
  padded.narrow(1, padding, height).narrow(2, padding, width).copy_(image);
  at::Tensor crop = padded.narrow(1, dy, height).narrow(2, dx, width);
  return flip ? crop.flip({2}) : crop.contiguous();
}

TEST(DataLoaderTest, AugmentationIsPaddedCropOrMirror) {
  const int64_t padding = 2;
  const Dataset dataset = NumberedDataset(24, 5, 5);
  auto loader = MakeLoader(dataset, AugmentedOptions(padding, true));
  ASSERT_NE(loader, nullptr);

  const at::Tensor augmented = EpochImages(*loader, 0);

  int64_t shifted = 0;
  for (int64_t i = 0; i < augmented.size(0); ++i) {
    bool matched = false;
    for (int64_t dy = 0; dy <= 2 * padding && !matched; ++dy) {
      for (int64_t dx = 0; dx <= 2 * padding && !matched; ++dx) {
        for (bool flip : {false, true}) {
          if (augmented[i].equal(
                  ShiftImage(dataset.images[i], padding, dy, dx, flip))) {
            matched = true;
            if (dy != padding || dx != padding) ++shifted;
            break;
          }
        }
      }
    }
    EXPECT_TRUE(matched) << "image " << i;
  }
  EXPECT_GT(shifted, 0);
}

TEST(DataLoaderTest, FlipMirrorsKnownImage) {
  Dataset dataset;
  dataset.name = "ramp";
  // Every image is the row 1 2 3 4 repeated over 2 rows.
  dataset.images =
      at::arange(1, 5, at::kLong).to(at::kByte).repeat({64, 1, 2, 1});
  dataset.labels = at::arange(64, at::kLong);
  auto loader = MakeLoader(dataset, AugmentedOptions(0, true));
  ASSERT_NE(loader, nullptr);

  const at::Tensor augmented = EpochImages(*loader, 0);

  const at::Tensor mirrored =
      at::tensor({4, 3, 2, 1}, at::kByte).repeat({1, 2, 1});
  int64_t flipped = 0;
  for (int64_t i = 0; i < augmented.size(0); ++i) {
    const bool is_mirror = augmented[i].equal(mirrored);
    EXPECT_TRUE(is_mirror || augmented[i].equal(dataset.images[i]))
        << "image " << i;
    flipped += is_mirror ? 1 : 0;
  }
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, 64);
}

TEST(DataLoaderTest, RejectsZeroBatchSize) {
  absl::Status status =
      DataLoader::Create(NumberedDataset(4), Options(0)).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "batch_size must be positive, got 0");
}

TEST(DataLoaderTest, RejectsRankOutsideWorld) {
  LoaderOptions options = Options(2);
  options.rank = 2;
  options.world_size = 2;

  absl::Status status =
      DataLoader::Create(NumberedDataset(4), options).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "rank 2 is invalid for world_size 2, expected 0 <= rank < "
            "world_size");
}

TEST(DataLoaderTest, RejectsBatchLargerThanShard) {
  absl::Status status =
      DataLoader::Create(NumberedDataset(10), Options(16)).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "data set \"numbered\" of 10 images gives 10 images per rank, "
            "fewer than batch_size 16 with drop_last; lower batch_size or "
            "set drop_last = false");
}

TEST(DataLoaderTest, RejectsEmptyDataset) {
  absl::Status status = DataLoader::Create(Dataset{}, Options(2)).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "data set \"\" is empty");
}

std::vector<int64_t> Labels(const Dataset& dataset) {
  const int64_t* labels = dataset.labels.data_ptr<int64_t>();
  return std::vector<int64_t>(labels, labels + dataset.size());
}

TEST(SplitHoldoutTest, SizesAreDisjointAndCovering) {
  const Dataset dataset = NumberedDataset(100);

  absl::StatusOr<std::pair<Dataset, Dataset>> split =
      SplitHoldout(dataset, 0.2, 5);

  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->first.size(), 80);
  EXPECT_EQ(split->second.size(), 20);
  EXPECT_EQ(split->first.images.size(0), 80);
  std::vector<int64_t> all = Labels(split->first);
  const std::vector<int64_t> validation = Labels(split->second);
  all.insert(all.end(), validation.begin(), validation.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, Range(100));
}

TEST(SplitHoldoutTest, KeepsImagesWithTheirLabels) {
  const Dataset dataset = NumberedDataset(30);

  absl::StatusOr<std::pair<Dataset, Dataset>> split =
      SplitHoldout(dataset, 0.5, 1);

  ASSERT_TRUE(split.ok()) << split.status();
  const Dataset& validation = split->second;
  EXPECT_TRUE(validation.images.equal(
      dataset.images.index_select(0, validation.labels)));
}

TEST(SplitHoldoutTest, SameSeedSameSplit) {
  const Dataset dataset = NumberedDataset(100);

  auto first = SplitHoldout(dataset, 0.3, 9);
  auto second = SplitHoldout(dataset, 0.3, 9);
  auto other = SplitHoldout(dataset, 0.3, 10);

  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(Labels(first->second), Labels(second->second));
  EXPECT_NE(Labels(first->second), Labels(other->second));
}

TEST(SplitHoldoutTest, RejectsFractionOfOne) {
  absl::Status status = SplitHoldout(NumberedDataset(10), 1.0, 0).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "validation_fraction must be in [0, 1), got 1");
}

}  // namespace
}  // namespace rat
