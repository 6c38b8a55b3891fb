package sdk

import (
	"math"
	"math/rand"
	"strings"
	"testing"
)

// Any sequence of events, random and fuzzed, against the invariants of docs/spec.md §8
// Degradation and grid timing: no slot twice, nothing backwards, only due slots on the true
// grid; and a step never changes the state it was given.

// followerSim drives the rules with a sequence of operations (3 bytes each) on a simulated
// clock, as the hub would, and checks every step against the invariants.
type followerSim struct {
	t       *testing.T
	rules   followerRules
	s       followerState
	m       *TempoMap
	now     float64
	armed   float64
	last    BeatPosition
	hasLast bool
	steps   int
	seen    map[string]int // effects seen, by kind and source: how much of the rules a run reached
}

func runFollowerSim(t *testing.T, data []byte) map[string]int {
	if len(data) < 2 {
		return nil
	}
	rules := followerRules{tolMs: []float64{5, 50, 200}[int(data[0])%3], configured: TimingFrames, maxOffsetMs: 20}
	if data[1]%2 == 1 {
		rules.configured = TimingGrid
	}
	sim := &followerSim{t: t, rules: rules, s: newFollowerState(rules), m: rulesMap, now: rulesT0 - 300,
		armed: math.NaN(), seen: map[string]int{}}
	sim.step(followerEvent{kind: evStart, now: sim.now, m: sim.m})
	maps := []*TempoMap{rulesMap, rulesMapFaster, nil}
	for i := 2; i+2 < len(data) && sim.steps < 2000; i += 3 {
		op, a, b := data[i]%6, data[i+1], data[i+2]
		switch op {
		case 0: // time passes; an odd b is a stall of seconds
			sim.now += float64(a) * 4
			if b%2 == 1 {
				sim.now += float64(b) * 40
			}
		case 1: // the timer wakes at the armed instant (or now, when that has passed or nothing is armed);
			// b%4 == 0: a spurious wake-up at now, before the armed instant
			if !math.IsNaN(sim.armed) && sim.armed > sim.now && b%4 != 0 {
				sim.now = sim.armed
			}
			sim.step(followerEvent{kind: evDue, now: sim.now, m: sim.m})
		case 2: // a frame the gate accepts: the slot holding now, or the next one up to 50 ms early
			if sim.m == nil {
				continue
			}
			pos, ok := sim.m.PositionAt(sim.now + float64(b%2)*50)
			if ok {
				sim.step(followerEvent{kind: evFrame, now: sim.now, m: sim.m, pos: pos})
			}
		case 3: // any slot on the grid, old or far ahead (a replay, a forged frame that got through)
			if sim.m == nil {
				continue
			}
			beat := int64(int8(a)) + 8
			if sim.hasLast {
				beat += sim.last.BeatIndex
			}
			if beat >= 0 {
				sim.step(followerEvent{kind: evFrame, now: sim.now, m: sim.m, pos: sim.m.Slot(beat, int(b)%3)})
			}
		case 4: // the clock-offset estimate after a frame
			sim.step(followerEvent{kind: evOffset, now: sim.now, m: sim.m, offMs: float64(int8(a)) * 2,
				samples: int(b % 8)})
		case 5: // the tempo map changes (or is not known)
			sim.m = maps[int(a)%len(maps)]
			sim.step(followerEvent{kind: evMap, now: sim.now, m: sim.m})
		}
	}
	return sim.seen
}

