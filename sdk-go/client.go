package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Client is the BACKBEAT client (BACKBEAT-REQ-040..044), with the SDK seed's methods and
// what the TypeScript SDK adds. It is safe for concurrent use.
type Client interface {
	// OnBeat calls cb once per beat (its first phase), OnDownbeat once per bar, OnPhase once
	// per (beat, phase); OnPhaseInfo also says where the slot came from (leader, local, grid).
	// Callbacks of one client run one at a time, in grid order, on the SDK's goroutine: a
	// callback that blocks delays the next slots, so hand long work to a goroutine.
	OnBeat(cb func(BeatFrame)) error
	OnDownbeat(cb func(BeatFrame)) error
	OnPhase(cb func(BeatFrame)) error
	OnPhaseInfo(cb func(BeatFrame, BeatInfo)) error

	// EmitStatusClaim fills type, agent id, beat index, HLC and a task id when none is
	// given, validates and signs the claim and queues it; it is sent with JetStream
	// acknowledgement in the background (retried, also across disconnects).
	EmitStatusClaim(claim StatusClaim) error
	// EmitStatusClaimWait is EmitStatusClaim that waits for the stream's acknowledgement.
	EmitStatusClaimWait(ctx context.Context, claim StatusClaim) (StatusClaim, error)

	// WithBeatBudget runs fn with a budget of n beats (BACKBEAT-REQ-042): when beat current+n
	// starts on the grid it returns a *BeatBudgetExceededError (fn keeps running: use
	// WithBeatBudgetContext to stop it).
	WithBeatBudget(n int, fn func() error) error
	// WithBeatBudgetContext is WithBeatBudget whose function gets a context cancelled (with
	// the budget error as its cause) when the budget ends.
	WithBeatBudgetContext(ctx context.Context, n int, fn func(context.Context) error) error

	GetCurrentBeat() int64 // -1 before the first beat
	GetCurrentWindow() string
	IsInWindow(windowID string) bool
	GetCurrentTempo() float64 // 0 before the grid is known
	GetTempoDrift() time.Duration
	// ToLegacy converts a beat index to the legacy {bar, beat} (BACKBEAT-REQ-043).
	ToLegacy(beatIndex int64) LegacyBeatInfo
	TempoMap() *TempoMap
	Metrics() Metrics

	Start(ctx context.Context) error
	Stop() error
	Health() HealthStatus
}

type client struct {
	cfg      *Config
	cfgErr   error
	log      *slog.Logger
	clock    func() float64
	hlc      *hlc
	met      *metrics
	follower *follower

	mu         sync.Mutex
	state      string // created, running, stopped
	nc         *nats.Conn
	ownsConn   bool
	hub        *hub
	claims     *claimSender
	errs       []string
	reconnects atomic.Int64
	report     func(string, bool)
	warned     sync.Map
}

// maxErrorsRemember: Health().Errors keeps the last this many.
const maxErrorsRemember = 20

var epochBase = time.Now()

// systemNowMs is ms since the epoch on the monotonic clock (anchored once per process).
func systemNowMs() float64 {
	return float64(epochBase.UnixNano())/1e6 + float64(time.Since(epochBase).Nanoseconds())/1e6
}

// NewClient creates a client; Start connects. A bad config is returned by Start (and at once by New).
func NewClient(config *Config) Client {
	c, _ := newClient(config)
	return c
}

