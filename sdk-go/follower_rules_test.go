package sdk

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// The follower's timing rules driven directly, without a bus, a timer or a clock: a table of
// single steps (docs/spec.md §8 Degradation and grid timing). Any sequence of events is in
// follower_rules_sequence_test.go.

const rulesT0 = 1767225600000.0 // 2026-01-01T00:00:00Z

// rulesMap is 120 BPM from rulesT0: beats of 500 ms, phases of 166.667 ms, bars of 4.
var rulesMap = &TempoMap{Segments: []TempoSegment{{StartBeat: 0, StartTime: rulesT0, TempoBPM: 120}},
	BarLength: 4, Phases: []string{"plan", "execute", "review"}}

// rulesMapFaster is rulesMap with a change to 240 BPM at beat 3.
var rulesMapFaster = &TempoMap{Segments: []TempoSegment{{StartBeat: 0, StartTime: rulesT0, TempoBPM: 120},
	{StartBeat: 3, StartTime: rulesT0 + 1500, TempoBPM: 240}}, BarLength: 4, Phases: []string{"plan", "execute", "review"}}

var (
	framesRules = followerRules{tolMs: 50, configured: TimingFrames, maxOffsetMs: 20}
	gridRules   = followerRules{tolMs: 50, configured: TimingGrid, maxOffsetMs: 20}
)

func at(beat int64, phase int) float64 { return rulesMap.Slot(beat, phase).PhaseStart }

func frameEv(beat int64, phase int, late float64) followerEvent {
	p := rulesMap.Slot(beat, phase)
	return followerEvent{kind: evFrame, now: p.PhaseStart + late, m: rulesMap, pos: p}
}

func dueEv(now float64) followerEvent { return followerEvent{kind: evDue, now: now, m: rulesMap} }

func offsetEv(off float64, samples int) followerEvent {
	return followerEvent{kind: evOffset, now: at(2, 0), m: rulesMap, offMs: off, samples: samples}
}

// render writes an effect with times relative to rulesT0, for the table.
func render(e followerEffect) string {
	rel := func(t float64) string {
		if math.IsNaN(t) {
			return "none"
		}
		return fmt.Sprintf("%.3f", t-rulesT0)
	}
	slot := fmt.Sprintf("%d.%d", e.pos.BeatIndex, e.pos.PhaseIndex)
	switch e.kind {
	case effFire:
		return "fire " + slot + " " + e.source + " @" + rel(e.at)
	case effConfirm:
		return fmt.Sprintf("confirm %s lag %.3f", slot, e.lagMs)
	case effDrop:
		return "drop " + e.reason + " " + slot
	case effDegraded:
		return fmt.Sprintf("degraded %v", e.on)
	case effSkipped:
		return fmt.Sprintf("skipped %d", e.n)
	case effArm:
		return "arm " + rel(e.at)
	case effFallback:
		return "fallback " + e.reason
	}
	return fmt.Sprintf("unknown effect %d", e.kind)
}

