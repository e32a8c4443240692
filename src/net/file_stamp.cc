#include "ballast/net/file_stamp.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"

namespace ballast::net {

absl::StatusOr<FileStamp> StatFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    return absl::ErrnoToStatus(error, std::strerror(error));
  }
  return FileStamp{.device = static_cast<uint64_t>(st.st_dev),
                   .inode = static_cast<uint64_t>(st.st_ino),
                   .size = static_cast<int64_t>(st.st_size),
                   .mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 +
                               st.st_mtim.tv_nsec};
}

}  // namespace ballast::net
