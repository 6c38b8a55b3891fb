package sdk

import (
	"fmt"
	"math"
)

// The follower's timing rules (BACKBEAT-REQ-040, REQ-003; docs/spec.md §8 Degradation and grid
// timing) as a pure machine: followerState.step(rules, event, out) returns the next state and
// appends the effects. No clock reads, timers, locks or I/O: the time and the tempo map come in
// with each event, and follower.go (the shell) carries out the effects. The rules, as in the
// TypeScript SDK's follower:
//   - frames timing: a leader frame fires its slot on receipt; when none arrived by the slot's
//     start + the jitter tolerance (at most half the phase), the slot fires from the tempo map
//     (source local) and the client reports local degradation until frames return.
//   - grid timing: every slot fires from the tempo map at its instant (source grid); the
//     leader's frame confirms it. A frame for a slot not fired yet fires it (source leader).
//     Beyond MaxClockOffset between this clock and the leader's it falls back to frames timing.
//   - a slot fires at most once and never after a later one; after a stall, a gap or a jump
//     only the slot that holds "now" fires, and the skipped ones are counted.

const (
	recentFired      = 8  // fired slots remembered for confirmation by late leader frames
	leadFactor       = 5  // a positive offset includes the network delay: it counts against bound / leadFactor
	offsetMinSamples = 4  // frames the clock-offset estimate needs before timing may change
	beatArrivalsKept = 11 // leader first-phase arrivals kept for the measured tempo
)

// followerRules are a follower's fixed settings.
type followerRules struct {
	tolMs       float64 // the jitter tolerance
	configured  string  // the configured timing: TimingFrames or TimingGrid
	maxOffsetMs float64 // MaxClockOffset
}

type followerEventKind uint8

const (
	evStart  followerEventKind = iota + 1 // the client starts following: arm the timer
	evMap                                 // the tempo map changed: arm again
	evFrame                               // a frame passed the gate: pos, received at now
	evDue                                 // the timer woke at now
	evOffset                              // the clock-offset estimate after a frame's HLC was merged
)

// followerEvent is one thing that happened to a follower.
type followerEvent struct {
	kind    followerEventKind
	now     float64      // ms since the epoch; for evFrame the frame's receipt
	m       *TempoMap    // the tempo map in force, nil before one is known
	pos     BeatPosition // evFrame: the frame's slot on m
	offMs   float64      // evOffset: this clock minus the leader's (an upper bound), ms
	samples int          // evOffset: frames behind the estimate
}

type followerEffectKind uint8

const (
	effFire     followerEffectKind = iota + 1 // call the callbacks of pos (source, at)
	effConfirm                                // a grid slot confirmed by its leader frame (lagMs)
	effDrop                                   // a frame of a slot already fired (reason)
	effDegraded                               // local degradation changed (on)
	effSkipped                                // n slots skipped by a catch-up
	effArm                                    // the next instant to wake at (at; NaN: none)
	effFallback                               // grid timing fell back to frames (reason is why)
)

// followerEffect is one thing the shell must do.
type followerEffect struct {
	kind   followerEffectKind
	pos    BeatPosition
	source string  // effFire: SourceLeader, SourceLocal or SourceGrid
	at     float64 // effFire: receipt or firing time; effArm: the instant
	lagMs  float64 // effConfirm
	n      int64   // effSkipped
	on     bool    // effDegraded
	reason string  // effDrop: DropDuplicate or DropBackwards; effFallback: the message
}

type fired struct {
	beat      int64
	phase     int
	source    string
	firedAt   float64
	confirmed bool
}

// followerState is what the rules remember: a value (arrays, no shared slices), so a step
// never changes the state it was given.
type followerState struct {
	last     BeatPosition // the last slot fired (when hasLast)
	hasLast  bool
	recent   [recentFired]fired // the last fired slots, oldest first
	nRecent  int
	degraded bool
	timing   string  // the timing in force: the configured one, or frames after a fallback
	fallback string  // why grid timing fell back to frames, "" when it did not
	lastBeat float64 // when the last beat's first phase fired (ms since the epoch)
	arrivals [beatArrivalsKept]float64
	nArrive  int
}

func newFollowerState(r followerRules) followerState {
	return followerState{timing: r.configured}
}

// step applies one event: the next state, with the effects appended to out.
func (s followerState) step(r followerRules, ev followerEvent, out []followerEffect) (followerState, []followerEffect) {
	switch ev.kind {
	case evStart, evMap:
		out = s.arm(r, ev.m, ev.now, out)
	case evFrame:
		out = s.frame(r, ev, out)
	case evDue:
		out = s.due(r, ev, out)
	case evOffset:
		out = s.offset(r, ev, out)
	}
	return s, out
}

// frame: a leader frame fires its slot, confirms a grid slot fired before, or is a duplicate.
func (s *followerState) frame(r followerRules, ev followerEvent, out []followerEffect) []followerEffect {
	out = s.setDegraded(false, out)
	pos := ev.pos
	if s.hasLast && compareSlots(pos, s.last) <= 0 {
		mine := -1
		for i := 0; i < s.nRecent; i++ {
			if s.recent[i].beat == pos.BeatIndex && s.recent[i].phase == pos.PhaseIndex {
				mine = i
			}
		}
		switch {
		case mine >= 0 && !s.recent[mine].confirmed && s.recent[mine].source == SourceGrid:
			out = append(out, followerEffect{kind: effConfirm, pos: pos, lagMs: ev.now - s.recent[mine].firedAt})
		case compareSlots(pos, s.last) == 0:
			out = append(out, followerEffect{kind: effDrop, pos: pos, reason: DropDuplicate})
		default:
			out = append(out, followerEffect{kind: effDrop, pos: pos, reason: DropBackwards})
		}
		if mine >= 0 {
			s.recent[mine].confirmed = true
		}
	} else {
		out = s.fire(ev.m, pos, SourceLeader, ev.now, out)
	}
	return s.arm(r, ev.m, ev.now, out)
}

