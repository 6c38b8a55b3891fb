package sdk

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// Nothing from the wire can panic the client: the frame gate, the tempo map and the lease
// record get arbitrary bytes. The corpus is kept in testdata/fuzz; the shared vectors seed it.

func FuzzFrameGate(f *testing.F) {
	var fv frameVectors
	data, err := os.ReadFile(vectorDir + "/gate-frames.json")
	if err != nil {
		f.Fatal(err)
	}
	if err := json.Unmarshal(data, &fv); err != nil {
		f.Fatal(err)
	}
	for _, fc := range fv.Frames {
		term := ""
		if fc.Term != nil {
			term = *fc.Term
		}
		f.Add([]byte(fc.Payload), term, fc.ReceivedAt-fv.TempoMap.Segments[0].StartTime)
	}
	f.Fuzz(func(t *testing.T, payload []byte, term string, at float64) {
		now := fv.TempoMap.Segments[0].StartTime + at
		g := newFrameGate(fv.Cluster, fv.AheadMs, func() float64 { return now }, nil)
		m := fv.TempoMap
		g.setMap(&m)
		g.setLease(LeaseInfo{State: LeaseHeld, Term: fv.LeaseTerm})
		vs := g.offer(payload, term, true, now)
		if _, held := g.heldUntil(); held {
			vs = append(vs, g.expireHeld()...)
		}
		for _, v := range vs {
			if !v.accepted {
				if v.reason == "" {
					t.Fatalf("a drop without a reason")
				}
				continue
			}
			if v.term != fv.LeaseTerm {
				t.Fatalf("accepted a frame of term %d, the lease is at %d", v.term, fv.LeaseTerm)
			}
			if _, ok := onGrid(&m, fv.Cluster, v.frame); !ok || now > v.frame.deadlineMs || v.pos.PhaseStart-now > fv.AheadMs {
				t.Fatalf("accepted a frame off the grid or stale: %s", payload)
			}
		}
		// A gate that learns its map from frames must not panic either.
		g2 := newFrameGate(fv.Cluster, fv.AheadMs, func() float64 { return now }, nil)
		g2.offer(payload, term, true, now)
		if g2.m != nil {
			if err := g2.m.Check(); err == nil {
				p, _ := g2.m.PositionAt(now)
				_ = g2.m.NextSlot(p)
			}
		}
	})
}

func FuzzKVValues(f *testing.F) {
	f.Add([]byte(`{"segments":[{"startBeat":0,"startTime":1767225600000,"tempoBpm":120}],"barLength":4,"phases":["plan","execute","review"]}`))
	f.Add([]byte(`{"node_id":"pulse-1","term":3,"acquired_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"segments":[{"startBeat":9007199254740991,"startTime":1e308,"tempoBpm":0.1}],"barLength":10000,"phases":["review"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := ParseTempoMap(data); err == nil {
			for _, at := range []float64{m.Segments[0].StartTime, m.Segments[0].StartTime + 12345.6, math.MaxFloat64} {
				if p, ok := m.PositionAt(at); ok {
					_ = m.NextSlot(p)
					_ = m.SlotAtOrAfter(at)
				}
			}
		}
		_, _ = decodeLease(data)
	})
}
