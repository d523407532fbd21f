// File helpers shared by the model tests.
#ifndef RAT_TESTS_MODELS_TEST_FILES_H_
#define RAT_TESTS_MODELS_TEST_FILES_H_

#include <string>
#include <utility>
#include <vector>

namespace rat::testing {

// A fresh directory under the system temporary directory, removed with its
// contents on destruction.
class ScopedTempDir {
 public:
  ScopedTempDir();
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  // Returns path() + "/" + name.
  std::string File(const std::string& name) const;

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& contents);
std::string ReadFile(const std::string& path);

// Writes a valid zip archive with the given (name, contents) entries stored
// without compression.
void WriteZip(const std::string& path,
              const std::vector<std::pair<std::string, std::string>>& entries);

}  // namespace rat::testing

#endif  // RAT_TESTS_MODELS_TEST_FILES_H_
