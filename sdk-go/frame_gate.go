package sdk

import (
	"fmt"
	"math"
	"sync"
)

// The frame gate: every BeatFrame passes it before any client sees it (BACKBEAT-REQ-001,
// REQ-003; docs/spec.md §7 Election, terms and fencing). The SDK trusts the lease in KV and
// its own copy of the tempo map, never a header. A frame is accepted only when
//   - its Backbeat-Term is a plain integer (else malformed) equal to the lease's term (an
//     older one is old_term; a newer one is held until the lease shows it, else bad_term),
//   - its fields agree with the client's tempo map within gridToleranceMs (else held while
//     the map is re-read, then off_grid), and its slot starts at most aheadMs after receipt,
//   - it arrives before its deadline_at (else stale).
// Pure logic: time comes in as arguments; the shell ends a hold (heldUntil, expireHeld). The same rules,
// reasons and order of checks as the TypeScript SDK's frame gate.

const (
	gridToleranceMs = 1   // deadline_at has ms precision: agreement within this is agreement
	holdMs          = 250 // longest a frame is held while the lease or the map is re-read
	offsetWindow    = 32
)

// Drop reasons, as counted in Health().FramesDropped.
const (
	DropInvalid      = "invalid"
	DropMalformed    = "malformed"
	DropOtherCluster = "other_cluster"
	DropOldTerm      = "old_term"
	DropBadTerm      = "bad_term"
	DropOffGrid      = "off_grid"
	DropStale        = "stale"
	DropBackwards    = "backwards"
	DropDuplicate    = "duplicate"
)

// Lease states of LeaseInfo.
const (
	LeaseHeld       = "held"
	LeaseAbsent     = "absent"
	LeaseUnreadable = "unreadable"
)

