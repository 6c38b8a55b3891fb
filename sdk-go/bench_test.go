package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The SDK benchmark, beside the bare nats.go baseline in the same run, against a real
// nats-server and pulse. Run it with
//
//	BACKBEAT_BENCH=1 BENCH_SECONDS=10 BENCH_JSON=bench.json go test -run TestBenchSDK -v .
//
// 1. frame receipt to callback: one client (frames timing) following a pulse at 240 BPM,
//    beside a bare subscription that decodes the JSON and calls a no-op;
// 2. 1,000 clients on one connection in grid timing at 120 BPM: callback minus slot, beside
//    a bare subscription's receipt minus slot (the network's delivery of the same frames).

type stats struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func summarize(xs []float64) stats {
	if len(xs) == 0 {
		return stats{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	q := func(p float64) float64 {
		return math.Round(s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)]*1000) / 1000
	}
	return stats{N: len(s), P50: q(0.5), P99: q(0.99), Max: math.Round(s[len(s)-1]*1000) / 1000}
}

func TestBenchSDK(t *testing.T) {
	if os.Getenv("BACKBEAT_BENCH") != "1" {
		t.Skip("set BACKBEAT_BENCH=1 to run the benchmark")
	}
	secs, _ := strconv.Atoi(os.Getenv("BENCH_SECONDS"))
	if secs <= 0 {
		secs = 10
	}
	run := time.Duration(secs) * time.Second
	out := map[string]any{"go": "sdk-go", "seconds": secs}

	// 1. receipt to callback.
	srv := startNATS(t)
	cluster := uniqueCluster("bench-lat")
	startPulse(t, srv.URL, cluster, "p1", "--bpm", "240").waitOutput(t, `"became leader"`, 20*time.Second)
	c := newTestClient(t, srv.URL, cluster, "agent:bench-1", nil)
	var mu sync.Mutex
	var sdkLat, bareLat []float64
	must(t, c.OnPhaseInfo(func(_ BeatFrame, i BeatInfo) {
		d := systemNowMs() - i.ReceivedAt
		if i.Source == SourceLeader {
			mu.Lock()
			sdkLat = append(sdkLat, d)
			mu.Unlock()
		}
	}))
	bare, err := nats.Connect(srv.URL)
	must(t, err)
	defer bare.Close()
	noop := func(BeatFrame) {}
	_, err = bare.Subscribe("backbeat."+cluster+".beat", func(m *nats.Msg) {
		at := systemNowMs()
		var f BeatFrame
		if json.Unmarshal(m.Data, &f) == nil {
			noop(f)
		}
		d := systemNowMs() - at
		mu.Lock()
		bareLat = append(bareLat, d)
		mu.Unlock()
	})
	must(t, err)
	time.Sleep(run)
	mu.Lock()
	out["receipt_to_callback"] = map[string]any{"sdk_frames_timing": summarize(sdkLat), "bare_nats_go_decode_noop": summarize(bareLat), "bpm": 240}
	mu.Unlock()

	// 2. 1,000 clients on one connection, grid timing.
	cluster2 := uniqueCluster("bench-grid")
	startPulse(t, srv.URL, cluster2, "p1", "--bpm", "120").waitOutput(t, `"became leader"`, 20*time.Second)
	shared, err := nats.Connect(srv.URL)
	must(t, err)
	defer shared.Close()
	const clients = 1000
	type tally struct {
		mu    sync.Mutex
		seen  map[int64]int
		delay []float64
	}
	var from, to float64
	var windowMu sync.RWMutex
	tallies := make([]*tally, clients)
	cs := make([]Client, clients)
	for i := range cs {
		tl := &tally{seen: map[int64]int{}}
		tallies[i] = tl
		cfg := DefaultConfig()
		cfg.ClusterID, cfg.AgentID, cfg.Conn, cfg.Timing, cfg.Logger = cluster2, fmt.Sprintf("agent:grid-%d", i), shared, TimingGrid, nil
		cl, err := New(cfg)
		must(t, err)
		must(t, cl.OnPhaseInfo(func(f BeatFrame, info BeatInfo) {
			now := systemNowMs()
			windowMu.RLock()
			in := info.ScheduledAt >= from && info.ScheduledAt < to
			windowMu.RUnlock()
			if !in {
				return
			}
			tl.mu.Lock()
			tl.seen[f.BeatIndex*3+int64(indexIn(Phases, f.Phase))]++
			tl.delay = append(tl.delay, now-info.ScheduledAt)
			tl.mu.Unlock()
		}))
		must(t, cl.Start(context.Background()))
		cs[i] = cl
	}
	defer func() {
		for _, cl := range cs {
			_ = cl.Stop()
		}
	}()
	var bareDelivery []float64
	var bmu sync.Mutex
	_, err = bare.Subscribe("backbeat."+cluster2+".beat", func(m *nats.Msg) {
		at := systemNowMs()
		mp := cs[0].TempoMap()
		var f BeatFrame
		if mp == nil || json.Unmarshal(m.Data, &f) != nil {
			return
		}
		s := mp.Slot(f.BeatIndex, indexIn(mp.Phases, f.Phase))
		windowMu.RLock()
		in := s.PhaseStart >= from && s.PhaseStart < to
		windowMu.RUnlock()
		if in {
			bmu.Lock()
			bareDelivery = append(bareDelivery, at-s.PhaseStart)
			bmu.Unlock()
		}
	})
	must(t, err)
	time.Sleep(2 * time.Second) // every client on the grid
	windowMu.Lock()
	from = systemNowMs() + 100
	to = from + float64(run.Milliseconds())
	windowMu.Unlock()
	time.Sleep(run + 600*time.Millisecond)
	mp := cs[0].TempoMap()
	first, last := mp.SlotAtOrAfter(from), mp.SlotAtOrAfter(to)
	expected := (last.BeatIndex*3 + int64(last.PhaseIndex)) - (first.BeatIndex*3 + int64(first.PhaseIndex))
	var all []float64
	missed, doubled := int64(0), 0
	for _, tl := range tallies {
		tl.mu.Lock()
		all = append(all, tl.delay...)
		missed += expected - int64(len(tl.seen))
		for _, n := range tl.seen {
			if n > 1 {
				doubled++
			}
		}
		tl.mu.Unlock()
	}
	bmu.Lock()
	out["grid_1000_clients_one_connection"] = map[string]any{"clients": clients, "bpm": 120, "slots_per_client": expected,
		"callback_minus_slot": summarize(all), "missed": missed, "doubled": doubled, "bare_nats_go_receipt_minus_slot": summarize(bareDelivery)}
	bmu.Unlock()
	data, _ := json.MarshalIndent(out, "", "  ")
	t.Logf("%s", data)
	if p := os.Getenv("BENCH_JSON"); p != "" {
		must(t, os.WriteFile(p, append(data, '\n'), 0o644))
	}
	if doubled > 0 {
		t.Fatalf("%d slots fired twice", doubled)
	}
}