func TestFollowerRulesTable(t *testing.T) {
	cases := []struct {
		name   string
		rules  followerRules
		before []followerEvent
		ev     followerEvent
		want   []string
		timing string // the timing in force after the step, when set
	}{
		{name: "start before a tempo map is known arms nothing", rules: framesRules,
			ev: followerEvent{kind: evStart, now: rulesT0}, want: []string{"arm none"}},
		{name: "start arms the next slot's start + the jitter tolerance", rules: framesRules,
			ev: followerEvent{kind: evStart, now: rulesT0 + 10, m: rulesMap}, want: []string{"arm 216.667"}},
		{name: "the late delay is at most half the phase",
			rules: followerRules{tolMs: 500, configured: TimingFrames, maxOffsetMs: 20},
			ev:    followerEvent{kind: evStart, now: rulesT0 + 10, m: rulesMap}, want: []string{"arm 250.000"}},
		{name: "a frame fires its slot from the leader on receipt", rules: framesRules,
			ev: frameEv(2, 0, 3), want: []string{"fire 2.0 leader @1003.000", "arm 1216.667"}},
		{name: "no frame by start + tolerance: the slot fires locally, degradation starts", rules: framesRules,
			before: []followerEvent{frameEv(2, 0, 3)}, ev: dueEv(at(2, 1) + 50),
			want: []string{"degraded true", "fire 2.1 local @1216.667", "arm 1383.333"}},
		{name: "the late frame of a slot fired locally is a duplicate and ends degradation", rules: framesRules,
			before: []followerEvent{frameEv(2, 0, 3), dueEv(at(2, 1) + 50)}, ev: frameEv(2, 1, 60),
			want: []string{"degraded false", "drop duplicate 2.1", "arm 1383.333"}},
		{name: "a frame of an older slot is backwards", rules: framesRules,
			before: []followerEvent{frameEv(2, 0, 3), frameEv(2, 1, 3)}, ev: frameEv(2, 0, 170),
			want: []string{"drop backwards 2.0", "arm 1383.333"}},
		{name: "frames return after local beats: the next slot fires from the leader", rules: framesRules,
			before: []followerEvent{frameEv(2, 0, 3), dueEv(at(2, 1) + 50)}, ev: frameEv(2, 2, 2),
			want: []string{"degraded false", "fire 2.2 leader @1335.333", "arm 1550.000"}},
		{name: "after a stall only the slot holding now fires; the skipped ones are counted", rules: framesRules,
			before: []followerEvent{frameEv(2, 0, 3)}, ev: dueEv(at(4, 1) + 60),
			want: []string{"degraded true", "fire 4.1 local @2226.667", "skipped 6", "arm 2383.333"}},
		{name: "woken before the slot holding now is due: wait for it, fire nothing", rules: framesRules,
			before: []followerEvent{frameEv(2, 0, 3)}, ev: dueEv(at(4, 1) + 10), want: []string{"arm 2216.667"}},
		{name: "a frame past a gap fires and counts the gap", rules: framesRules,
			before: []followerEvent{frameEv(2, 0, 3)}, ev: frameEv(3, 0, 1),
			want: []string{"fire 3.0 leader @1501.000", "skipped 2", "arm 1716.667"}},
		{name: "a wake-up before the grid starts arms its first slot", rules: framesRules,
			ev: dueEv(rulesT0 - 1000), want: []string{"arm 50.000"}},
		{name: "a wake-up without a tempo map does nothing", rules: framesRules,
			ev: followerEvent{kind: evDue, now: rulesT0}, want: nil},
		{name: "a tempo change re-arms on the new map (its phases of 83 ms: half a phase late)", rules: framesRules,
			before: []followerEvent{frameEv(2, 2, 3)}, ev: followerEvent{kind: evMap, now: at(2, 2) + 5, m: rulesMapFaster},
			want: []string{"arm 1541.667"}},
		{name: "grid: the slot fires at its start", rules: gridRules,
			ev: dueEv(at(2, 0)), want: []string{"fire 2.0 grid @1000.000", "arm 1166.667"}},
		{name: "grid: the leader's frame confirms the slot", rules: gridRules,
			before: []followerEvent{dueEv(at(2, 0))}, ev: frameEv(2, 0, 4),
			want: []string{"confirm 2.0 lag 4.000", "arm 1166.667"}},
		{name: "grid: a second frame of a confirmed slot is a duplicate", rules: gridRules,
			before: []followerEvent{dueEv(at(2, 0)), frameEv(2, 0, 4)}, ev: frameEv(2, 0, 9),
			want: []string{"drop duplicate 2.0", "arm 1166.667"}},
		{name: "grid: a slot after an unconfirmed one marks degradation", rules: gridRules,
			before: []followerEvent{dueEv(at(2, 0))}, ev: dueEv(at(2, 1)),
			want: []string{"degraded true", "fire 2.1 grid @1166.667", "arm 1333.333"}},
		{name: "grid: a frame for a slot not fired yet fires it from the leader", rules: gridRules,
			before: []followerEvent{dueEv(at(2, 0)), frameEv(2, 0, 4)}, ev: frameEv(2, 1, -1),
			want: []string{"fire 2.1 leader @1165.667", "arm 1333.333"}},
		{name: "grid: a clock behind the leader's beyond the bound falls back to frames", rules: gridRules,
			before: []followerEvent{dueEv(at(2, 0))}, ev: offsetEv(-30, 4), timing: TimingFrames,
			want: []string{"fallback this clock is at least 30.0 ms behind the leader's (bound 20 ms): grid timing " +
				"fell back to frames", "arm 1216.667"}},
		{name: "grid: a lead counts a fifth (it holds the network delay)", rules: gridRules,
			before: []followerEvent{dueEv(at(2, 0))}, ev: offsetEv(100, 4), timing: TimingGrid,
			want: []string{"arm 1166.667"}},
		{name: "grid: a lead beyond 5 x the bound falls back to frames", rules: gridRules,
			before: []followerEvent{dueEv(at(2, 0))}, ev: offsetEv(110, 4), timing: TimingFrames,
			want: []string{"fallback frames arrive at least 110.0 ms after their slot (bound 5 x 20 ms): grid timing " +
				"fell back to frames", "arm 1216.667"}},
		{name: "grid: too few samples change nothing", rules: gridRules,
			before: []followerEvent{dueEv(at(2, 0))}, ev: offsetEv(-30, 3), timing: TimingGrid,
			want: []string{"arm 1166.667"}},
		{name: "grid: back from frames within half the bound", rules: gridRules,
			before: []followerEvent{dueEv(at(2, 0)), offsetEv(-30, 4)}, ev: offsetEv(-10, 5), timing: TimingGrid,
			want: []string{"arm 1166.667"}},
		{name: "grid: still frames beyond half the bound", rules: gridRules,
			before: []followerEvent{dueEv(at(2, 0)), offsetEv(-30, 4)}, ev: offsetEv(-11, 5), timing: TimingFrames,
			want: []string{"arm 1216.667"}},
		{name: "frames timing configured: the clock offset changes nothing", rules: framesRules,
			before: []followerEvent{frameEv(2, 0, 3)}, ev: offsetEv(-1000, 30), timing: TimingFrames,
			want: []string{"arm 1216.667"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newFollowerState(tc.rules)
			for _, ev := range tc.before {
				s, _ = s.step(tc.rules, ev, nil)
			}
			next, effects := s.step(tc.rules, tc.ev, nil)
			var got []string
			for _, e := range effects {
				got = append(got, render(e))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("effects:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			if tc.timing != "" && next.timing != tc.timing {
				t.Fatalf("timing %s, want %s", next.timing, tc.timing)
			}
		})
	}
}

func TestFollowerRulesKeepTheLastLeaderBeatArrivals(t *testing.T) {
	s := newFollowerState(framesRules)
	for b := int64(0); b < 20; b++ {
		for p := 0; p < 3; p++ {
			s, _ = s.step(framesRules, frameEv(b, p, 2), nil)
		}
	}
	s, _ = s.step(framesRules, dueEv(at(20, 0)+50), nil) // a local beat is not an arrival
	a := s.beatArrivals()
	if len(a) != beatArrivalsKept || a[0] != at(9, 0)+2 || a[len(a)-1] != at(19, 0)+2 {
		t.Fatalf("arrivals %v", a)
	}
	if s.lastBeat != at(20, 0)+50 {
		t.Fatalf("last beat at %.3f", s.lastBeat-rulesT0)
	}
}
