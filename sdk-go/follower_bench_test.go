package sdk

import (
	"testing"
	"time"
)

// The follower's cost per client and slot, without a bus: 1,000 followers in grid timing on
// one fake hub, woken at every slot's instant as the hub's timer wakes them.
//
//	go test -run '^$' -bench BenchmarkFollowerGridSlot -benchmem .

type fakeHub struct {
	m     *TempoMap
	frame BeatFrame
	pos   BeatPosition
}

func (h *fakeHub) tempoMap() *TempoMap               { return h.m }
func (h *fakeHub) clockOffset() (float64, int, bool) { return 0, 0, false }
func (h *fakeHub) rearm()                            {}
func (h *fakeHub) frameFor(m *TempoMap, p BeatPosition) BeatFrame {
	if compareSlots(h.pos, p) != 0 || h.frame.Type == "" {
		h.pos, h.frame = p, buildFrame("bench", m, p, "")
	}
	return h.frame
}

func BenchmarkFollowerGridSlot(b *testing.B) {
	const clients = 1000
	now := rulesT0
	clock := func() float64 { return now }
	env := &fakeHub{m: rulesMap}
	fs := make([]*follower, clients)
	for i := range fs {
		h := newHLC("agent:bench", func() int64 { return time.Now().UnixMilli() })
		fs[i] = newFollower("bench", h, gridRules, clock, newMetrics(), func(string, bool) {}, func(bool) {})
		fs[i].addCallback("phase", func(BeatFrame, BeatInfo) {})
		fs[i].env = env
		fs[i].start()
	}
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		now = rulesMap.Slot(int64(k/3), k%3).PhaseStart
		for _, f := range fs {
			if f.dueAt() <= now {
				f.onDue(now)
			}
		}
	}
	b.StopTimer()
	if m := fs[clients-1].met.snapshot(); m.Callbacks != int64(b.N) {
		b.Fatalf("%d callbacks in %d slots", m.Callbacks, b.N)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/clients, "ns/client-slot")
}