func (sim *followerSim) step(ev followerEvent) {
	t := sim.t
	t.Helper()
	sim.steps++
	before := sim.s
	next, effects := sim.s.step(sim.rules, ev, nil)
	if sim.s != before {
		t.Fatalf("step changed the state it was given")
	}
	again, effects2 := before.step(sim.rules, ev, nil)
	if again != next || len(effects2) != len(effects) {
		t.Fatalf("step is not deterministic")
	}
	for _, e := range effects {
		sim.seen[strings.Fields(render(e))[0]+" "+e.source]++
		switch e.kind {
		case effFire:
			if sim.hasLast && compareSlots(e.pos, sim.last) <= 0 {
				t.Fatalf("slot %d.%d fired after %d.%d: twice or backwards", e.pos.BeatIndex, e.pos.PhaseIndex,
					sim.last.BeatIndex, sim.last.PhaseIndex)
			}
			if ev.m == nil || e.pos != ev.m.Slot(e.pos.BeatIndex, e.pos.PhaseIndex) {
				t.Fatalf("slot %d.%d is not on the grid in force", e.pos.BeatIndex, e.pos.PhaseIndex)
			}
			switch e.source {
			case SourceLeader:
				if ev.kind != evFrame || e.pos != ev.pos || e.at != ev.now {
					t.Fatalf("a leader slot fired without its frame")
				}
			case SourceLocal, SourceGrid:
				due := e.pos.PhaseStart
				if before.timing == TimingFrames {
					due += math.Min(sim.rules.tolMs, (e.pos.PhaseEnd-e.pos.PhaseStart)/2)
				}
				if ev.kind != evDue || e.at != ev.now || ev.now < due || ev.now >= e.pos.PhaseEnd {
					t.Fatalf("slot %d.%d fired from the map at %.3f: due at %.3f, ends at %.3f (stale or early)",
						e.pos.BeatIndex, e.pos.PhaseIndex, ev.now-rulesT0, due-rulesT0, e.pos.PhaseEnd-rulesT0)
				}
				if (e.source == SourceGrid) != (before.timing == TimingGrid) {
					t.Fatalf("source %s under %s timing", e.source, before.timing)
				}
			default:
				t.Fatalf("source %q", e.source)
			}
			sim.last, sim.hasLast = e.pos, true
		case effSkipped:
			if e.n < 1 {
				t.Fatalf("skipped %d", e.n)
			}
		case effArm:
			if math.IsNaN(e.at) != (ev.m == nil) {
				t.Fatalf("armed %v with map %v", e.at, ev.m != nil)
			}
			sim.armed = e.at
		}
	}
	if ev.kind == evFrame && next.degraded {
		t.Fatalf("degraded right after a leader frame")
	}
	if next.timing != TimingGrid && next.timing != TimingFrames || sim.rules.configured == TimingFrames &&
		next.timing != TimingFrames {
		t.Fatalf("timing %q configured %q", next.timing, sim.rules.configured)
	}
	if next.hasLast != sim.hasLast || sim.hasLast && next.last != sim.last {
		t.Fatalf("the state's last slot is not the last slot fired")
	}
	sim.s = next
}

func TestFollowerRulesAnySequence(t *testing.T) {
	r := rand.New(rand.NewSource(20260101))
	seen := map[string]int{}
	for i := 0; i < 400; i++ {
		data := make([]byte, 2+3*r.Intn(300))
		r.Read(data)
		for k, n := range runFollowerSim(t, data) {
			seen[k] += n
		}
	}
	t.Logf("effects reached: %v", seen)
	// The property is only as strong as what the sequences reach: every kind of effect, many times.
	for _, k := range []string{"fire leader", "fire local", "fire grid", "confirm ", "drop ", "degraded ",
		"skipped ", "fallback "} {
		if seen[k] < 50 {
			t.Errorf("only %d effects %q in 400 sequences: the property is too weak (%v)", seen[k], k, seen)
		}
	}
}

func FuzzFollowerRules(f *testing.F) {
	f.Add([]byte{1, 0, 0, 200, 0, 1, 0, 0, 2, 0, 0, 1, 0, 0, 0, 40, 0, 1, 0, 0})  // frames, then local beats
	f.Add([]byte{1, 1, 1, 0, 0, 2, 0, 0, 1, 0, 0, 4, 241, 5, 1, 0, 0, 4, 251, 5}) // grid, a fallback and back
	f.Add([]byte{0, 0, 2, 0, 0, 0, 255, 255, 1, 0, 0, 3, 200, 1, 5, 1, 0, 1, 0})  // a stall, a replay, a tempo change
	f.Fuzz(func(t *testing.T, data []byte) { _ = runFollowerSim(t, data) })
}
