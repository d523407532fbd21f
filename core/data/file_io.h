// File reading helpers shared by the data set readers. Every error names the
// file it is about.
#ifndef RAT_CORE_DATA_FILE_IO_H_
#define RAT_CORE_DATA_FILE_IO_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rat {

// Reads a whole file. NOT_FOUND when it does not exist, INVALID_ARGUMENT when
// it is not a readable regular file.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

// Reads the non-empty lines of a text file, trimmed of surrounding
// whitespace (class name lists).
absl::StatusOr<std::vector<std::string>> ReadNonEmptyLines(
    const std::string& path);

// Returns the first of `names` that exists under `folder`, as a full path;
// NOT_FOUND listing every name tried otherwise.
absl::StatusOr<std::string> FindFile(const std::string& folder,
                                     const std::vector<std::string>& names);

// Sequential reader for a file that is either gzip-compressed or plain (zlib
// reads plain files through unchanged). Not thread safe.
class GzipReader {
 public:
  // NOT_FOUND when `path` does not exist.
  static absl::StatusOr<std::unique_ptr<GzipReader>> Open(
      const std::string& path);
  ~GzipReader();

  // Reads exactly `size` bytes into `destination`; INVALID_ARGUMENT naming
  // `what` when the file ends early or the compressed data is corrupt.
  absl::Status ReadExact(void* destination, size_t size,
                         absl::string_view what);

  const std::string& path() const { return path_; }

 private:
  GzipReader(std::string path, void* file)
      : path_(std::move(path)), file_(file) {}

  std::string path_;
  void* file_;  // gzFile, owned
};

// Decodes a big-endian unsigned 32-bit integer (the IDX header format).
uint32_t ReadBigEndian32(const unsigned char* bytes);

}  // namespace rat

#endif  // RAT_CORE_DATA_FILE_IO_H_