// due fires the slot that holds now, if it is due and not fired yet; never a stale one.
func (s *followerState) due(r followerRules, ev followerEvent, out []followerEffect) []followerEffect {
	m := ev.m
	if m == nil {
		return out
	}
	cur, ok := m.PositionAt(ev.now)
	if !ok || (s.hasLast && compareSlots(cur, s.last) <= 0) {
		return s.arm(r, m, ev.now, out)
	}
	if due := s.dueOf(r, cur); ev.now < due {
		// the slot holding now, not a skipped one before it
		return append(out, followerEffect{kind: effArm, at: due})
	}
	grid := s.timing == TimingGrid
	if !grid || (s.nRecent > 0 && !s.recent[s.nRecent-1].confirmed) {
		out = s.setDegraded(true, out)
	}
	src := SourceLocal
	if grid {
		src = SourceGrid
	}
	out = s.fire(m, cur, src, ev.now, out)
	return s.arm(r, m, ev.now, out)
}

// offset switches grid timing to frames while this clock is too far from the leader's, and back.
// A negative estimate is a proven lag; a positive one includes the network delay, so only a
// lead beyond leadFactor x the bound counts.
func (s *followerState) offset(r followerRules, ev followerEvent, out []followerEffect) []followerEffect {
	if r.configured != TimingGrid || ev.samples < offsetMinSamples {
		return s.arm(r, ev.m, ev.now, out)
	}
	off, bound := ev.offMs, r.maxOffsetMs
	d := off / leadFactor
	if off < 0 {
		d = -off
	}
	if s.timing == TimingGrid && d > bound {
		s.timing = TimingFrames
		if off < 0 {
			s.fallback = fmt.Sprintf("this clock is at least %.1f ms behind the leader's (bound %v ms): "+
				"grid timing fell back to frames", -off, bound)
		} else {
			s.fallback = fmt.Sprintf("frames arrive at least %.1f ms after their slot (bound %d x %v ms): "+
				"grid timing fell back to frames", off, leadFactor, bound)
		}
		out = append(out, followerEffect{kind: effFallback, reason: s.fallback})
	} else if s.timing == TimingFrames && d <= bound/2 {
		s.timing = TimingGrid
		s.fallback = ""
	}
	return s.arm(r, ev.m, ev.now, out)
}

// dueOf is when a slot fires without its frame: its start (grid), or start + the late delay (frames).
func (s *followerState) dueOf(r followerRules, p BeatPosition) float64 {
	if s.timing == TimingGrid {
		return p.PhaseStart
	}
	return p.PhaseStart + math.Min(r.tolMs, (p.PhaseEnd-p.PhaseStart)/2)
}

// arm is the instant of the next slot: after the last one fired, or the first at or after now.
func (s *followerState) arm(r followerRules, m *TempoMap, now float64, out []followerEffect) []followerEffect {
	if m == nil {
		return append(out, followerEffect{kind: effArm, at: math.NaN()})
	}
	var next BeatPosition
	if s.hasLast && s.last.PhaseIndex < len(m.Phases) {
		next = m.NextSlot(s.last)
	} else {
		next = m.SlotAtOrAfter(now)
	}
	return append(out, followerEffect{kind: effArm, at: s.dueOf(r, next)})
}

// fire records a slot as fired and asks for its callbacks; the slots skipped since the last are counted.
func (s *followerState) fire(m *TempoMap, pos BeatPosition, source string, at float64,
	out []followerEffect) []followerEffect {
	prev, hadPrev := s.last, s.hasLast
	s.last, s.hasLast = pos, true
	if pos.PhaseIndex == 0 {
		s.lastBeat = at
		if source == SourceLeader {
			if s.nArrive == beatArrivalsKept {
				copy(s.arrivals[:], s.arrivals[1:])
				s.nArrive--
			}
			s.arrivals[s.nArrive] = at
			s.nArrive++
		}
	}
	out = append(out, followerEffect{kind: effFire, pos: pos, source: source, at: at})
	if hadPrev {
		phases := int64(3)
		if m != nil {
			phases = int64(len(m.Phases))
		}
		skipped := pos.BeatIndex*phases + int64(pos.PhaseIndex) - (prev.BeatIndex*phases + int64(prev.PhaseIndex)) - 1
		if skipped > 0 {
			out = append(out, followerEffect{kind: effSkipped, pos: pos, n: skipped})
		}
	}
	if s.nRecent == recentFired {
		copy(s.recent[:], s.recent[1:])
		s.nRecent--
	}
	s.recent[s.nRecent] = fired{beat: pos.BeatIndex, phase: pos.PhaseIndex, source: source, firedAt: at,
		confirmed: source == SourceLeader}
	s.nRecent++
	return out
}

func (s *followerState) setDegraded(on bool, out []followerEffect) []followerEffect {
	if s.degraded == on {
		return out
	}
	s.degraded = on
	return append(out, followerEffect{kind: effDegraded, on: on})
}

// beatArrivals are the receipt times of the last leader beats (first phases), oldest first.
func (s *followerState) beatArrivals() []float64 {
	return append([]float64(nil), s.arrivals[:s.nArrive]...)
}
