"""An independent model of the Kubernetes HPA controller's decision for
external metrics, written from pkg/controller/podautoscaler/horizontal.go and
replica_calculator.go (Kubernetes 1.35) and KEDA 2.17's pkg/fallback. It
shares nothing with ballast's engine: the differential test (diff_test.py)
runs it beside `ballast simulate` in HPA mode and compares each sync.

Times are integer seconds; quantities are decimal strings, read as
resource.Quantity reads them.
"""
import math
from decimal import Decimal, ROUND_CEILING

MAX_INT32 = 2**31 - 1
MIN_INT32 = -(2**31)


def milli_value(text):
    """resource.Quantity.MilliValue(): ceil(q * 1000)."""
    return int((Decimal(text) * 1000).to_integral_value(rounding=ROUND_CEILING))


def go_pow10(n):
    """math.Pow10 for small n."""
    return float(10**n) if n >= 0 else 1.0 / float(10**-n)


def approximate_float64(text):
    """Quantity.AsApproximateFloat64() of the canonical form the API server
    stores ("0.05" is stored as "50m")."""
    d = Decimal(text)
    if d == 0:
        return 0.0
    sign, digits, exp = d.as_tuple()
    mantissa = int("".join(map(str, digits)))
    while mantissa % 10 == 0:
        mantissa //= 10
        exp += 1
    while exp % 3 != 0:
        mantissa *= 10
        exp -= 1
    base = float(-mantissa if sign else mantissa)
    return base if exp == 0 else base * go_pow10(exp)


def go_int32_ceil(x):
    """int32(math.Ceil(x)) where the controller caps at MaxInt32."""
    if math.isnan(x):
        return 0
    c = math.ceil(x) if math.isfinite(x) else x
    if c > MAX_INT32:
        return MAX_INT32
    if c < MIN_INT32:
        return MIN_INT32
    return int(c)


