#include "ballast/control/poller_source.h"

#include <utility>

namespace ballast::control {

absl::StatusOr<std::shared_ptr<Source>> PollerSource::Create(
    boost::asio::io_context& io, const config::Config& config) {
  absl::StatusOr<std::unique_ptr<control::Poller>> poller =
      control::Poller::Create(io, config);
  if (!poller.ok()) return poller.status();
  return std::make_shared<PollerSource>(*std::move(poller));
}

}  // namespace ballast::control
