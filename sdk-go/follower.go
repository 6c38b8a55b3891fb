package sdk

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// The follower keeps one client on the cluster's grid (BACKBEAT-REQ-040, REQ-003;
// docs/spec.md §8 Degradation and grid timing) and calls its callbacks exactly once per
// (beat, phase), in grid order:
//   - frames timing: a leader frame fires its slot on receipt; when none arrived by the
//     slot's start + the jitter tolerance (at most half the phase), the slot fires from the
//     tempo map (source local) and the client reports local degradation until frames return.
//   - grid timing: every slot fires from the tempo map at its instant (source grid); the
//     leader's frame confirms it. A frame for a slot not fired yet fires it (source leader).
//     Beyond MaxClockOffset between this clock and the leader's it falls back to frames timing.
// Catch-up is bounded: after a stall, a gap or a jump only the slot that holds "now" fires;
// the skipped ones are counted. Decisions take the time as an argument; the hub (hub.go) is
// the I/O shell that brings frames and timer wake-ups.

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

const (
	recentFired       = 8
	leadFactor        = 5
	offsetMinSamples  = 4
	reportEveryMs     = 1000
	beatArrivalsKept  = 11
	maxErrorsRemember = 20
)

var quietDrops = map[string]bool{DropDuplicate: true, DropBackwards: true, DropStale: true, DropOldTerm: true}

type fired struct {
	pos       BeatPosition
	source    string
	firedAt   float64
	confirmed bool
}

type callbacks struct {
	phase    []func(BeatFrame, BeatInfo)
	beat     []func(BeatFrame, BeatInfo)
	downbeat []func(BeatFrame, BeatInfo)
}

// followerEnv is what a follower reads from its hub.
type followerEnv interface {
	tempoMap() *TempoMap
	clockOffset() (ms float64, samples int, ok bool)
	frameFor(m *TempoMap, pos BeatPosition) BeatFrame
	rearm()
}

type follower struct {
	mu          sync.Mutex // held while deciding and while calling this client's callbacks
	clusterID   string
	hlc         *hlc
	tolMs       float64
	configured  string
	maxOffsetMs float64
	now         func() float64
	env         followerEnv
	met         *metrics
	onError     func(msg string, log bool)
	onDegrade   func(on bool)

	cbs      atomic.Pointer[callbacks]
	cbMu     sync.Mutex
	due      atomic.Uint64 // float64 bits of the armed instant; NaN: none
	running  atomic.Bool
	state    sync.RWMutex // guards the fields below for readers outside mu
	last     *BeatPosition
	degraded bool
	timing   string
	fallback string
	lastBeat float64 // ms since the epoch of the last beat's first phase
	arrivals []float64

	recent   []fired
	reported map[string]float64
}

func newFollower(clusterID string, h *hlc, tolMs float64, timing string, maxOffsetMs float64, now func() float64, met *metrics,
	onError func(string, bool), onDegrade func(bool)) *follower {
	f := &follower{clusterID: clusterID, hlc: h, tolMs: tolMs, configured: timing, timing: timing, maxOffsetMs: maxOffsetMs,
		now: now, met: met, onError: onError, onDegrade: onDegrade, reported: map[string]float64{}}
	f.cbs.Store(&callbacks{})
	f.due.Store(math.Float64bits(math.NaN()))
	return f
}

func (f *follower) addCallback(kind string, cb func(BeatFrame, BeatInfo)) {
	f.cbMu.Lock()
	defer f.cbMu.Unlock()
	old := f.cbs.Load()
	n := &callbacks{phase: old.phase, beat: old.beat, downbeat: old.downbeat}
	switch kind {
	case "phase":
		n.phase = append(append([]func(BeatFrame, BeatInfo){}, old.phase...), cb)
	case "beat":
		n.beat = append(append([]func(BeatFrame, BeatInfo){}, old.beat...), cb)
	default:
		n.downbeat = append(append([]func(BeatFrame, BeatInfo){}, old.downbeat...), cb)
	}
	f.cbs.Store(n)
}

func (f *follower) dueAt() float64 { return math.Float64frombits(f.due.Load()) }

func (f *follower) start() {
	f.running.Store(true)
	f.mu.Lock()
	f.arm()
	f.mu.Unlock()
}

func (f *follower) stop() {
	f.running.Store(false)
	f.due.Store(math.Float64bits(math.NaN()))
}

// accept takes a frame that passed the gate.
func (f *follower) accept(v verdict) {
	if !f.running.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.met.received()
	f.setDegraded(false)
	pos := v.pos
	if f.last != nil && compareSlots(pos, *f.last) <= 0 {
		var mine *fired
		for i := range f.recent {
			if compareSlots(f.recent[i].pos, pos) == 0 {
				mine = &f.recent[i]
			}
		}
		switch {
		case mine != nil && !mine.confirmed && mine.source == SourceGrid:
			f.met.confirmed(v.receivedAt - mine.firedAt)
		case compareSlots(pos, *f.last) == 0:
			f.met.dropped(DropDuplicate)
		default:
			f.met.dropped(DropBackwards)
		}
		if mine != nil {
			mine.confirmed = true
		}
	} else {
		f.fire(pos, v.frame.BeatFrame, SourceLeader, v.receivedAt)
	}
	if _, err := f.hlc.Update(v.frame.HLC); err == nil {
		f.checkOffset()
	}
	f.arm()
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
	f.arm()
	f.mu.Unlock()
}

