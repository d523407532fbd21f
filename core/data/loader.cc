#include "core/data/loader.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"
#include "core/data/random.h"

namespace rat {
namespace {

// Separates the augmentation streams from the shuffle stream of an epoch.
constexpr uint64_t kAugmentStream = 0x61756731;  // "aug1"

absl::Status CheckDataset(const Dataset& dataset) {
  const at::Tensor& images = dataset.images;
  const at::Tensor& labels = dataset.labels;
  if (!images.defined() || !labels.defined() || dataset.size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("data set \"", dataset.name, "\" is empty"));
  }
  if (images.scalar_type() != at::kByte || images.dim() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("data set \"", dataset.name,
                     "\": images must be uint8 N x C x H x W, got ",
                     std::string(c10::toString(images.scalar_type())), " with ",
                     images.dim(), " dimensions"));
  }
  if (labels.scalar_type() != at::kLong || labels.dim() != 1 ||
      labels.size(0) != images.size(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("data set \"", dataset.name,
                     "\": labels must be int64 of length ", images.size(0)));
  }
  return absl::OkStatus();
}

absl::Status CheckOptions(const LoaderOptions& options) {
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be positive, got ", options.batch_size));
  }
  if (options.world_size < 1 || options.rank < 0 ||
      options.rank >= options.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", options.rank, " is invalid for world_size ",
                     options.world_size, ", expected 0 <= rank < world_size"));
  }
  if (options.prefetch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefetch must be at least 1, got ", options.prefetch));
  }
  if (options.augmentation.crop_padding < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("crop_padding must be 0 or positive, got ",
                     options.augmentation.crop_padding));
  }
  return absl::OkStatus();
}

// Random crop of the zero-padded image followed by an optional mirror, in
// one pass: output(y, x) = input(y + dy - p, x' + dx - p), where x' is x or
// its mirror W - 1 - x.
void AugmentImage(const uint8_t* input, uint8_t* output, int64_t channels,
                  int64_t height, int64_t width, int64_t padding,
                  SplitMix64& random, bool may_flip) {
  const auto span = static_cast<uint64_t>(2 * padding + 1);
  const int64_t dy = padding > 0 ? static_cast<int64_t>(random.Below(span)) : 0;
  const int64_t dx = padding > 0 ? static_cast<int64_t>(random.Below(span)) : 0;
  const bool flip = may_flip && random.Below(2) == 1;

  for (int64_t c = 0; c < channels; ++c) {
    const uint8_t* plane = input + c * height * width;
    uint8_t* out = output + c * height * width;
    for (int64_t y = 0; y < height; ++y) {
      const int64_t source_y = y + dy - padding;
      for (int64_t x = 0; x < width; ++x) {
        const int64_t source_x = (flip ? width - 1 - x : x) + dx - padding;
        const bool inside = source_y >= 0 && source_y < height &&
                            source_x >= 0 && source_x < width;
        out[y * width + x] = inside ? plane[source_y * width + source_x] : 0;
      }
    }
  }
}

}  // namespace

struct DataLoader::State {
  Dataset dataset;
  LoaderOptions options;
  int64_t images_per_rank = 0;
  int64_t batches = 0;

  // Guards everything below; `changed` signals a push, a pop or a stop.
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Batch> queue;
  bool producer_done = true;
  bool stop = false;
  absl::Status status;
  std::thread producer;

  std::vector<int64_t> RankIndices(int64_t epoch) const;
  Batch BuildBatch(const std::vector<int64_t>& indices, int64_t epoch) const;
  void Produce(int64_t epoch, int64_t skip_batches);
  void StopProducer();
};

std::vector<int64_t> DataLoader::State::RankIndices(int64_t epoch) const {
  const int64_t n = dataset.size();
  std::vector<int64_t> order(n);
  if (options.shuffle) {
    order = SeededPermutation(n, MixSeed(options.seed, epoch));
  } else {
    std::iota(order.begin(), order.end(), int64_t{0});
  }

  std::vector<int64_t> mine(images_per_rank);
  for (int64_t k = 0; k < images_per_rank; ++k) {
    // Positions past N wrap around (drop_last = false only).
    mine[k] = order[(options.rank + k * options.world_size) % n];
  }
  return mine;
}

Batch DataLoader::State::BuildBatch(const std::vector<int64_t>& indices,
                                    int64_t epoch) const {
  const auto count = static_cast<int64_t>(indices.size());
  at::Tensor index = at::empty({count}, at::kLong);
  std::copy(indices.begin(), indices.end(), index.data_ptr<int64_t>());
  at::Tensor images = dataset.images.index_select(0, index).contiguous();

  const Augmentation& augmentation = options.augmentation;
  if (augmentation.crop_padding > 0 || augmentation.horizontal_flip) {
    at::Tensor source = images;
    images = at::empty_like(source);
    const int64_t channels = source.size(1);
    const int64_t height = source.size(2);
    const int64_t width = source.size(3);
    const int64_t image_bytes = channels * height * width;
    const uint64_t epoch_seed = MixSeed(options.seed, epoch, kAugmentStream);
    for (int64_t i = 0; i < count; ++i) {
      SplitMix64 random(MixSeed(epoch_seed, indices[i]));
      AugmentImage(source.data_ptr<uint8_t>() + i * image_bytes,
                   images.data_ptr<uint8_t>() + i * image_bytes, channels,
                   height, width, augmentation.crop_padding, random,
                   augmentation.horizontal_flip);
    }
  }
  return Batch{ToFloatImages(images), dataset.labels.index_select(0, index)};
}

