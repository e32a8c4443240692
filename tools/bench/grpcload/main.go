// grpcload: an open-loop load generator for KEDA's external scaler
// GetMetrics (externalscaler.ExternalScaler/GetMetrics), as KEDA's operator
// calls it: a ScaledObjectRef whose scalerMetadata names the target.
//
//	grpcload -addr 127.0.0.1:9090 -rate 1000 -duration 60s -targets 10000
//	grpcload -addr 127.0.0.1:9090 -rate 0 -workers 32 -duration 10s  # closed loop
//
// Open loop (-rate > 0): a request is started every 1/rate seconds whatever
// the earlier ones are doing, and its latency runs from the moment it was
// due (so a stalled server shows as latency, not as a slower send rate).
// Closed loop (-rate 0): -workers callers each send the next request when
// the last one is answered; throughput is what the server sustains.
//
// The messages are written by hand in protobuf's wire format (field numbers
// of proto/externalscaler/externalscaler.proto) and sent through a raw
// codec, so the tool needs no generated code. Prints one JSON object.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
)

// rawCodec sends and receives messages as the bytes they already are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "raw" }

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendBytes appends field `num` of wire type 2 (length-delimited).
func appendBytes(b []byte, num int, v []byte) []byte {
	b = appendVarint(b, uint64(num)<<3|2)
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}

// getMetricsRequest encodes GetMetricsRequest{scaledObjectRef: {name,
// namespace, scalerMetadata: {target: target}}, metricName}.
func getMetricsRequest(target string) []byte {
	var entry []byte
	entry = appendBytes(entry, 1, []byte("target"))
	entry = appendBytes(entry, 2, []byte(target))
	var ref []byte
	ref = appendBytes(ref, 1, []byte(target))
	ref = appendBytes(ref, 2, []byte("default"))
	ref = appendBytes(ref, 3, entry)
	var req []byte
	req = appendBytes(req, 1, ref)
	req = appendBytes(req, 2, []byte("ballast-"+target))
	return req
}

type result struct {
	latency time.Duration
	code    string
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9090", "host:port of the gRPC server (plaintext)")
	rate := flag.Int("rate", 1000, "requests per second; 0: closed loop with -workers")
	workers := flag.Int("workers", 32, "callers in closed loop")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	targets := flag.Int("targets", 1, "targets w-000000 .. w-(N-1), one at random per request")
	conns := flag.Int("conns", 1, "gRPC connections (requests spread over them)")
	timeout := flag.Duration("timeout", 10*time.Second, "per-request deadline")
	flag.Parse()

	encoding.RegisterCodec(rawCodec{})
	var clients []*grpc.ClientConn
	for i := 0; i < *conns; i++ {
		c, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
		if err != nil {
			fmt.Fprintln(os.Stderr, "grpcload:", err)
			os.Exit(1)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	requests := make([][]byte, *targets)
	for i := range requests {
		requests[i] = getMetricsRequest(fmt.Sprintf("w-%06d", i))
	}
	call := func(seq int, r *rand.Rand) string {
		req := requests[r.Intn(len(requests))]
		var resp []byte
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		err := clients[seq%len(clients)].Invoke(ctx, "/externalscaler.ExternalScaler/GetMetrics", &req, &resp)
		if err != nil {
			return status.Code(err).String()
		}
		if len(resp) == 0 {
			return "empty"
		}
		return "OK"
	}
	// Warm the connections up: the first call pays the HTTP/2 setup.
	for i := range clients {
		call(i, rand.New(rand.NewSource(1)))
	}

	var mu sync.Mutex
	var results []result
	record := func(r result) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(*duration)
	if *rate > 0 {
		interval := time.Second / time.Duration(*rate)
		for seq := 0; ; seq++ {
			due := start.Add(time.Duration(seq) * interval)
			if !due.Before(end) {
				break
			}
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			wg.Add(1)
			go func(seq int, due time.Time) {
				defer wg.Done()
				code := call(seq, rand.New(rand.NewSource(int64(seq))))
				record(result{time.Since(due), code})
			}(seq, due)
		}
	} else {
		for w := 0; w < *workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				r := rand.New(rand.NewSource(int64(w)))
				for seq := w; time.Now().Before(end); seq += *workers {
					t := time.Now()
					code := call(seq, r)
					record(result{time.Since(t), code})
				}
			}(w)
		}
	}
	sent := time.Since(start)
	wg.Wait()
	elapsed := time.Since(start)

	codes := map[string]int{}
	var ok []time.Duration
	var all []time.Duration
	for _, r := range results {
		codes[r.code]++
		all = append(all, r.latency)
		if r.code == "OK" {
			ok = append(ok, r.latency)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	q := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		i := int(p * float64(len(all)))
		if i >= len(all) {
			i = len(all) - 1
		}
		return float64(all[i].Microseconds())
	}
	out := map[string]any{
		"requests":    len(results),
		"ok":          len(ok),
		"codes":       codes,
		"seconds":     elapsed.Seconds(),
		"send_secs":   sent.Seconds(),
		"throughput":  float64(len(ok)) / elapsed.Seconds(),
		"p50_us":      q(0.50),
		"p99_us":      q(0.99),
		"p999_us":     q(0.999),
		"max_us":      q(1),
		"rate":        *rate,
		"workers":     *workers,
		"connections": *conns,
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "grpcload:", err)
		os.Exit(1)
	}
}
