#include "ballast/control/control_loop.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "ballast/core/error_kind.h"

namespace ballast::control {

ControlLoop::ControlLoop(ControlLoopOptions options,
                         store::RecommendationStore& store, Observer& observer)
    : options_(std::move(options)), store_(store), observer_(observer) {}

void ControlLoop::Apply(std::shared_ptr<const config::Config> config,
                        std::shared_ptr<Source> source) {
  std::vector<TargetRuntime> runtimes;
  absl::flat_hash_map<std::string, size_t> index;
  runtimes.reserve(config->targets.size());
  for (const config::TargetConfig& t : config->targets) {
    TargetRuntime runtime;
    if (auto old = index_.find(t.spec.name); old != index_.end()) {
      runtime = std::move(runtimes_[old->second]);
      if (runtime.mode != t.spec.mode) {
        // The other mode's history means nothing here: start as new
        // (seeded from the observed count), as a restored record would.
        runtime.history = {};
        runtime.mode = t.spec.mode;
      }
      RemapInputs(t.spec, runtime);
      // currentReplicas may now come from elsewhere: no count is held
      // across a reload.
      runtime.current_replicas.reset();
      runtime.current_sampled_at = absl::InfinitePast();
    } else {
      runtime.target = t.spec.name;
      runtime.mode = t.spec.mode;
      for (const InputSpec& input : t.spec.inputs) {
        runtime.inputs.push_back({.name = input.name});
      }
      runtime.history.inputs.resize(t.spec.inputs.size());
    }
    index.emplace(t.spec.name, runtimes.size());
    runtimes.push_back(std::move(runtime));
  }
  for (const auto& [name, i] : index_) {
    if (!index.contains(name)) observer_.Removed(name);
  }
  runtimes_ = std::move(runtimes);
  index_ = std::move(index);
  source_ = std::move(source);
  config_ = std::move(config);
  ++config_generation_;
}

std::optional<size_t> ControlLoop::FindTarget(absl::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

// Keeps each input's smoothing state and held value under its name when a
// reload (or a restored record) reorders, adds or removes inputs.
void ControlLoop::RemapInputs(const TargetSpec& spec, TargetRuntime& runtime) {
  std::vector<engine::InputState> states(spec.inputs.size());
  std::vector<store::InputValue> values(spec.inputs.size());
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    values[i].name = spec.inputs[i].name;
    for (size_t j = 0; j < runtime.inputs.size(); ++j) {
      if (runtime.inputs[j].name != spec.inputs[i].name) continue;
      if (j < runtime.history.inputs.size()) {
        states[i] = std::move(runtime.history.inputs[j]);
      }
      values[i] = std::move(runtime.inputs[j]);
      break;
    }
  }
  runtime.history.inputs = std::move(states);
  runtime.inputs = std::move(values);
}

std::vector<state::TargetRecord> ControlLoop::Records() const {
  std::vector<state::TargetRecord> records;
  records.reserve(runtimes_.size());
  for (const TargetRuntime& runtime : runtimes_) records.push_back(runtime);
  return records;
}

void ControlLoop::ForEachRecord(
    absl::FunctionRef<void(const state::TargetRecord&)> visit) const {
  for (const TargetRuntime& runtime : runtimes_) visit(runtime);
}

std::vector<std::string> ControlLoop::Restore(
    std::vector<state::TargetRecord> records) {
  std::vector<std::string> incompatible;
  for (state::TargetRecord& record : records) {
    const std::optional<size_t> t = FindTarget(record.target);
    if (!t) continue;
    const TargetSpec& spec = config_->targets[*t].spec;
    if (record.mode != spec.mode) {
      incompatible.push_back(record.target);
      continue;
    }
    TargetRuntime& runtime = runtimes_[*t];
    runtime = std::move(record);
    RemapInputs(spec, runtime);
  }
  return incompatible;
}

absl::Duration ControlLoop::TickBudget() const {
  return absl::Seconds(config_->server.poll_interval_seconds) * 0.9;
}

void ControlLoop::Tick() {
  if (stopped_) return;
  if (polling_) {
    observer_.Ticked(/*skipped=*/true);
    observer_.Log(Severity::kWarn, "previous poll still running; tick skipped",
                  {});
    return;
  }
  observer_.Ticked(/*skipped=*/false);
  polling_ = true;
  const uint64_t generation = config_generation_;
  // The source stays alive until its callback has run, even if a reload
  // replaces it meanwhile; it is released on the executor, never inside its
  // own callback.
  std::shared_ptr<Source> source = source_;
  source->Poll(
      options_.clock(), TickBudget(),
      [this, generation, keep = source](control::PollResult result) mutable {
        options_.post([this, generation, result = std::move(result),
                       keep = std::move(keep)]() mutable {
          polling_ = false;
          if (generation == config_generation_ && !stopped_) OnPoll(result);
          keep.reset();
        });
      });
}

void ControlLoop::Stop() { stopped_ = true; }

void ControlLoop::OnPoll(const control::PollResult& result) {
  observer_.Polled(result);
  for (size_t t = 0; t < config_->targets.size(); ++t) {
    const config::TargetConfig& target = config_->targets[t];
    TickTarget(target.spec, result.targets[t], result.time, runtimes_[t]);
  }
  PublishSnapshot();
  if (options_.after_tick) options_.after_tick();
}

void ControlLoop::TickTarget(const TargetSpec& spec,
                             const control::TargetReadings& r, absl::Time now,
                             TargetRuntime& runtime) {
  engine::TickInput in{.now = now};
  if (r.current_replicas) {
    if (r.current_replicas->ok()) {
      in.current_replicas = **r.current_replicas;
      runtime.current_replicas = **r.current_replicas;
      runtime.current_sampled_at = now;
    } else if (runtime.current_replicas) {
      in.current_replicas = runtime.current_replicas;
      observer_.Log(
          Severity::kWarn,
          "current replicas unreadable; holding the last good count",
          {{"target", spec.name},
           {"replicas", absl::StrCat(*runtime.current_replicas)},
           {"age_seconds", absl::StrCat(absl::ToInt64Seconds(
                               now - runtime.current_sampled_at))},
           {"kind", ErrorKind(r.current_replicas->status())},
           {"error", std::string(r.current_replicas->status().message())}});
    } else {
      observer_.Log(
          Severity::kWarn,
          "current replicas unreadable; assuming ballast's last "
          "recommendation",
          {{"target", spec.name},
           {"kind", ErrorKind(r.current_replicas->status())},
           {"error", std::string(r.current_replicas->status().message())}});
    }
  }
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    store::InputValue& held = runtime.inputs[i];
    if (r.inputs[i].ok()) {
      in.inputs.push_back(engine::InputReading::Value(*r.inputs[i]));
      held.value = *r.inputs[i];
      held.sampled_at = now;
      held.error.clear();
      held.consecutive_failures = 0;
    } else {
      in.inputs.push_back(engine::InputReading::Missing(r.inputs[i].status()));
      held.error = std::string(r.inputs[i].status().message());
      ++held.consecutive_failures;
      observer_.Log(Severity::kWarn,
                    "input read failed; holding its last value",
                    {{"target", spec.name},
                     {"input", held.name},
                     {"error", held.error},
                     {"failures", absl::StrCat(held.consecutive_failures)}});
    }
  }
  engine::TickResult tick = engine::Tick(spec, std::move(runtime.history), in);
  runtime.history = std::move(tick.history);
  const engine::Recommendation& rec = tick.recommendation;
  if (!runtime.latest || runtime.latest->replicas != rec.replicas) {
    ++runtime.replicas_version;
    observer_.Log(
        Severity::kInfo, "recommendation",
        {{"target", spec.name},
         {"replicas", absl::StrCat(rec.replicas)},
         {"previous", runtime.latest ? absl::StrCat(runtime.latest->replicas)
                                     : std::string("none")},
         {"desired", absl::StrCat(rec.desired)},
         {"limited_by", std::string(engine::LimitName(rec.limited_by))}});
  }
  runtime.recent.Push(store::PastRecommendation::Of(rec),
                      static_cast<size_t>(options_.history));
  runtime.latest = std::make_shared<const engine::Recommendation>(
      std::move(tick.recommendation));
}

void ControlLoop::PublishSnapshot(std::optional<absl::Time> time,
                                  std::optional<std::string> computed_by) {
  store::Snapshot snapshot;
  snapshot.config_generation = config_generation_;
  snapshot.time = time.value_or(options_.clock());
  snapshot.computed_by = computed_by ? *std::move(computed_by) : identity_;
  for (size_t i = 0; i < config_->targets.size(); ++i) {
    const config::TargetConfig& t = config_->targets[i];
    const TargetRuntime& runtime = runtimes_[i];
    // The spec is shared with the config that holds it.
    store::TargetState state{
        .spec = std::shared_ptr<const TargetSpec>(config_, &t.spec),
        .inputs = runtime.inputs,
        .latest = runtime.latest,
        .recent = runtime.recent,
        .replicas_version = runtime.replicas_version};
    observer_.Published(
        state,
        runtime.current_replicas
            ? std::optional<absl::Time>(runtime.current_sampled_at)
            : std::nullopt,
        snapshot.time);
    snapshot.Add(std::move(state));
  }
  store_.Publish(std::move(snapshot));
}

}  // namespace ballast::control