void DataLoader::State::Produce(int64_t epoch, int64_t skip_batches) {
  const std::vector<int64_t> indices = RankIndices(epoch);
  const int64_t batch_size = options.batch_size;
  for (int64_t b = skip_batches; b < batches; ++b) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] {
        return stop || static_cast<int64_t>(queue.size()) < options.prefetch;
      });
      if (stop) break;
    }

    const auto first = indices.begin() + b * batch_size;
    const auto last =
        indices.begin() + std::min(images_per_rank, (b + 1) * batch_size);
    absl::StatusOr<Batch> batch = CallTorch(
        absl::StrCat("building batch ", b, " of epoch ", epoch),
        [&] { return BuildBatch(std::vector<int64_t>(first, last), epoch); });

    std::lock_guard<std::mutex> lock(mutex);
    if (!batch.ok()) {
      status = batch.status();
      break;
    }
    queue.push_back(*std::move(batch));
    changed.notify_all();
  }

  std::lock_guard<std::mutex> lock(mutex);
  producer_done = true;
  changed.notify_all();
}

void DataLoader::State::StopProducer() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = true;
  }
  changed.notify_all();
  if (producer.joinable()) producer.join();
}

absl::StatusOr<std::unique_ptr<DataLoader>> DataLoader::Create(
    const Dataset& dataset, const LoaderOptions& options) {
  RAT_RETURN_IF_ERROR(CheckDataset(dataset));
  RAT_RETURN_IF_ERROR(CheckOptions(options));

  const int64_t n = dataset.size();
  const int64_t world = options.world_size;
  auto state = std::make_unique<State>();
  state->images_per_rank =
      options.drop_last ? n / world : (n + world - 1) / world;
  state->batches = options.drop_last
                       ? state->images_per_rank / options.batch_size
                       : (state->images_per_rank + options.batch_size - 1) /
                             options.batch_size;
  if (state->batches == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data set \"", dataset.name, "\" of ", n, " images gives ",
        state->images_per_rank, " images per rank, fewer than batch_size ",
        options.batch_size,
        " with drop_last; lower batch_size or set "
        "drop_last = false"));
  }
  state->dataset = dataset;
  state->options = options;

  std::unique_ptr<DataLoader> loader(new DataLoader());
  loader->state_ = std::move(state);
  return loader;
}

DataLoader::~DataLoader() {
  if (state_ != nullptr) state_->StopProducer();
}

void DataLoader::StartEpoch(int64_t epoch, int64_t skip_batches) {
  State& state = *state_;
  state.StopProducer();

  state.queue.clear();
  state.status = absl::OkStatus();
  state.stop = false;
  state.producer_done = false;
  const int64_t skip = std::clamp<int64_t>(skip_batches, 0, state.batches);
  state.producer =
      std::thread([&state, epoch, skip] { state.Produce(epoch, skip); });
}

std::optional<Batch> DataLoader::Next() {
  State& state = *state_;
  std::unique_lock<std::mutex> lock(state.mutex);
  state.changed.wait(
      lock, [&] { return !state.queue.empty() || state.producer_done; });
  if (state.queue.empty()) return std::nullopt;

  Batch batch = std::move(state.queue.front());
  state.queue.pop_front();
  state.changed.notify_all();
  return batch;
}

int64_t DataLoader::batches_per_epoch() const { return state_->batches; }

absl::Status DataLoader::status() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->status;
}

absl::StatusOr<std::pair<Dataset, Dataset>> SplitHoldout(
    const Dataset& dataset, double validation_fraction, uint64_t seed) {
  if (!(validation_fraction >= 0.0 && validation_fraction < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "validation_fraction must be in [0, 1), got ", validation_fraction));
  }
  RAT_RETURN_IF_ERROR(CheckDataset(dataset));

  const int64_t n = dataset.size();
  const int64_t validation_count =
      static_cast<int64_t>(std::llround(n * validation_fraction));
  std::vector<int64_t> order = SeededPermutation(n, seed);
  std::vector<int64_t> validation(order.begin(),
                                  order.begin() + validation_count);
  std::vector<int64_t> train(order.begin() + validation_count, order.end());
  std::sort(validation.begin(), validation.end());
  std::sort(train.begin(), train.end());

  auto subset = [&dataset](const std::vector<int64_t>& indices) {
    at::Tensor index =
        at::empty({static_cast<int64_t>(indices.size())}, at::kLong);
    std::copy(indices.begin(), indices.end(), index.data_ptr<int64_t>());
    Dataset part;
    part.name = dataset.name;
    part.class_names = dataset.class_names;
    part.images = dataset.images.index_select(0, index);
    part.labels = dataset.labels.index_select(0, index);
    return part;
  };
  return CallTorch("SplitHoldout", [&] {
    return std::make_pair(subset(train), subset(validation));
  });
}

}  // namespace rat
