// Package flags holds the flags every example takes: --nats, --cluster, --agent, --key,
// --duration, and the config they make.
package flags

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	sdk "github.com/backbeat/backbeat/sdk-go"
)

// Common are the parsed flags.
type Common struct {
	Config   *sdk.Config
	Duration time.Duration
}

// Parse reads the flags; a bad one is one line on stderr and exit 2.
func Parse(defaultAgent string) Common {
	nats := flag.String("nats", "nats://127.0.0.1:4222", "NATS server URL(s), comma-separated")
	cluster := flag.String("cluster", "chorus-aus-01", "cluster id")
	agent := flag.String("agent", defaultAgent, "agent id (service:instance or agent:identifier)")
	key := flag.String("key", "", "Ed25519 seed, 64 hex digits, to sign claims with (or BACKBEAT_SIGNING_KEY)")
	timing := flag.String("timing", "frames", "frames or grid")
	duration := flag.Duration("duration", 0, "stop after this long (0: until SIGINT or SIGTERM)")
	flag.Parse()
	cfg := sdk.DefaultConfig()
	cfg.NATSUrl, cfg.ClusterID, cfg.AgentID, cfg.Timing = *nats, *cluster, *agent, *timing
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if *key == "" {
		*key = os.Getenv("BACKBEAT_SIGNING_KEY")
	}
	if *key != "" {
		seed, err := hex.DecodeString(strings.TrimSpace(*key))
		if err != nil || len(seed) != ed25519.SeedSize {
			fmt.Fprintln(os.Stderr, "--key: must be an Ed25519 seed of 64 hex digits")
			os.Exit(2)
		}
		cfg.SigningKey = ed25519.NewKeyFromSeed(seed)
	}
	if *duration < 0 {
		fmt.Fprintln(os.Stderr, "--duration: must be >= 0")
		os.Exit(2)
	}
	return Common{Config: cfg, Duration: *duration}
}

// Context ends at SIGINT, SIGTERM or after the duration.
func (c Common) Context() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	if c.Duration > 0 {
		ctx2, cancel := context.WithTimeout(ctx, c.Duration)
		return ctx2, func() { cancel(); stop() }
	}
	return ctx, stop
}

// NewClient makes the client or exits with the config error (one line, exit 2).
func (c Common) NewClient() sdk.Client {
	client, err := sdk.New(c.Config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return client
}
