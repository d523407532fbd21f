// Image files for `rat-client predict`: PNG and JPEG are sent as encoded
// bytes for the server to decode and resize; NumPy .npy files are sent as
// raw tensors.
//
// Supported .npy files (format version 1.0, 2.0 or 3.0, C order):
//   dtype uint8 ('|u1', pixel values 0..255) or little-endian float32
//   ('<f4', pixel values in [0, 1]); shape (C, H, W) or (H, W).
// Python writes one with numpy.save("x.npy", array.astype("uint8")).
#ifndef RAT_CLIENT_IMAGE_INPUT_H_
#define RAT_CLIENT_IMAGE_INPUT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rat/v1/inference.pb.h"

namespace rat::client {

// Reads `path` and recognizes the format from its first bytes.
// INVALID_ARGUMENT naming the file for an unreadable file, an unknown format
// or an unsupported .npy dtype, order or shape.
absl::StatusOr<rat::v1::Image> ReadImageFile(const std::string& path);

// Parses the bytes of a .npy file into a tensor image; `name` is used in
// error messages.
absl::StatusOr<rat::v1::TensorImage> ParseNpy(absl::string_view bytes,
                                              absl::string_view name);

}  // namespace rat::client

#endif  // RAT_CLIENT_IMAGE_INPUT_H_
