package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
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

// HealthStatus is the SDK seed's health, plus what the client trusts.
type HealthStatus struct {
	Connected        bool          `json:"connected"`
	LastBeat         int64         `json:"last_beat"`
	LastBeatTime     time.Time     `json:"last_beat_time"`
	TimeDrift        time.Duration `json:"time_drift"` // this clock minus the leader's, estimated from frames (an upper bound)
	ReconnectCount   int           `json:"reconnect_count"`
	LocalDegradation bool          `json:"local_degradation"`
	CurrentTempo     float64       `json:"current_tempo"`
	TempoDrift       time.Duration `json:"tempo_drift"`
	MeasuredBPM      float64       `json:"measured_bpm"`
	Errors           []string      `json:"errors,omitempty"`

	Lease          LeaseInfo        `json:"lease"`
	FramesDropped  map[string]int64 `json:"frames_dropped"`
	Timing         string           `json:"timing"`
	TimingFallback string           `json:"timing_fallback,omitempty"`
	TempoMapSource string           `json:"tempo_map_source"`
	ClaimsQueued   int64            `json:"claims_queued"`
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
	c := &client{cfg: r, cfgErr: err, clock: systemNowMs, met: newMetrics(), state: "created", log: slog.New(slog.DiscardHandler)}
	if err != nil {
		return c, err
	}
	c.log = r.Logger
	c.hlc = newHLC(r.AgentID, func() int64 { return time.Now().UnixMilli() })
	c.report = c.recordError
	c.follower = newFollower(r.ClusterID, c.hlc, float64(r.JitterTolerance)/1e6, r.Timing, float64(r.MaxClockOffset)/1e6, c.clock, c.met,
		c.recordError, func(on bool) {
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
	c.claims = newClaimSender(nc, h.js, "backbeat."+c.cfg.ClusterID+".status", c.met, c.cfg.MaxQueuedClaims, c.cfg.NoStreamGrace, c.recordError)
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

func (c *client) on(kind string, cb func(BeatFrame, BeatInfo)) error {
	if c.cfgErr != nil {
		return c.cfgErr
	}
	c.follower.addCallback(kind, cb)
	return nil
}

func (c *client) OnBeat(cb func(BeatFrame)) error {
	if cb == nil {
		return &ConfigError{Field: "callback", Rule: "must not be nil"}
	}
	return c.on("beat", func(f BeatFrame, _ BeatInfo) { cb(f) })
}

func (c *client) OnDownbeat(cb func(BeatFrame)) error {
	if cb == nil {
		return &ConfigError{Field: "callback", Rule: "must not be nil"}
	}
	return c.on("downbeat", func(f BeatFrame, _ BeatInfo) { cb(f) })
}

func (c *client) OnPhase(cb func(BeatFrame)) error {
	if cb == nil {
		return &ConfigError{Field: "callback", Rule: "must not be nil"}
	}
	return c.on("phase", func(f BeatFrame, _ BeatInfo) { cb(f) })
}

func (c *client) OnPhaseInfo(cb func(BeatFrame, BeatInfo)) error {
	if cb == nil {
		return &ConfigError{Field: "callback", Rule: "must not be nil"}
	}
	return c.on("phase", cb)
}

// canonicalState maps the seed's aliases onto INT-B states, warning once per alias.
func (c *client) canonicalState(s string) string {
	a, ok := StateAliases[s]
	if !ok {
		return s
	}
	if _, seen := c.warned.LoadOrStore(s, true); !seen {
		c.log.Warn(fmt.Sprintf("backbeat: status state '%s' is deprecated: use '%s'", s, a))
	}
	return a
}

func (c *client) prepare(claim StatusClaim) (*outgoing, error) {
	if c.cfgErr != nil {
		return nil, c.cfgErr
	}
	c.mu.Lock()
	running := c.state == "running"
	sender := c.claims
	c.mu.Unlock()
	if !running {
		return nil, ErrClientStopped
	}
	beat := claim.BeatIndex
	if beat == 0 {
		beat = c.GetCurrentBeat()
	}
	if beat < 0 {
		return nil, ErrNoBeat
	}
	claim.Type = StatusClaimType
	claim.AgentID = c.cfg.AgentID
	claim.BeatIndex = beat
	claim.HLC = c.hlc.Now()
	claim.State = c.canonicalState(claim.State)
	if claim.TaskID == "" {
		claim.TaskID = newTaskID()
	}
	if err := ValidateStatusClaim(claim); err != nil {
		c.met.failed("invalid")
		return nil, err
	}
	payload, err := ClaimPayload(claim)
	if err != nil {
		c.met.failed("invalid")
		return nil, err
	}
	if len(payload) > MaxClaimBytes {
		c.met.failed("too_large")
		return nil, &ClaimTooLargeError{Bytes: len(payload)}
	}
	bar := DefaultBarLength
	if m := c.hub.tempoMap(); m != nil {
		bar = m.BarLength
	}
	msg := nats.NewMsg("backbeat." + c.cfg.ClusterID + ".status")
	msg.Data = payload
	msg.Header.Set("x-agent-id", claim.AgentID)
	msg.Header.Set("x-window-id", WindowIDForBeat(c.cfg.ClusterID, beat, bar))
	msg.Header.Set("x-hlc", claim.HLC)
	if c.cfg.SigningKey != nil {
		msg.Header.Set("x-signature", SignPayload(c.cfg.SigningKey, payload))
	}
	o := &outgoing{msg: msg, msgID: newMsgID(), claim: claim, done: make(chan error, 1)}
	if err := sender.send(o); err != nil {
		return nil, err
	}
	return o, nil
}

func (c *client) EmitStatusClaim(claim StatusClaim) error {
	_, err := c.prepare(claim)
	return err
}

func (c *client) EmitStatusClaimWait(ctx context.Context, claim StatusClaim) (StatusClaim, error) {
	o, err := c.prepare(claim)
	if err != nil {
		return StatusClaim{}, err
	}
	select {
	case err := <-o.done:
		return o.claim, err
	case <-ctx.Done():
		return o.claim, ctx.Err()
	}
}

func (c *client) GetCurrentBeat() int64 {
	if c.follower == nil {
		return -1
	}
	if v := c.follower.view(); v.last != nil {
		return v.last.BeatIndex
	}
	return -1
}

func (c *client) map_() *TempoMap {
	c.mu.Lock()
	h := c.hub
	c.mu.Unlock()
	if h == nil {
		return nil
	}
	return h.tempoMap()
}

func (c *client) TempoMap() *TempoMap { return c.map_() }

func (c *client) GetCurrentWindow() string {
	m := c.map_()
	b := c.GetCurrentBeat()
	if m == nil || b < 0 {
		return ""
	}
	return WindowIDForBeat(c.cfg.ClusterID, b, m.BarLength)
}

func (c *client) IsInWindow(id string) bool { return id != "" && id == c.GetCurrentWindow() }

func (c *client) GetCurrentTempo() float64 {
	m := c.map_()
	if m == nil {
		return 0
	}
	return m.TempoAt(c.clock())
}

func (c *client) measuredBPM() float64 {
	if c.follower == nil {
		return 0
	}
	a := c.follower.view().arrivals
	if len(a) < 2 {
		return 0
	}
	return 60000 / ((a[len(a)-1] - a[0]) / float64(len(a)-1))
}

func (c *client) GetTempoDrift() time.Duration {
	bpm, tempo := c.measuredBPM(), c.GetCurrentTempo()
	if bpm == 0 || tempo == 0 {
		return 0
	}
	return time.Duration((60000/bpm - 60000/tempo) * 1e6)
}

func (c *client) ToLegacy(beatIndex int64) LegacyBeatInfo {
	bar := DefaultBarLength
	if m := c.map_(); m != nil {
		bar = m.BarLength
	}
	l, err := ToLegacy(max(beatIndex, 0), bar)
	if err != nil {
		return LegacyBeatInfo{}
	}
	return l
}

func (c *client) Metrics() Metrics { return c.met.snapshot() }

func (c *client) Health() HealthStatus {
	h := HealthStatus{LastBeat: -1, Timing: TimingFrames, TempoMapSource: MapNone, Lease: LeaseInfo{State: LeaseAbsent, Reason: "not started"}}
	if c.cfgErr != nil {
		h.Errors = []string{c.cfgErr.Error()}
		return h
	}
	c.mu.Lock()
	nc, hb := c.nc, c.hub
	h.Errors = append([]string(nil), c.errs...)
	c.mu.Unlock()
	v := c.follower.view()
	snap := c.met.snapshot()
	h.Connected = nc != nil && nc.IsConnected()
	if v.last != nil {
		h.LastBeat = v.last.BeatIndex
		h.LastBeatTime = time.UnixMicro(int64(v.lastBeat * 1000))
	}
	h.ReconnectCount = int(c.reconnects.Load())
	h.LocalDegradation = v.degraded
	h.CurrentTempo = c.GetCurrentTempo()
	h.TempoDrift = c.GetTempoDrift()
	h.MeasuredBPM = c.measuredBPM()
	h.Timing = v.timing
	h.TimingFallback = v.fallback
	h.FramesDropped = snap.FramesDropped
	h.ClaimsQueued = snap.ClaimsQueued
	if hb != nil {
		hb.mu.Lock()
		h.Lease = hb.gate.lease
		h.TempoMapSource = hb.gate.mapSource
		hb.mu.Unlock()
		if off, _, ok := hb.clockOffset(); ok {
			h.TimeDrift = time.Duration(off * 1e6)
		}
	}
	return h
}

// WithBeatBudget: see Client.
func (c *client) WithBeatBudget(n int, fn func() error) error {
	if fn == nil {
		return &ConfigError{Field: "fn", Rule: "must not be nil"}
	}
	return c.WithBeatBudgetContext(context.Background(), n, func(context.Context) error { return fn() })
}

// WithBeatBudgetContext: the deadline is a beat, not a duration: a tempo change during the
// budget moves it (BACKBEAT-REQ-042).
func (c *client) WithBeatBudgetContext(ctx context.Context, n int, fn func(context.Context) error) error {
	if n < 1 {
		return &ConfigError{Field: "n", Rule: fmt.Sprintf("beat budget must be a whole number >= 1, got %d", n)}
	}
	if fn == nil {
		return &ConfigError{Field: "fn", Rule: "must not be nil"}
	}
	start := c.GetCurrentBeat()
	if start < 0 || c.map_() == nil {
		return ErrNoBeat
	}
	budgetErr := &BeatBudgetExceededError{Beats: n, StartBeat: start, DeadlineBeat: start + int64(n)}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("backbeat: function under a beat budget panicked: %v", r)
			}
		}()
		done <- fn(wctx)
	}()
	for {
		m := c.map_()
		wait := time.Second // re-read the map at least every second: a tempo change moves the deadline
		if m != nil {
			at := m.TimeOf(budgetErr.DeadlineBeat, 0)
			left := at - c.clock()
			if left <= 0 {
				cancel(budgetErr)
				return budgetErr
			}
			wait = min(wait, time.Duration(math.Ceil(left*1e6)))
		}
		t := time.NewTimer(wait)
		select {
		case err := <-done:
			t.Stop()
			return err
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}
