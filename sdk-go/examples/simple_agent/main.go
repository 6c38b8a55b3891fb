// simple_agent: the Quick Start of the SDK's documentation. It follows the beat, prints each
// beat and bar, and reports "executing" once per beat.
//
//	go run ./examples/simple_agent --nats nats://127.0.0.1:4222 --cluster chorus-dev
package main

import (
	"context"
	"fmt"
	"os"

	sdk "github.com/backbeat/backbeat/sdk-go"
	"github.com/backbeat/backbeat/sdk-go/examples/internal/flags"
)

func main() {
	f := flags.Parse("agent:simple-1")
	client := f.NewClient()
	_ = client.OnBeat(func(beat sdk.BeatFrame) {
		fmt.Printf("beat %d (%s, %.1f BPM)\n", beat.BeatIndex, beat.Phase, beat.TempoBPM)
		// Queued and sent with JetStream acknowledgement in the background.
		if err := client.EmitStatusClaim(sdk.StatusClaim{State: "executing", Progress: 0.5, Notes: "Processing data"}); err != nil {
			fmt.Fprintln(os.Stderr, "claim:", err)
		}
	})
	_ = client.OnDownbeat(func(beat sdk.BeatFrame) {
		fmt.Printf("bar started: %s\n", beat.WindowID)
	})
	ctx, cancel := f.Context()
	defer cancel()
	if err := client.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	<-ctx.Done()
	_ = client.Stop()
	h := client.Health()
	fmt.Printf("stopped: last beat %d, claims sent %d\n", h.LastBeat, client.Metrics().ClaimsEmitted)
}