// New is NewClient that returns a bad config at once, as a *ConfigError naming the field.
func New(config *Config) (Client, error) {
	c, err := newClient(config)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func newClient(config *Config) (*client, error) {
	r, err := config.resolved()
	c := &client{cfg: r, cfgErr: err, clock: systemNowMs, met: newMetrics(), state: "created",
		log: slog.New(slog.DiscardHandler)}
	if err != nil {
		return c, err
	}
	c.log = r.Logger
	c.hlc = newHLC(r.AgentID, func() int64 { return time.Now().UnixMilli() })
	c.report = c.recordError
	rules := followerRules{tolMs: float64(r.JitterTolerance) / 1e6, configured: r.Timing,
		maxOffsetMs: float64(r.MaxClockOffset) / 1e6}
	c.follower = newFollower(r.ClusterID, c.hlc, rules, c.clock, c.met, c.recordError, func(on bool) {
		if on {
			c.log.Warn("backbeat: leader frames late: keeping time locally", "agent", r.AgentID)
		} else {
			c.log.Info("backbeat: leader frames back: re-joined the leader", "agent", r.AgentID)
		}
	})
	return c, nil
}

func (c *client) recordError(msg string, log bool) {
	c.mu.Lock()
	c.errs = append(c.errs, time.Now().UTC().Format(time.RFC3339Nano)+" "+msg)
	if len(c.errs) > maxErrorsRemember {
		c.errs = c.errs[1:]
	}
	c.mu.Unlock()
	if log {
		c.log.Warn("backbeat: "+msg, "agent", c.cfg.AgentID)
	}
}

// Start connects, reads the lease and the tempo map and follows the beat. A second call is a no-op.
func (c *client) Start(ctx context.Context) error {
	if c.cfgErr != nil {
		return c.cfgErr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != "created" {
		if c.state == "stopped" {
			return ErrClientStopped
		}
		return nil
	}
	nc := c.cfg.Conn
	if nc == nil {
		opts, err := c.cfg.natsOptions()
		if err != nil {
			return err
		}
		opts = append(opts, nats.ReconnectHandler(func(*nats.Conn) {
			c.reconnects.Add(1)
			if c.claims != nil {
				c.claims.poke()
			}
		}), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { c.onAsyncError(err) }))
		nc, err = nats.Connect(c.cfg.NATSUrl, opts...)
		if err != nil {
			return fmt.Errorf("backbeat: connect to NATS at %s: %w", c.cfg.NATSUrl, err)
		}
		c.ownsConn = true
	}
	c.nc = nc
	h, err := joinHub(ctx, nc, c.cfg.ClusterID, float64(c.cfg.JitterTolerance)/1e6, c.clock)
	if err != nil {
		if c.ownsConn {
			nc.Close()
		}
		return fmt.Errorf("backbeat: follow cluster %s: %w", c.cfg.ClusterID, err)
	}
	c.hub = h
	c.follower.env = h
	h.add(c.follower, c.report)
	c.follower.start()
	c.claims = newClaimSender(nc, h.js, "backbeat."+c.cfg.ClusterID+".status", c.met, c.cfg.MaxQueuedClaims,
		c.cfg.NoStreamGrace, c.recordError)
	c.state = "running"
	c.log.Info("backbeat client started", "cluster", c.cfg.ClusterID, "agent", c.cfg.AgentID, "timing", c.cfg.Timing)
	return nil
}

func (c *client) onAsyncError(err error) {
	if err == nil {
		return
	}
	msg := err.Error()
	low := strings.ToLower(msg)
	if errors.Is(err, nats.ErrPermissionViolation) || strings.Contains(low, "permissions violation") {
		if c.claims != nil && strings.Contains(msg, "backbeat."+c.cfg.ClusterID+".status") {
			c.claims.permissionDenied("backbeat." + c.cfg.ClusterID + ".status")
		}
	}
	c.recordError("NATS: "+msg, true)
}

// Stop stops following the beat, sends what is queued (up to 2 s) and closes its own connection.
func (c *client) Stop() error {
	c.mu.Lock()
	if c.state != "running" {
		c.state = "stopped"
		c.mu.Unlock()
		return nil
	}
	c.state = "stopped"
	c.mu.Unlock()
	c.follower.stop()
	c.claims.close(2 * time.Second)
	c.hub.leave(c.follower, c.report)
	if c.ownsConn {
		c.nc.Close()
	}
	c.log.Info("backbeat client stopped", "agent", c.cfg.AgentID)
	return nil
}
