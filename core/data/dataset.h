// Labelled image data sets held in memory as uint8 tensors.
#ifndef RAT_CORE_DATA_DATASET_H_
#define RAT_CORE_DATA_DATASET_H_

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rat {

struct Dataset {
  std::string name;
  // uint8 N x C x H x W, pixel values 0..255 (CPU).
  at::Tensor images;
  // int64 N (CPU), each in [0, class_names.size()).
  at::Tensor labels;
  std::vector<std::string> class_names;

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

struct DatasetOptions {
  // "fashion-mnist", "mnist", "cifar10", "cifar100", "imagefolder",
  // "cifar10c".
  std::string name = "fashion-mnist";
  // "train" or "test"; imagefolder takes any split folder name ("val").
  std::string split = "test";
  // Folder with the files; empty means $DATASET_ROOT_DIR, then the default
  // for the data set (/usr/share/datasets/fashion-mnist for Fashion-MNIST).
  // Only Fashion-MNIST has a default, so mnist and the others need a root.
  // Expected contents:
  //   mnist, fashion-mnist: {train,t10k}-{images-idx3,labels-idx1}-ubyte,
  //     each plain or with .gz
  //   cifar10: data_batch_1..5.bin, test_batch.bin and optional
  //     batches.meta.txt, in root or root/cifar-10-batches-bin
  //   cifar100: train.bin, test.bin and optional fine_label_names.txt, in
  //     root or root/cifar-100-binary
  //   imagefolder: root/<split>/<class>/*.png|jpg|jpeg, or root/<class>/...
  //     when root has no train, test or val folder
  //   cifar10c: <corruption>.npy and labels.npy, in root or root/CIFAR-10-C
  std::string root;
  // ImageFolder only: output size after resize and center crop (pixels).
  int64_t image_size = 32;
  // ImageFolder only: 1 (grayscale) or 3 (RGB).
  int64_t channels = 3;
  // cifar10c only: corruption name ("gaussian_noise", ...) and severity 1-5
  // (0 = all five).
  std::string corruption = "gaussian_noise";
  int severity = 0;
  // Keep at most this many images (0 = all), taken from the start.
  int64_t limit = 0;
};

// Loads a data set. Returns NOT_FOUND for a missing file or folder and
// INVALID_ARGUMENT for bad options or a malformed file (bad magic,
// truncation, wrong sizes, label out of range, undecodable image). Messages
// name the file and what is wrong with it. Thread safe, because it keeps no
// shared state; ImageFolder decodes on up to eight threads of its own.
absl::StatusOr<Dataset> LoadDataset(const DatasetOptions& options);

// Names LoadDataset accepts.
const std::vector<std::string>& DatasetNames();

// Float32 N x C x H x W in [0, 1] from uint8 images.
at::Tensor ToFloatImages(const at::Tensor& uint8_images);

}  // namespace rat

#endif  // RAT_CORE_DATA_DATASET_H_