// onDue fires the slot that holds now, if it is due and not fired yet; never a stale one.
func (f *follower) onDue(now float64) {
	if !f.running.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.env.tempoMap()
	if m == nil {
		return
	}
	cur, ok := m.PositionAt(now)
	if !ok || (f.last != nil && compareSlots(cur, *f.last) <= 0) {
		f.arm()
		return
	}
	if due := f.dueOf(cur); now < due {
		f.due.Store(math.Float64bits(due)) // the slot holding now, not a skipped one before it
		f.env.rearm()
		return
	}
	grid := f.currentTiming() == TimingGrid
	if !grid {
		f.setDegraded(true)
	} else if n := len(f.recent); n > 0 && !f.recent[n-1].confirmed {
		f.setDegraded(true)
	}
	frame := f.env.frameFor(m, cur)
	frame.HLC = f.hlc.Now()
	src := SourceLocal
	if grid {
		src = SourceGrid
	}
	f.fire(cur, frame, src, now)
	f.arm()
}

func (f *follower) currentTiming() string {
	f.state.RLock()
	defer f.state.RUnlock()
	return f.timing
}

func (f *follower) dueOf(s BeatPosition) float64 {
	if f.currentTiming() == TimingGrid {
		return s.PhaseStart
	}
	return s.PhaseStart + math.Min(f.tolMs, (s.PhaseEnd-s.PhaseStart)/2)
}

// arm stores the instant of the next slot for the hub's timer. Called with mu held.
func (f *follower) arm() {
	m := f.env.tempoMap()
	if !f.running.Load() || m == nil {
		f.due.Store(math.Float64bits(math.NaN()))
		return
	}
	var next BeatPosition
	if f.last != nil && f.last.PhaseIndex < len(m.Phases) {
		next = m.NextSlot(*f.last)
	} else {
		next = m.SlotAtOrAfter(f.now())
	}
	due := f.dueOf(next)
	if math.Float64frombits(f.due.Swap(math.Float64bits(due))) != due {
		f.env.rearm()
	}
}

// fire calls the callbacks of a slot and does its bookkeeping. Called with mu held.
func (f *follower) fire(pos BeatPosition, frame BeatFrame, source string, receivedAt float64) {
	prev := f.last
	first := pos.PhaseIndex == 0
	f.state.Lock()
	f.last = &pos
	if first {
		f.lastBeat = receivedAt
		if source == SourceLeader {
			f.arrivals = append(f.arrivals, receivedAt)
			if len(f.arrivals) > beatArrivalsKept {
				f.arrivals = f.arrivals[1:]
			}
		}
	}
	f.state.Unlock()
	info := BeatInfo{Source: source, ReceivedAt: receivedAt, ScheduledAt: pos.PhaseStart}
	cbs := f.cbs.Load()
	f.call(cbs.phase, frame, info)
	if first {
		f.call(cbs.beat, frame, info)
		if frame.Downbeat {
			f.call(cbs.downbeat, frame, info)
		}
	}
	f.met.callback(f.now() - receivedAt)
	if prev != nil {
		m := f.env.tempoMap()
		phases := int64(3)
		if m != nil {
			phases = int64(len(m.Phases))
		}
		if skipped := pos.BeatIndex*phases + int64(pos.PhaseIndex) - (prev.BeatIndex*phases + int64(prev.PhaseIndex)) - 1; skipped > 0 {
			f.met.skipped(skipped)
		}
	}
	f.recent = append(f.recent, fired{pos: pos, source: source, firedAt: receivedAt, confirmed: source == SourceLeader})
	if len(f.recent) > recentFired {
		f.recent = f.recent[1:]
	}
	if source != SourceLeader {
		f.met.synthesized()
	}
}

func (f *follower) call(list []func(BeatFrame, BeatInfo), frame BeatFrame, info BeatInfo) {
	for _, cb := range list {
		func() {
			defer func() {
				if r := recover(); r != nil {
					f.onError(fmt.Sprintf("beat callback panicked: %v", r), true)
				}
			}()
			cb(frame, info)
		}()
	}
}

// checkOffset switches grid timing to frames while this clock is too far from the leader's.
func (f *follower) checkOffset() {
	off, n, ok := f.env.clockOffset()
	if f.configured != TimingGrid || !ok || n < offsetMinSamples {
		return
	}
	bound := f.maxOffsetMs
	d := off / leadFactor
	if off < 0 {
		d = -off
	}
	f.state.Lock()
	defer f.state.Unlock()
	if f.timing == TimingGrid && d > bound {
		f.timing = TimingFrames
		if off < 0 {
			f.fallback = fmt.Sprintf("this clock is at least %.1f ms behind the leader's (bound %v ms): grid timing fell back to frames", -off, bound)
		} else {
			f.fallback = fmt.Sprintf("frames arrive at least %.1f ms after their slot (bound %d x %v ms): grid timing fell back to frames", off, leadFactor, bound)
		}
		go f.onError(f.fallback, true)
	} else if f.timing == TimingFrames && d <= bound/2 {
		f.timing = TimingGrid
		f.fallback = ""
	}
}

func (f *follower) setDegraded(on bool) {
	f.state.Lock()
	changed := f.degraded != on
	f.degraded = on
	f.state.Unlock()
	if changed {
		f.met.degraded(on)
		f.onDegrade(on)
	}
}

// snapshot is what the client's getters read.
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
	return followerView{last: f.last, degraded: f.degraded, timing: f.timing, fallback: f.fallback, lastBeat: f.lastBeat,
		arrivals: append([]float64(nil), f.arrivals...)}
}
