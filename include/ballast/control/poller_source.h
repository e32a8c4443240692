// ballast/control/poller_source.h
//
// The control loop's Source in production: the Poller of one config, polling
// asynchronously on an io_context within the loop's tick budget.
//
//   ASSIGN_OR_RETURN(std::shared_ptr<Source> source,
//                    PollerSource::Create(io, config));
//   loop.Apply(config, std::move(source));
//
// Thread-safety: as Poller's; `done` runs on one of the io_context's threads.
#ifndef BALLAST_CONTROL_POLLER_SOURCE_H_
#define BALLAST_CONTROL_POLLER_SOURCE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "ballast/config/config.h"
#include "ballast/control/control_loop.h"
#include "ballast/control/poller.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace ballast::control {

class PollerSource : public Source {
 public:
  // Builds the poller of `config` (Poller::Create's errors).
  static absl::StatusOr<std::shared_ptr<Source>> Create(
      boost::asio::io_context& io,
      std::shared_ptr<const config::Config> config);

  explicit PollerSource(std::unique_ptr<control::Poller> poller)
      : poller_(std::move(poller)) {}

  void Poll(absl::Time now, absl::Duration budget,
            absl::AnyInvocable<void(control::PollResult)> done) override {
    poller_->Poll(now, std::move(done), budget);
  }

 private:
  std::unique_ptr<control::Poller> poller_;
};

}  // namespace ballast::control

#endif  // BALLAST_CONTROL_POLLER_SOURCE_H_
