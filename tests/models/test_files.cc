#include "tests/models/test_files.h"

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace rat::testing {
namespace {

uint32_t Crc32(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
  }
  return ~crc;
}

void AppendLittleEndian(std::string& out, uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  }
}

}  // namespace

ScopedTempDir::ScopedTempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "rat_models_test_XXXXXX")
          .string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed for " + pattern);
  }
  path_ = pattern;
}

ScopedTempDir::~ScopedTempDir() {
  std::error_code error;
  std::filesystem::remove_all(path_, error);
}

std::string ScopedTempDir::File(const std::string& name) const {
  return path_ + "/" + name;
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Layout from the PKWARE APPNOTE: a local header and the data per entry,
// then the central directory and its end record.
void WriteZip(const std::string& path,
              const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string archive;
  std::string directory;
  for (const auto& [name, data] : entries) {
    const uint32_t offset = static_cast<uint32_t>(archive.size());
    const uint32_t crc = Crc32(data);
    const uint32_t size = static_cast<uint32_t>(data.size());

    AppendLittleEndian(archive, 0x04034b50u, 4);  // local file header
    AppendLittleEndian(archive, 20, 2);           // version needed
    AppendLittleEndian(archive, 0, 2);            // flags
    AppendLittleEndian(archive, 0, 2);            // method: stored
    AppendLittleEndian(archive, 0, 4);            // time and date
    AppendLittleEndian(archive, crc, 4);
    AppendLittleEndian(archive, size, 4);
    AppendLittleEndian(archive, size, 4);
    AppendLittleEndian(archive, static_cast<uint32_t>(name.size()), 2);
    AppendLittleEndian(archive, 0, 2);  // extra field length
    archive += name;
    archive += data;

    AppendLittleEndian(directory, 0x02014b50u, 4);  // central header
    AppendLittleEndian(directory, 20, 2);           // version made by
    AppendLittleEndian(directory, 20, 2);           // version needed
    AppendLittleEndian(directory, 0, 2);
    AppendLittleEndian(directory, 0, 2);
    AppendLittleEndian(directory, 0, 4);
    AppendLittleEndian(directory, crc, 4);
    AppendLittleEndian(directory, size, 4);
    AppendLittleEndian(directory, size, 4);
    AppendLittleEndian(directory, static_cast<uint32_t>(name.size()), 2);
    AppendLittleEndian(directory, 0, 2);  // extra field length
    AppendLittleEndian(directory, 0, 2);  // comment length
    AppendLittleEndian(directory, 0, 2);  // disk number
    AppendLittleEndian(directory, 0, 2);  // internal attributes
    AppendLittleEndian(directory, 0, 4);  // external attributes
    AppendLittleEndian(directory, offset, 4);
    directory += name;
  }

  const uint32_t directory_offset = static_cast<uint32_t>(archive.size());
  archive += directory;
  AppendLittleEndian(archive, 0x06054b50u, 4);  // end of central directory
  AppendLittleEndian(archive, 0, 2);
  AppendLittleEndian(archive, 0, 2);
  AppendLittleEndian(archive, static_cast<uint32_t>(entries.size()), 2);
  AppendLittleEndian(archive, static_cast<uint32_t>(entries.size()), 2);
  AppendLittleEndian(archive, static_cast<uint32_t>(directory.size()), 4);
  AppendLittleEndian(archive, directory_offset, 4);
  AppendLittleEndian(archive, 0, 2);  // comment length
  WriteFile(path, archive);
}

}  // namespace rat::testing
