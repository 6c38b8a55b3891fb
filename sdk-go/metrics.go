package sdk

import (
	"math"
	"sync"
)

// Metrics are a client's counters and latencies (a copy; Client.Metrics).
type Metrics struct {
	FramesReceived    int64            `json:"frames_received"`
	FramesDropped     map[string]int64 `json:"frames_dropped"`
	FramesSynthesized int64            `json:"frames_synthesized"`
	Callbacks         int64            `json:"callbacks"`
	// CallbackLastMs, CallbackMaxMs: frame receipt (or slot firing) to the end of its callbacks.
	CallbackLastMs   float64          `json:"callback_last_ms"`
	CallbackMaxMs    float64          `json:"callback_max_ms"`
	ClaimsEmitted    int64            `json:"claims_emitted"`
	ClaimsFailed     map[string]int64 `json:"claims_failed"`
	ClaimsQueued     int64            `json:"claims_queued"`
	SlotsSkipped     int64            `json:"slots_skipped"`
	FramesConfirmed  int64            `json:"frames_confirmed"`
	ConfirmLagLastMs float64          `json:"confirm_lag_last_ms"`
	ConfirmLagMaxMs  float64          `json:"confirm_lag_max_ms"`
	Degraded         bool             `json:"degraded"`
}

type metrics struct {
	mu sync.Mutex
	s  Metrics
}

func newMetrics() *metrics {
	return &metrics{s: Metrics{FramesDropped: map[string]int64{}, ClaimsFailed: map[string]int64{}}}
}

func (m *metrics) with(fn func(s *Metrics)) {
	m.mu.Lock()
	fn(&m.s)
	m.mu.Unlock()
}

func (m *metrics) received()             { m.with(func(s *Metrics) { s.FramesReceived++ }) }
func (m *metrics) dropped(reason string) { m.with(func(s *Metrics) { s.FramesDropped[reason]++ }) }
func (m *metrics) synthesized()          { m.with(func(s *Metrics) { s.FramesSynthesized++ }) }
func (m *metrics) skipped(n int64)       { m.with(func(s *Metrics) { s.SlotsSkipped += n }) }
func (m *metrics) emitted()              { m.with(func(s *Metrics) { s.ClaimsEmitted++ }) }
func (m *metrics) failed(reason string)  { m.with(func(s *Metrics) { s.ClaimsFailed[reason]++ }) }
func (m *metrics) queued(n int)          { m.with(func(s *Metrics) { s.ClaimsQueued = int64(n) }) }
func (m *metrics) degraded(on bool)      { m.with(func(s *Metrics) { s.Degraded = on }) }
func (m *metrics) callback(ms float64) {
	m.with(func(s *Metrics) {
		s.Callbacks++
		s.CallbackLastMs = ms
		s.CallbackMaxMs = math.Max(s.CallbackMaxMs, ms)
	})
}
func (m *metrics) confirmed(lag float64) {
	m.with(func(s *Metrics) {
		s.FramesConfirmed++
		s.ConfirmLagLastMs = lag
		s.ConfirmLagMaxMs = math.Max(s.ConfirmLagMaxMs, lag)
	})
}

func (m *metrics) snapshot() Metrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.s
	c.FramesDropped = make(map[string]int64, len(m.s.FramesDropped))
	for k, v := range m.s.FramesDropped {
		c.FramesDropped[k] = v
	}
	c.ClaimsFailed = make(map[string]int64, len(m.s.ClaimsFailed))
	for k, v := range m.s.ClaimsFailed {
		c.ClaimsFailed[k] = v
	}
	return c
}
