// ballast/net/file_stamp.h
//
// What identifies one version of a file on disk, for everything that follows
// files as they change: the config file, TLS certificates and keys, bearer
// tokens and passwords. stat() follows symlinks, so a ConfigMap's `..data`
// swap and an editor's rename both show as a new stamp.
//
//   absl::StatusOr<FileStamp> now = StatFile("/etc/ballast/config.yaml");
//   if (now.ok() && *now != last) { /* read it again */ }
#ifndef BALLAST_NET_FILE_STAMP_H_
#define BALLAST_NET_FILE_STAMP_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace ballast::net {

struct FileStamp {
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t size = -1;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// The stamp of `path`, or NotFound / PermissionDenied / Unavailable with
// strerror's text.
absl::StatusOr<FileStamp> StatFile(const std::string& path);

}  // namespace ballast::net

#endif  // BALLAST_NET_FILE_STAMP_H_
