package sdk

// Where the client is on the grid: the current beat and window, the tempo in force and the
// tempo measured from the leader's frames (BACKBEAT-REQ-040, REQ-043; docs/spec.md §5 The beat
// grid and the tempo map).

import (
	"time"
)

func (c *client) GetCurrentBeat() int64 {
	if c.follower == nil {
		return -1
	}
	if v := c.follower.view(); v.last != nil {
		return v.last.BeatIndex
	}
	return -1
}

func (c *client) map_() *TempoMap {
	c.mu.Lock()
	h := c.hub
	c.mu.Unlock()
	if h == nil {
		return nil
	}
	return h.tempoMap()
}

func (c *client) TempoMap() *TempoMap { return c.map_() }

func (c *client) GetCurrentWindow() string {
	m := c.map_()
	b := c.GetCurrentBeat()
	if m == nil || b < 0 {
		return ""
	}
	return WindowIDForBeat(c.cfg.ClusterID, b, m.BarLength)
}

func (c *client) IsInWindow(id string) bool { return id != "" && id == c.GetCurrentWindow() }

func (c *client) GetCurrentTempo() float64 {
	m := c.map_()
	if m == nil {
		return 0
	}
	return m.TempoAt(c.clock())
}

func (c *client) measuredBPM() float64 {
	if c.follower == nil {
		return 0
	}
	a := c.follower.view().arrivals
	if len(a) < 2 {
		return 0
	}
	return 60000 / ((a[len(a)-1] - a[0]) / float64(len(a)-1))
}

func (c *client) GetTempoDrift() time.Duration {
	bpm, tempo := c.measuredBPM(), c.GetCurrentTempo()
	if bpm == 0 || tempo == 0 {
		return 0
	}
	return time.Duration((60000/bpm - 60000/tempo) * 1e6)
}

func (c *client) ToLegacy(beatIndex int64) LegacyBeatInfo {
	bar := DefaultBarLength
	if m := c.map_(); m != nil {
		bar = m.BarLength
	}
	l, err := ToLegacy(max(beatIndex, 0), bar)
	if err != nil {
		return LegacyBeatInfo{}
	}
	return l
}

func (c *client) Metrics() Metrics { return c.met.snapshot() }