// LeaseInfo is what the client knows about the leader lease it fences frames with.
type LeaseInfo struct {
	State  string `json:"state"` // held, absent (no lease bucket or no leader), unreadable (no term fencing)
	Term   int64  `json:"term,omitempty"`
	Leader string `json:"leader,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Where the tempo map came from.
const (
	MapFromKV     = "kv"
	MapFromFrames = "frames"
	MapNone       = "none"
)

type incoming struct {
	frame      parsedFrame
	err        error
	termHeader string
	hasTerm    bool
	receivedAt float64
}

// verdict is the gate's answer for one frame.
type verdict struct {
	accepted   bool
	frame      parsedFrame
	pos        BeatPosition
	term       int64
	receivedAt float64
	reason     string
	detail     string
}

type held struct {
	in  *incoming
	why string // lease or map
}

type frameGate struct {
	clusterID string
	aheadMs   float64
	now       func() float64
	// refresh asks the shell to re-read the lease or the map from KV (a frame is held meanwhile);
	// the shell ends a hold by calling expireHeld once heldUntil has passed.
	refresh func(what string)

	m         *TempoMap
	mapSource string
	lease     LeaseInfo
	held      *held
	offset    offsetEstimator
}

func newFrameGate(clusterID string, aheadMs float64, now func() float64, refresh func(string)) *frameGate {
	return &frameGate{clusterID: clusterID, aheadMs: aheadMs, now: now, refresh: refresh,
		mapSource: MapNone, lease: LeaseInfo{State: LeaseAbsent, Reason: "lease not read yet"}}
}

// setMap installs the tempo map read from KV; returns the verdict of a frame held for it.
func (g *frameGate) setMap(m *TempoMap) []verdict {
	g.m = m
	g.mapSource = MapFromKV
	return g.retryHeld("map")
}

// setLease installs the lease read from KV; returns the verdict of a frame held for it.
func (g *frameGate) setLease(l LeaseInfo) []verdict {
	g.lease = l
	return g.retryHeld("lease")
}

// offer decodes and checks one frame as it came off the bus.
func (g *frameGate) offer(data []byte, termHeader string, hasTerm bool, receivedAt float64) []verdict {
	f, err := parseFrame(data)
	return g.check(&incoming{frame: f, err: err, termHeader: termHeader, hasTerm: hasTerm, receivedAt: receivedAt}, true)
}

func drop(reason, detail string) []verdict {
	return []verdict{{reason: reason, detail: detail}}
}

func (g *frameGate) check(in *incoming, mayHold bool) []verdict {
	if in.err != nil {
		return drop(DropInvalid, "invalid BeatFrame: "+in.err.Error())
	}
	f := in.frame
	if f.ClusterID != g.clusterID {
		return drop(DropOtherCluster, fmt.Sprintf("frame of cluster '%s'", f.ClusterID))
	}
	term := int64(0)
	if in.hasTerm {
		term = ParseTermHeader(in.termHeader)
	}
	if term == 0 {
		return drop(DropMalformed, fmt.Sprintf("frame %d.%s: Backbeat-Term header '%s' is not a term", f.BeatIndex, f.Phase, clip(in.termHeader, 40)))
	}
	if g.now() > f.deadlineMs {
		return drop(DropStale, fmt.Sprintf("frame %d.%s arrived after its deadline %s", f.BeatIndex, f.Phase, isoMs(f.deadlineMs)))
	}
	if g.lease.State == LeaseHeld && term != g.lease.Term {
		if term < g.lease.Term {
			return drop(DropOldTerm, fmt.Sprintf("frame of term %d, the lease is at term %d", term, g.lease.Term))
		}
		if mayHold {
			return g.hold(in, "lease")
		}
		return drop(DropBadTerm, fmt.Sprintf("frame of term %d, the lease is at term %d", term, g.lease.Term))
	}
	var pos BeatPosition
	ok := false
	switch {
	case g.m == nil:
		g.learn(f)
		pos, ok = onGrid(g.m, g.clusterID, f)
	default:
		pos, ok = onGrid(g.m, g.clusterID, f)
		if !ok && g.mapSource == MapFromFrames && g.relearn(f) {
			pos, ok = onGrid(g.m, g.clusterID, f)
		}
		if !ok && mayHold && g.mapSource == MapFromKV {
			return g.hold(in, "map")
		}
	}
	if !ok {
		return drop(DropOffGrid, fmt.Sprintf("frame %d.%s (%v BPM, deadline %s) is not on the tempo map", f.BeatIndex, f.Phase, f.TempoBPM, isoMs(f.deadlineMs)))
	}
	g.offset.sample(in.receivedAt - pos.PhaseStart)
	if pos.PhaseStart-in.receivedAt > g.aheadMs {
		return drop(DropOffGrid, fmt.Sprintf("frame %d.%s arrived %.1f ms before its slot", f.BeatIndex, f.Phase, pos.PhaseStart-in.receivedAt))
	}
	return []verdict{{accepted: true, frame: f, pos: pos, term: term, receivedAt: in.receivedAt}}
}

// hold keeps the newest questionable frame (at most one) until KV confirms it or holdMs pass.
func (g *frameGate) hold(in *incoming, why string) []verdict {
	var out []verdict
	if g.held != nil {
		old := g.held
		g.held = nil
		out = g.check(old.in, false)
	}
	h := &held{in: in, why: why}
	g.held = h
	if g.refresh != nil {
		g.refresh(why)
	}
	return out
}

// expireHeld is called when a hold's time is up (the shell's timer): the frame's final verdict.
func (g *frameGate) expireHeld() []verdict {
	h := g.held
	if h == nil {
		return nil
	}
	g.held = nil
	return g.check(h.in, false)
}

// heldUntil is when the held frame's hold ends, and false when nothing is held.
func (g *frameGate) heldUntil() (float64, bool) {
	if g.held == nil {
		return 0, false
	}
	return math.Min(g.held.in.receivedAt+holdMs, g.held.in.frame.deadlineMs), true
}

func (g *frameGate) retryHeld(what string) []verdict {
	h := g.held
	if h == nil || h.why != what {
		return nil
	}
	if what == "lease" && g.lease.State == LeaseHeld && g.lease.Term < ParseTermHeader(h.in.termHeader) {
		return nil
	}
	g.held = nil
	return g.check(h.in, false)
}

// learn: no map from KV, the first accepted frame teaches the grid.
func (g *frameGate) learn(f parsedFrame) {
	phases := f.Phases
	if len(phases) == 0 {
		phases = Phases
	}
	p := max(0, indexIn(phases, f.Phase))
	beatMs := 60000 / f.TempoBPM
	var start float64
	if !math.IsNaN(f.scheduledMs) {
		start = f.scheduledMs - float64(p)*beatMs/float64(len(phases))
	} else {
		start = f.deadlineMs - float64(p+1)*beatMs/float64(len(phases))
	}
	var keep []TempoSegment
	bar := DefaultBarLength
	if g.m != nil {
		bar = g.m.BarLength
		for _, s := range g.m.Segments {
			if s.StartBeat < f.BeatIndex && s.StartTime < start {
				keep = append(keep, s)
			}
		}
	}
	if f.BarLength > 0 {
		bar = f.BarLength
	}
	g.m = &TempoMap{Segments: append(keep, TempoSegment{StartBeat: f.BeatIndex, StartTime: start, TempoBPM: f.TempoBPM}),
		BarLength: bar, Phases: append([]string(nil), phases...)}
	g.mapSource = MapFromFrames
}

// relearn: a learned grid follows a tempo change (a frame whose beat starts where the grid
// says, at another tempo); a frame anywhere else is off the grid.
func (g *frameGate) relearn(f parsedFrame) bool {
	p := indexIn(g.m.Phases, f.Phase)
	if p < 0 || math.IsNaN(f.scheduledMs) {
		return false
	}
	beatMs := 60000 / f.TempoBPM
	beatStart := f.scheduledMs - float64(p)*beatMs/float64(len(g.m.Phases))
	if f.BeatIndex < 0 || math.Abs(g.m.Slot(f.BeatIndex, 0).BeatStart-beatStart) > gridToleranceMs {
		return false
	}
	g.learn(f)
	return true
}

// onGrid is the frame's slot on m when every field agrees with it.
func onGrid(m *TempoMap, clusterID string, f parsedFrame) (BeatPosition, bool) {
	p := indexIn(m.Phases, f.Phase)
	if p < 0 || f.BeatIndex < m.Segments[0].StartBeat {
		return BeatPosition{}, false
	}
	s := m.Slot(f.BeatIndex, p)
	if math.Abs(s.TempoBPM-f.TempoBPM) > 1e-9 || s.Downbeat != f.Downbeat {
		return BeatPosition{}, false
	}
	if !(math.Abs(s.PhaseEnd-f.deadlineMs) <= gridToleranceMs) {
		return BeatPosition{}, false
	}
	if f.WindowID != cachedWindowID(clusterID, s.DownbeatIndex) {
		return BeatPosition{}, false
	}
	return s, true
}

var windowCache struct {
	sync.Mutex
	m map[string]string
}

// cachedWindowID memoises WindowID: every frame of a bar shares one, and so do the clients.
func cachedWindowID(clusterID string, downbeat int64) string {
	key := fmt.Sprintf("%s:%d", clusterID, downbeat)
	windowCache.Lock()
	defer windowCache.Unlock()
	if id, ok := windowCache.m[key]; ok {
		return id
	}
	if windowCache.m == nil || len(windowCache.m) >= 64 {
		windowCache.m = map[string]string{}
	}
	id := WindowID(clusterID, downbeat)
	windowCache.m[key] = id
	return id
}

// offsetEstimator: running minimum of (receipt - scheduled) over the last frames: an upper
// bound of this clock's lead over the leader's (docs/spec.md §8 Degradation and grid timing).
type offsetEstimator struct {
	samples []float64
	next    int
	min     float64
	has     bool
}

func (o *offsetEstimator) sample(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if len(o.samples) < offsetWindow {
		o.samples = append(o.samples, v)
	} else {
		o.samples[o.next] = v
	}
	o.next = (o.next + 1) % offsetWindow
	o.min = math.Inf(1)
	for _, s := range o.samples {
		o.min = math.Min(o.min, s)
	}
	o.has = true
}
