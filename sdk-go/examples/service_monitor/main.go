// service_monitor: health monitoring. Every --every it prints the client's health as one
// JSON line: connection, last beat, tempo, the lease in force, local degradation, drops.
//
//	go run ./examples/service_monitor --nats nats://127.0.0.1:4222 --cluster chorus-dev
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/backbeat/backbeat/sdk-go/examples/internal/flags"
)

var every = flag.Duration("every", time.Second, "how often to print health")

func main() {
	f := flags.Parse("service:monitor-1")
	client := f.NewClient()
	ctx, cancel := f.Context()
	defer cancel()
	if err := client.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	t := time.NewTicker(*every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = client.Stop()
			return
		case <-t.C:
			h := client.Health()
			line, _ := json.Marshal(map[string]any{
				"connected": h.Connected, "last_beat": h.LastBeat, "tempo_bpm": h.CurrentTempo, "measured_bpm": h.MeasuredBPM,
				"local_degradation": h.LocalDegradation, "lease": h.Lease, "frames_dropped": h.FramesDropped,
				"reconnects": h.ReconnectCount, "time_drift_ms": float64(h.TimeDrift) / 1e6, "window": client.GetCurrentWindow(),
				"legacy": client.ToLegacy(h.LastBeat),
			})
			fmt.Println(string(line))
		}
	}
}
