package sdk

import (
	"sync"
	"testing"
)

// What a scenario saw: every slot a client fired, in order, and the check that none fired twice.

type slotEvent struct {
	beat   int64
	phase  int
	source string
	info   BeatInfo
}

type recorder struct {
	mu       sync.Mutex
	slots    []slotEvent
	beats    []int64
	downbeat []int64
}

func (r *recorder) attach(t *testing.T, c Client) {
	t.Helper()
	must(t, c.OnPhaseInfo(func(f BeatFrame, i BeatInfo) {
		r.mu.Lock()
		r.slots = append(r.slots, slotEvent{beat: f.BeatIndex, phase: indexIn(Phases, f.Phase), source: i.Source, info: i})
		r.mu.Unlock()
	}))
	must(t, c.OnBeat(func(f BeatFrame) { r.mu.Lock(); r.beats = append(r.beats, f.BeatIndex); r.mu.Unlock() }))
	must(t, c.OnDownbeat(func(f BeatFrame) { r.mu.Lock(); r.downbeat = append(r.downbeat, f.BeatIndex); r.mu.Unlock() }))
}

func (r *recorder) snapshot() []slotEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slotEvent(nil), r.slots...)
}

// checkEverySlotOnce asserts each (beat, phase) fired once, in grid order, with no gap.
func checkEverySlotOnce(t *testing.T, ev []slotEvent) {
	t.Helper()
	for i := 1; i < len(ev); i++ {
		a, b := ev[i-1], ev[i]
		next := a.beat*3 + int64(a.phase) + 1
		if b.beat*3+int64(b.phase) != next {
			t.Fatalf("slot %d.%d (%s) followed %d.%d (%s): expected the next slot exactly once",
				b.beat, b.phase, b.source, a.beat, a.phase, a.source)
		}
	}
}
