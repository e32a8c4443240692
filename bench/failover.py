#!/usr/bin/env python3
"""Failover time of two `ballast serve` replicas, N times in a row: the
leader SIGKILLed, the time until the follower reports ballast_leader 1
(polled every 50 ms), then the killed replica started again as a follower.

The setup is tests/cluster/ha_test.py's: a real control plane (the Lease
through kube-apiserver), a real redis-server as broker and state store,
lease 4 s / renew 3 s / retry 1 s, a 1 s poll.
  bench/failover.py --ballast build/ballast [--lock kubernetes|redis] [-n 10]
Needs BALLAST_CLUSTER_BIN (scripts/lib.sh's ballast_cluster_binaries).
"""

import argparse
import os
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "cluster"))
import ha_test  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ballast", required=True)
    parser.add_argument("--lock", default="kubernetes",
                        choices=("kubernetes", "redis"))
    parser.add_argument("-n", type=int, default=10)
    args = parser.parse_args()
    ha_test.ARGS = argparse.Namespace(ballast=os.path.abspath(args.ballast))
    ha_test.LOCK = args.lock
    ha = ha_test.HaTest
    ha.setUpClass()
    times = []
    try:
        test = ha("test_1_one_leader_and_a_lease_as_client_go_writes_it")
        for i in range(args.n):
            leader = test.leader(timeout=30)
            follower = [r for r in ha.replicas if r is not leader][0]
            time.sleep(1.5)  # a renewal or two after the last change
            leader.proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            leader.proc.wait()
            ha_test.wait_until("the follower leads", follower.leading,
                               30, interval=0.05)
            times.append(time.monotonic() - killed)
            print("failover %d: %.2f s" % (i + 1, times[-1]), flush=True)
            leader.start()
    finally:
        ha.tearDownClass()
    print("lock %s, lease %ds/%ds/%ds, %d failovers: median %.2f s, "
          "min %.2f s, max %.2f s" % (
              args.lock, ha_test.LEASE["duration"], ha_test.LEASE["renew"],
              ha_test.LEASE["retry"], len(times), statistics.median(times),
              min(times), max(times)))


if __name__ == "__main__":
    main()
