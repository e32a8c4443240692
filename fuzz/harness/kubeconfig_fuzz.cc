// The kubeconfig reader (source::KubeconfigClientOptions): server URL,
// certificate paths, token, with the context chosen by the input's first
// line (empty: current-context). Relative paths resolve against a directory
// that does not exist; nothing is read from disk.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "ballast/source/kubernetes_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::string_view context;
  if (const size_t nl = text.find('\n');
      nl != absl::string_view::npos && nl < 64 && text.substr(0, 2) == "#@") {
    context = text.substr(2, nl - 2);
  }
  absl::StatusOr<ballast::net::HttpClientOptions> options =
      ballast::source::KubeconfigClientOptions(text, "/nonexistent/kube",
                                               context);
  if (options.ok()) (void)options->base_url.size();
  return 0;
}
