package sdk

// The client's health: the SDK seed's fields plus the lease, drops and timing in force.

import (
	"time"
)

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

// Health is the client's health now: what it follows, what it trusts and what went wrong.
func (c *client) Health() HealthStatus {
	h := HealthStatus{LastBeat: -1, Timing: TimingFrames, TempoMapSource: MapNone,
		Lease: LeaseInfo{State: LeaseAbsent, Reason: "not started"}}
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
