#include "ballast/control/poller_source.h"

#include <utility>

namespace ballast::control {

absl::StatusOr<std::shared_ptr<Source>> PollerSource::Create(
    boost::asio::io_context& io, std::shared_ptr<const config::Config> config) {
  absl::StatusOr<std::unique_ptr<control::Poller>> poller =
      control::Poller::Create(io, std::move(config));
  if (!poller.ok()) return poller.status();
  return std::make_shared<PollerSource>(*std::move(poller));
}

}  // namespace ballast::control