class Hpa:
    """One HPA object and the controller's per-HPA state."""

    def __init__(self, spec):
        # spec: dict with min, max, tolerance (float, the controller flag),
        # behavior (None or {"up": rules, "down": rules}) where rules =
        # {"window", "select", "policies": [(type, value, period)],
        # "tolerance": str or None}, inputs: [{"type": "AverageValue"|"Value",
        # "target": str}], fallback: None or {"threshold", "replicas",
        # "behavior"}.
        self.spec = spec
        self.recommendations = None  # list of [replicas, time]
        self.up_events = []  # [change, time, outdated]
        self.down_events = []
        self.failures = [0] * len(spec["inputs"])
        self.downscale_window = 300  # controller flag default

    # horizontal.go tolerancesForHpa
    def tolerances(self):
        down = up = self.spec["tolerance"]
        b = self.spec["behavior"]
        if b is not None:
            if b["down"].get("tolerance") is not None:
                down = approximate_float64(b["down"]["tolerance"])
            if b["up"].get("tolerance") is not None:
                up = approximate_float64(b["up"]["tolerance"])
        return down, up

    @staticmethod
    def is_within(tol, ratio):
        down, up = tol
        return (1.0 - down) <= ratio and ratio <= (1.0 + up)

    # KEDA fallback.GetMetricsWithFallback + doFallback: the metric values
    # (milli) the HPA receives, or None for an error.
    def keda_metric(self, i, value_text, current):
        inp = self.spec["inputs"][i]
        if value_text is not None:
            self.failures[i] = 0
            return milli_value(value_text)
        self.failures[i] += 1
        fb = self.spec["fallback"]
        if fb is None or inp["type"] != "AverageValue":
            return None
        if not self.failures[i] > fb["threshold"]:
            return None
        behavior = fb["behavior"]
        r = fb["replicas"]
        if behavior == "currentReplicas":
            replicas = current
        elif behavior == "currentReplicasIfHigher":
            replicas = current if current > r else r
        elif behavior == "currentReplicasIfLower":
            replicas = current if current < r else r
        else:
            replicas = r
        normalisation = int(approximate_float64(inp["target"]))
        return normalisation * 1000 * replicas

    # replica_calculator.go GetExternalPerPodMetricReplicas
    @staticmethod
    def per_pod(status_replicas, target_milli, usage, tol):
        replica_count = status_replicas
        denominator = float(target_milli) * float(replica_count)
        if denominator == 0:
            ratio = math.nan if usage == 0 else math.copysign(math.inf, usage)
        else:
            ratio = float(usage) / denominator
        if not Hpa.is_within(tol, ratio):
            replica_count = go_int32_ceil(float(usage) / float(target_milli))
        return replica_count

    # replica_calculator.go GetExternalMetricReplicas + getUsageRatioReplicaCount
    @staticmethod
    def value(current, ready, target_milli, usage, tol):
        ratio = float(usage) / float(target_milli)
        if current != 0:
            if Hpa.is_within(tol, ratio):
                return current
            f = ratio * float(ready)
            return MAX_INT32 if f > MAX_INT32 else int(math.ceil(f))
        return int(math.ceil(ratio))

    # horizontal.go computeReplicasForMetrics; None is the -1 failure.
    def compute_replicas_for_metrics(self, values, current, ready):
        tol = self.tolerances()
        replicas = 0
        invalid = 0
        for i, inp in enumerate(self.spec["inputs"]):
            usage = self.keda_metric(i, values[i], current)
            if usage is None:
                invalid += 1
                continue
            target = milli_value(inp["target"])
            if inp["type"] == "AverageValue":
                proposal = self.per_pod(current, target, usage, tol)
            else:
                proposal = self.value(current, ready, target, usage, tol)
            if replicas == 0 or proposal > replicas:
                replicas = proposal
        n = len(self.spec["inputs"])
        if invalid >= n or (invalid > 0 and replicas < current):
            return None
        return replicas

    # horizontal.go stabilizeRecommendation (no behavior)
    def stabilize_recommendation(self, now, desired):
        max_rec = desired
        found_old = False
        old_index = 0
        cutoff = now - self.downscale_window
        for i, (rec, ts) in enumerate(self.recommendations):
            if ts < cutoff:
                found_old = True
                old_index = i
            elif rec > max_rec:
                max_rec = rec
        if found_old:
            self.recommendations[old_index] = [desired, now]
        else:
            self.recommendations.append([desired, now])
        return max_rec

    # horizontal.go normalizeDesiredReplicas + convertDesiredReplicasWithRules
    def normalize(self, now, current, desired, min_replicas):
        stabilized = self.stabilize_recommendation(now, desired)
        scale_up_limit = int(max(2.0 * float(current), 4.0))
        if self.spec["max"] > scale_up_limit:
            maximum_allowed = scale_up_limit
        else:
            maximum_allowed = self.spec["max"]
        if stabilized < min_replicas:
            return min_replicas
        if stabilized > maximum_allowed:
            return maximum_allowed
        return stabilized

    # horizontal.go stabilizeRecommendationWithBehaviors
    def stabilize_with_behaviors(self, now, current, desired):
        b = self.spec["behavior"]
        up_rec = desired
        up_cutoff = now - b["up"]["window"]
        down_rec = desired
        down_cutoff = now - b["down"]["window"]
        found_old = False
        old_index = 0
        for i, (rec, ts) in enumerate(self.recommendations):
            if ts > up_cutoff:
                up_rec = min(rec, up_rec)
            if ts > down_cutoff:
                down_rec = max(rec, down_rec)
            if ts < up_cutoff and ts < down_cutoff:
                found_old = True
                old_index = i
        recommendation = current
        if recommendation < up_rec:
            recommendation = up_rec
        if recommendation > down_rec:
            recommendation = down_rec
        if found_old:
            self.recommendations[old_index] = [desired, now]
        else:
            self.recommendations.append([desired, now])
        return recommendation

    @staticmethod
    def change_per_period(now, period, events):
        cutoff = now - period
        return sum(e[0] for e in events if e[1] > cutoff)

    # horizontal.go calculateScaleUpLimitWithScalingRules
    def scale_up_limit(self, now, current, rules):
        if rules["select"] == "Disabled":
            return current
        if rules["select"] == "Min":
            result, fn = MAX_INT32, min
        else:
            result, fn = MIN_INT32, max
        for ptype, value, period in rules["policies"]:
            start = (current - self.change_per_period(now, period, self.up_events)
                     + self.change_per_period(now, period, self.down_events))
            if ptype == "Pods":
                proposed = start + value
            else:
                proposed = int(math.ceil(float(start) * (1 + float(value) / 100)))
            result = fn(result, proposed)
        return result

    # horizontal.go calculateScaleDownLimitWithBehaviors
    def scale_down_limit(self, now, current, rules):
        if rules["select"] == "Disabled":
            return current
        if rules["select"] == "Min":
            result, fn = MIN_INT32, max
        else:
            result, fn = MAX_INT32, min
        for ptype, value, period in rules["policies"]:
            start = (current - self.change_per_period(now, period, self.up_events)
                     + self.change_per_period(now, period, self.down_events))
            if ptype == "Pods":
                proposed = start - value
            else:
                # Go's int32(float64) truncates toward zero.
                proposed = int(float(start) * (1 - float(value) / 100))
            result = fn(result, proposed)
        return result

    # horizontal.go convertDesiredReplicasWithBehaviorRate
    def behavior_rate(self, now, current, desired, min_replicas):
        b = self.spec["behavior"]
        if desired > current:
            limit = self.scale_up_limit(now, current, b["up"])
            if limit < current:
                limit = current
            maximum_allowed = self.spec["max"]
            if maximum_allowed > limit:
                maximum_allowed = limit
            if desired > maximum_allowed:
                return maximum_allowed
        elif desired < current:
            limit = self.scale_down_limit(now, current, b["down"])
            if limit > current:
                limit = current
            minimum_allowed = min_replicas
            if minimum_allowed < limit:
                minimum_allowed = limit
            if desired < minimum_allowed:
                return minimum_allowed
        return desired

    # horizontal.go storeScaleEvent + markScaleEventsOutdated
    def store_scale_event(self, now, prev, new):
        b = self.spec["behavior"]
        if b is None:
            return
        if new > prev:
            events, rules, change = self.up_events, b["up"], new - prev
        else:
            events, rules, change = self.down_events, b["down"], prev - new
        longest = max([p[2] for p in rules["policies"]], default=0)
        cutoff = now - longest
        for e in events:
            if e[1] < cutoff:
                e[2] = True
        found_old = False
        old_index = 0
        for i, e in enumerate(events):
            if e[2]:
                found_old = True
                old_index = i
        if found_old:
            events[old_index] = [change, now, False]
        else:
            events.append([change, now, False])

    # horizontal.go reconcileAutoscaler: returns the replicas the scale has
    # after this sync.
    def sync(self, now, current, ready, values):
        if self.recommendations is None:  # recordInitialRecommendation
            self.recommendations = [[current, now]]
        min_replicas = self.spec["min"]
        rescale = True
        if current == 0 and min_replicas != 0:
            desired = 0
            rescale = False
        elif current > self.spec["max"]:
            desired = self.spec["max"]
        elif current < min_replicas:
            desired = min_replicas
        else:
            metric_desired = self.compute_replicas_for_metrics(values, current, ready)
            if metric_desired is None:
                return current
            desired = 0
            if metric_desired > desired:
                desired = metric_desired
            if self.spec["behavior"] is None:
                desired = self.normalize(now, current, desired, min_replicas)
            else:
                stabilized = self.stabilize_with_behaviors(now, current, desired)
                desired = self.behavior_rate(now, current, stabilized, min_replicas)
            rescale = desired != current
        if rescale:
            self.store_scale_event(now, current, desired)
            return desired
        return current
