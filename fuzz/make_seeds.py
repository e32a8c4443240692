#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<harness>/ from tests/testdata,
config/, k8s/ and the unit tests' strings. Re-run after changing a harness's
input layout; committed seeds are its output (plus findings' reproducers,
named finding-*, which this script leaves alone). Not state_record_fuzz's:
its seeds are protobuf records, written by tests/unit/state/record_test.cc
(fuzz/README.md says how).

Harnesses that use FuzzedDataProvider read integers from the END of the
input (the mode/flags byte is the last byte) and strings from the front
(ConsumeRandomLengthString: a backslash escapes a backslash, a backslash
followed by anything else ends the string)."""
import glob
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def put(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def rls(s):
    """s as one FuzzedDataProvider::ConsumeRandomLengthString."""
    if isinstance(s, str):
        s = s.encode()
    return s.replace(b"\\", b"\\\\") + b"\\;"


def small(paths, limit=8192):
    return [p for p in sorted(glob.glob(os.path.join(ROOT, paths)))
            if os.path.getsize(p) <= limit]


# config: every test config, the shipped ones.
for p in small("tests/testdata/configs/*.yaml") + small("config/*.yaml", 32768):
    put("config_fuzz", os.path.basename(p), read(p))

# trace: the test traces, and a few shapes of time.
for p in small("tests/testdata/traces/*.csv"):
    put("trace_fuzz", os.path.basename(p), read(p))
put("trace_fuzz", "rfc3339.csv",
    "time,rps\n2026-01-01T00:00:00Z,1\n2026-01-01T00:00:15Z,\n"
    "2026-01-01 00:00:30,2.5\n")
put("trace_fuzz", "seconds.csv", "time,a,b\n0,1,2\n15,,3\n30,1e3,-0\n")

# prometheus_response: body + flags byte (0 = sum, status 200).
for p in small("tests/testdata/prometheus/*"):
    if p.endswith(".md"):
        continue
    body = read(p)
    put("prometheus_response_fuzz", os.path.basename(p) + ".sum", body + b"\x00")
    put("prometheus_response_fuzz", os.path.basename(p) + ".avg-emptyas", body + b"\x07")

# json: the Prometheus bodies, k8s/ is YAML; a few literals.
for p in small("tests/testdata/prometheus/*.json"):
    put("json_fuzz", os.path.basename(p), read(p))
put("json_fuzz", "literals.json",
    '[null,true,false,-0.5e-3,"\\u00fc\\ud83d\\ude00\\n",{"a":{"b":[]}}]')

# label_selector: the unit tests' selectors.
for i, s in enumerate([
        "target=asr", "target==asr", "target!=asr", "target in (asr,tts)",
        "target notin (asr,tts)", "!target", " target = asr ",
        "a=1,b!=2,c in (x),d notin (y,z),e,!f", "example.com/tier=gold",
        "in=notin", "k in (a,)", "target in (a", "replicas>3",
        "target=-asr", "UPPER.example.com/x=1"]):
    put("label_selector_fuzz", "sel%02d" % i, s)

# quantity: doubles.
for v in [0.0, 1.5, 2000.0, 0.0005, 0.1 + 0.2, -3.25, 1e21, 5e-324,
          1.7976931348623157e308, float("nan"), float("inf"), 4.9999999e-10]:
    put("quantity_fuzz", "q-" + repr(v).replace("/", "_"), struct.pack("<d", v))

# celery: unacked values (mode byte 0) and binding members (mode 1: kombu's
# separator; mode 3: a custom separator, read from the front).
k = read("tests/unit/source/celery_backlog_test.cc").decode()
for i, name in enumerate(["kUnackedToQueueA", "kUnackedToOddQueue"]):
    start = k.index('R"json(', k.index("constexpr char %s[]" % name)) + 7
    put("celery_fuzz", "unacked%d" % i, k[start:k.index(')json"', start)].encode() + b"\x00")
put("celery_fuzz", "unacked-escapes", b'[{"a": "]"}, "x", "q\\\\"]\x00')
put("celery_fuzz", "binding", b"asr\x06\x16\x06\x16asr\x01")
put("celery_fuzz", "binding-pidbox", b"\x06\x16\x06\x16celery@vm.celery.pidbox\x01")
put("celery_fuzz", "binding-sep", rls(".") + b"rk.pat.q\x03")

# delegated_auth: the ConfigMap (mode 0) and SubjectAccessReviews (mode 1:
# status 201; 0x0b: 403).
d = read("tests/unit/server/delegated_auth_test.cc").decode()
start = d.index('R"(', d.index("constexpr char kConfigMap[]")) + 3
put("delegated_auth_fuzz", "configmap", d[start:d.index(')"', start)].encode() + b"\x00")
put("delegated_auth_fuzz", "configmap-min",
    b'{"kind":"ConfigMap","data":{"requestheader-client-ca-file":"x",'
    b'"requestheader-allowed-names":"front-proxy-client"}}\x00')
put("delegated_auth_fuzz", "sar-allowed",
    b'{"kind":"SubjectAccessReview","apiVersion":"authorization.k8s.io/v1",'
    b'"status":{"allowed":true,"reason":"RBAC: allowed by ClusterRoleBinding \\"x\\""}}\x01')
put("delegated_auth_fuzz", "sar-denied", b'{"status":{"allowed":false,"denied":true}}\x01')
put("delegated_auth_fuzz", "sar-403",
    b'{"kind":"Status","status":"Failure","reason":"Forbidden","code":403}\x0b')

# kubeconfig: the unit test's, with each context ("#@<context>" first line).
kc = read("tests/unit/source/kubernetes_client_test.cc").decode()
start = kc.index('R"(', kc.index("constexpr char kKubeconfig[]")) + 3
kubeconfig = kc[start:kc.index(')"', start)].replace("{CA}", "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmNhCg==")
put("kubeconfig_fuzz", "kubeconfig", kubeconfig)
for ctx in ["robot@other", "plugin@local", "missing"]:
    put("kubeconfig_fuzz", "kubeconfig-" + ctx, "#@%s\n%s" % (ctx, kubeconfig))

# external_metrics: path, query, headers (count byte), flags byte (6: a
# verified front proxy; 8: trust all; 1: a method string first).
BASE = "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/"
USER = [("x-remote-user", "system:serviceaccount:kube-system:hpa"),
        ("x-remote-group", "system:authenticated")]
def request(path, query="", headers=USER, flags=6, method=None):
    out = b""
    if method is not None:
        out += rls(method)
        flags |= 1
    out += rls(path) + rls(query)
    for n, v in headers:
        out += rls(n) + rls(v)
    return out + bytes([len(headers), flags])
for i, (path, query) in enumerate([
        ("/apis", ""), ("/apis/external.metrics.k8s.io", ""),
        ("/apis/external.metrics.k8s.io/v1beta1", ""),
        (BASE + "ballast_recommended_replicas", "labelSelector=target%3Dasr"),
        (BASE + "ballast_recommended_replicas", ""),
        (BASE + "ballast_input", "labelSelector=target%3Dasr%2Cinput%3Dbacklog"),
        (BASE + "ballast_input", "labelSelector=target+in+(asr,tts)&x=%zz"),
        (BASE + "Ballast_Input", "labelSelector=target%3Dtts"),
        (BASE + "nope", ""), ("/healthz", ""), ("/readyz", ""), ("/openapi/v2", ""),
        ("/apis/external.metrics.k8s.io/v1beta1/namespaces/d%2Fx/ballast_input", ""),
        ]):
    put("external_metrics_fuzz", "req%02d" % i, request(path, query))
put("external_metrics_fuzz", "req-unverified", request(BASE + "ballast_input", flags=0))
put("external_metrics_fuzz", "req-mallory", request(BASE + "ballast_input", flags=2))
put("external_metrics_fuzz", "req-trusting", request(BASE + "ballast_input", flags=8, headers=[]))
put("external_metrics_fuzz", "req-post", request(BASE + "ballast_input", method="POST"))
put("external_metrics_fuzz", "req-extra",
    request(BASE + "ballast_input", headers=USER + [("x-remote-extra-scopes", "a"),
                                                     ("x-remote-user", "second")]))

# convert: the unit tests' World Cup (flags 0) and Azure (flags 1) extracts.
put("convert_fuzz", "worldcup",
    "period,count\n1998-04-30 21:30:00,120\n1998-04-30 21:31:00,60\n"
    "1998-04-30 21:32:00,3\n\x00")
put("convert_fuzz", "azure",
    "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 10:00:00.5000000,1000,10\n"
    "2023-11-16 10:00:02.2500000,0,0\n2023-11-16 10:00:02.7500000,2000,100\n\x01")
put("convert_fuzz", "azure-quarter",
    "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 10:00:00.5000000,1000,10\n"
    "2023-11-16 10:00:02.7500000,2000,100\n\x09")

# The gRPC handlers (keda_fuzz, ballast_api_fuzz). `ends` lists the bytes
# the harness consumes from the end, in the order it consumes them (an int32
# is 4 bytes, most significant first, as value + 2**31); the file is the
# front then those bytes reversed. Events are (op, value): op's bits 0-1 the
# kind (0 remove the target, 1 reconfigure it without a tick, 2 tick with
# replicas = value, 3 the same at an unchanged time), bits 2-3 the target
# (asr, tts, idle, new-target).
ASR, TTS, IDLE, NEW = 0, 1, 2, 3
def event(kind, target, value=0):
    return [(target << 2) | kind, value]
def grpc_input(front, ends):
    return front + bytes(reversed(ends))
def events(evs):
    out = [len(evs)]
    for e in evs:
        out += e
    return out

# keda: mode byte (0 IsActive, 1 GetMetricSpec, 2 GetMetrics,
# 3 StreamIsActive, 4 StreamMetricSpec; 8: an empty store; 16: the stream's
# client goes away with the last event's write out), the entry count,
# then the events; front: name, namespace, metadata, GetMetrics' metricName.
def keda(mode, metadata, metric=None, evs=()):
    front = rls("worker") + rls("default")
    for k, v in metadata:
        front += rls(k) + rls(v)
    if metric is not None:
        front += rls(metric)
    return grpc_input(front, [mode, len(metadata)] + events(list(evs)))
T = lambda name: [("target", name)]
for name, data in [
        ("isactive-asr", keda(0, T("asr"))),
        ("isactive-idle", keda(0, T("idle"))),
        ("isactive-tts", keda(0, T("tts"))),
        ("spec-asr", keda(1, T("asr"))),
        ("spec-tts", keda(1, T("tts"))),
        ("spec-nope", keda(1, T("nope"))),
        ("metrics-asr", keda(2, T("asr"), "s0-ballast-asr")),
        ("metrics-asr-noname", keda(2, T("asr"), "")),
        ("metrics-idle", keda(2, T("idle"), "s1-ballast-idle")),
        ("metrics-tts", keda(2, T("tts"), "s0-ballast-tts")),
        ("metrics-nope", keda(2, T("nope"), "s0-ballast-nope")),
        ("metrics-nokey", keda(2, [("Target", "asr")], "s0-ballast-asr")),
        ("metrics-emptytarget", keda(2, T(""), "")),
        ("metrics-many", keda(2, [("scalerAddress", "ballast.ballast:9090"),
                                  ("target", "idle"), ("x", ""), ("target", "asr")],
                              "s0-ballast-asr")),
        ("metrics-emptystore", keda(2 | 8, T("asr"), "s0-ballast-asr")),
        ("metrics-tick", keda(2, T("asr"), "", [event(2, ASR, 40)])),
        ("metrics-new", keda(2, T("new-target"), "", [event(1, NEW), event(2, NEW, 3)])),
        ("metrics-removed", keda(2, T("asr"), "", [event(0, ASR)])),
        ("stream-active-asr", keda(3, T("asr"), None,
                                   [event(2, ASR, 0), event(3, ASR, 0), event(2, ASR, 5),
                                    event(2, IDLE, 9), event(0, ASR)])),
        ("stream-active-tts", keda(3, T("tts"), None, [event(2, TTS, 2), event(1, TTS)])),
        ("stream-active-empty", keda(3 | 8, T("idle"), None, [event(2, IDLE, 1)])),
        ("stream-active-nokey", keda(3, [])),
        ("stream-spec-asr", keda(4, T("asr"), None, [event(2, ASR, 1), event(1, ASR), event(0, ASR)])),
        ("stream-spec-new", keda(4 | 8, T("new-target"), None, [event(1, NEW)])),
        ("stream-active-lost", keda(3 | 16, T("asr"), None, [event(2, ASR, 0), event(2, ASR, 5)])),
        ("stream-spec-lost", keda(4 | 8 | 16, T("asr"), None, [event(1, ASR)])),
        ]:
    put("keda_fuzz", name, data)

# ballast_api: mode byte (0 ListTargets, 1 GetRecommendation,
# 2 WatchRecommendations, 3 CheckConfig; 8: an empty store; 16: the watch's
# client goes away with the last event's write out);
# GetRecommendation: history then events, front the target; watch: the
# target count then events, front the targets; CheckConfig: front the file
# name then the YAML.
def i32(v):
    raw = (v + 2**31) & 0xffffffff
    return [(raw >> 24) & 255, (raw >> 16) & 255, (raw >> 8) & 255, raw & 255]
def list_targets(mode=0, evs=()):
    return grpc_input(b"", [mode] + events(list(evs)))
def get_rec(target, history=0, mode=1, evs=()):
    return grpc_input(rls(target), [mode] + i32(history) + events(list(evs)))
def watch(targets, mode=2, evs=()):
    return grpc_input(b"".join(rls(t) for t in targets),
                      [mode, len(targets)] + events(list(evs)))
for name, data in [
        ("list", list_targets()),
        ("list-empty", list_targets(8)),
        ("list-events", list_targets(0, [event(1, NEW), event(2, TTS, 4), event(0, IDLE)])),
        ("rec-asr", get_rec("asr")),
        ("rec-asr-3", get_rec("asr", 3)),
        ("rec-asr-100", get_rec("asr", 100)),
        ("rec-asr-max", get_rec("asr", 2**31 - 1)),
        ("rec-asr-negative", get_rec("asr", -1)),
        ("rec-tts", get_rec("tts")),
        ("rec-nope", get_rec("nope")),
        ("rec-empty", get_rec("asr", 0, 9)),
        ("rec-tick", get_rec("tts", 2, 1, [event(2, TTS, 6), event(2, TTS, 8), event(3, TTS, 9)])),
        ("watch-all", watch([], 2, [event(2, ASR, 8), event(3, ASR, 9), event(2, TTS, 1)])),
        ("watch-asr", watch(["asr"], 2, [event(2, ASR, 8), event(2, IDLE, 1), event(0, ASR)])),
        ("watch-two", watch(["asr", "tts"], 2, [event(2, TTS, 3), event(1, TTS)])),
        ("watch-nope", watch(["nope"])),
        ("watch-empty", watch(["idle"], 2 | 8, [event(2, IDLE, 2)])),
        ("watch-new", watch(["new-target"], 2, [event(1, NEW)])),
        ("watch-lost", watch([], 2 | 16, [event(2, ASR, 8), event(2, TTS, 3)])),
        ]:
    put("ballast_api_fuzz", name, data)
for p in (small("tests/testdata/configs/good_*.yaml")
          + small("tests/testdata/configs/bad_[b-n]*.yaml")):
    put("ballast_api_fuzz", "config-" + os.path.basename(p),
        rls(os.path.basename(p)) + read(p) + b"\x03")
put("ballast_api_fuzz", "config-nofile", rls("") + b"targets: []\n\x03")
