package sdk

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// The follower keeps one client on the cluster's grid (BACKBEAT-REQ-040, REQ-003;
// docs/spec.md §8 Degradation and grid timing) and calls its callbacks exactly once per
// (beat, phase), in grid order. It is the shell around the timing rules (follower_rules.go):
// it turns the hub's frames, map changes and timer wake-ups (hub.go, slot_timer.go) into
// events, and carries out the effects the rules return: callbacks, metrics, health and the
// instant the hub's timer wakes for this client.

// Beat sources of BeatInfo.
const (
	SourceLeader = "leader"
	SourceLocal  = "local"
	SourceGrid   = "grid"
)

// Timings of Config.Timing.
const (
	TimingFrames = "frames"
	TimingGrid   = "grid"
)

// BeatInfo is what an OnPhaseInfo callback gets besides the frame.
type BeatInfo struct {
	Source      string  // leader, local or grid
	ReceivedAt  float64 // ms since the epoch: when the frame arrived, or when the slot fired from the map
	ScheduledAt float64 // the slot's start on the grid, ms since the epoch
}

// reportEveryMs: drops of one reason reach health at most this often (a flood is counted).
const reportEveryMs = 1000

// quietDrops are part of normal operation (a failover, a late frame): counted, not reported.
var quietDrops = map[string]bool{DropDuplicate: true, DropBackwards: true, DropStale: true, DropOldTerm: true}

// followerEnv is what a follower reads from its hub.
type followerEnv interface {
	tempoMap() *TempoMap
	clockOffset() (ms float64, samples int, ok bool)
	frameFor(m *TempoMap, pos BeatPosition) BeatFrame
	rearm()
}

type follower struct {
	mu        sync.Mutex // held while stepping the rules and carrying out their effects
	rules     followerRules
	effects   []followerEffect // reused for every step
	clusterID string
	hlc       *hlc
	now       func() float64
	env       followerEnv
	met       *metrics
	onError   func(msg string, log bool)
	onDegrade func(on bool)

	cbs     atomic.Pointer[callbacks]
	cbMu    sync.Mutex
	due     atomic.Uint64 // float64 bits of the armed instant; NaN: none
	running atomic.Bool
	state   sync.RWMutex  // st is written with mu and state held, read by getters with state held
	st      followerState // the rules' state

	reported map[string]float64 // guarded by mu
}

func newFollower(clusterID string, h *hlc, rules followerRules, now func() float64, met *metrics,
	onError func(string, bool), onDegrade func(bool)) *follower {
	f := &follower{clusterID: clusterID, hlc: h, rules: rules, st: newFollowerState(rules), now: now, met: met,
		onError: onError, onDegrade: onDegrade, reported: map[string]float64{}}
	f.cbs.Store(&callbacks{})
	f.due.Store(math.Float64bits(math.NaN()))
	return f
}

func (f *follower) dueAt() float64 { return math.Float64frombits(f.due.Load()) }

func (f *follower) start() {
	f.running.Store(true)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.step(followerEvent{kind: evStart, now: f.now(), m: f.env.tempoMap()}, nil)
}

func (f *follower) stop() {
	f.running.Store(false)
	f.due.Store(math.Float64bits(math.NaN()))
}

// accept takes a frame that passed the gate; its HLC is merged after its callbacks.
func (f *follower) accept(v verdict) {
	if !f.running.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.met.received()
	f.step(followerEvent{kind: evFrame, now: v.receivedAt, m: f.env.tempoMap(), pos: v.pos}, &v.frame.BeatFrame)
	if _, err := f.hlc.Update(v.frame.HLC); err != nil {
		return
	}
	if off, n, ok := f.env.clockOffset(); ok {
		f.step(followerEvent{kind: evOffset, now: f.now(), m: f.env.tempoMap(), offMs: off, samples: n}, nil)
	}
}

// drop counts a frame that did not pass; what was wrong goes to health (a flood once a second).
func (f *follower) drop(reason, detail string, log bool) {
	if !f.running.Load() {
		return
	}
	f.met.received()
	f.met.dropped(reason)
	if detail == "" || quietDrops[reason] {
		return
	}
	f.mu.Lock()
	now := f.now()
	last, seen := f.reported[reason]
	if seen && now-last < reportEveryMs {
		f.mu.Unlock()
		return
	}
	f.reported[reason] = now
	f.mu.Unlock()
	f.onError(fmt.Sprintf("frame dropped (%s): %s", reason, detail), log)
}

func (f *follower) mapChanged() {
	if !f.running.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.step(followerEvent{kind: evMap, now: f.now(), m: f.env.tempoMap()}, nil)
}

// onDue: the hub's timer woke at now, at or after this follower's armed instant.
func (f *follower) onDue(now float64) {
	if !f.running.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.step(followerEvent{kind: evDue, now: now, m: f.env.tempoMap()}, nil)
}

// step runs the rules on ev, publishes the new state to the getters and carries out the
// effects in order. leader is the frame of an evFrame. Called with mu held.
func (f *follower) step(ev followerEvent, leader *BeatFrame) {
	next, effects := f.st.step(f.rules, ev, f.effects[:0])
	f.state.Lock()
	f.st = next
	f.state.Unlock()
	for _, e := range effects {
		switch e.kind {
		case effFire:
			var frame BeatFrame
			if e.source == SourceLeader {
				frame = *leader
			} else {
				frame = f.env.frameFor(ev.m, e.pos)
				frame.HLC = f.hlc.Now()
			}
			f.fire(e.pos, frame, e.source, e.at)
		case effConfirm:
			f.met.confirmed(e.lagMs)
		case effDrop:
			f.met.dropped(e.reason)
		case effDegraded:
			f.met.degraded(e.on)
			f.onDegrade(e.on)
		case effSkipped:
			f.met.skipped(e.n)
		case effArm:
			f.arm(e.at)
		case effFallback:
			go f.onError(e.reason, true)
		}
	}
	f.effects = effects[:0]
}

// arm stores the instant of the next slot for the hub's timer and wakes it when it changed.
func (f *follower) arm(at float64) {
	if !f.running.Load() || math.IsNaN(at) {
		f.due.Store(math.Float64bits(math.NaN()))
		return
	}
	if math.Float64frombits(f.due.Swap(math.Float64bits(at))) != at {
		f.env.rearm()
	}
}

// followerView is what the client's getters read.
type followerView struct {
	last     *BeatPosition
	degraded bool
	timing   string
	fallback string
	lastBeat float64
	arrivals []float64
}

func (f *follower) view() followerView {
	f.state.RLock()
	defer f.state.RUnlock()
	v := followerView{degraded: f.st.degraded, timing: f.st.timing, fallback: f.st.fallback, lastBeat: f.st.lastBeat,
		arrivals: f.st.beatArrivals()}
	if f.st.hasLast {
		last := f.st.last
		v.last = &last
	}
	return v
}
