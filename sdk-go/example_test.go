package sdk_test

import (
	"context"

	sdk "github.com/backbeat/backbeat/sdk-go"
)

// The Quick Start of the SDK's documentation, as README.md shows it (compiled, not run: it
// needs a cluster; examples/simple_agent runs the same code in TestExamplesRunAgainstACluster).
func Example_quickStart() {
	config := sdk.DefaultConfig()
	config.ClusterID = "chorus-dev"
	config.AgentID = "agent:my-service" // spec: service:instance or agent:identifier ("my-service" is refused)
	config.NATSUrl = "nats://localhost:4222"

	client := sdk.NewClient(config)

	client.OnBeat(func(beat sdk.BeatFrame) {
		// Called every beat (its first phase)
		client.EmitStatusClaim(sdk.StatusClaim{
			State:    "executing",
			Progress: 0.5,
			Notes:    "Processing data",
		})
	})

	ctx := context.Background()
	client.Start(ctx) // returns the config error, or the connection error
	defer client.Stop()
}
