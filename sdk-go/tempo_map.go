package sdk

import (
	"encoding/json"
	"fmt"
	"math"
)

// Phase names of a beat, in order (INT-A phase enum; docs/spec.md §5 The beat grid and the tempo map).
var Phases = []string{"plan", "execute", "review"}

const (
	contractMinBPM = 0.1
	contractMaxBPM = 1000
	maxBarLength   = 10000
	// DefaultBarLength is the pulse's default bar (docs/spec.md §5 The beat grid and the tempo map).
	DefaultBarLength = 8
	maxSafeInteger   = 1<<53 - 1
)

// TempoSegment is one tempo in force from StartBeat on, until the next segment's StartBeat.
type TempoSegment struct {
	StartBeat int64   `json:"startBeat"`
	StartTime float64 `json:"startTime"` // ms since the epoch of the segment's first beat
	TempoBPM  float64 `json:"tempoBpm"`
}

// TempoMap is the cluster's schedule as the pulse keeps it in KV (key tempo-map of
// backbeat_C_state): any beat's time is computed from its segment's absolute start
// (docs/spec.md §5 The beat grid and the tempo map).
type TempoMap struct {
	Segments  []TempoSegment `json:"segments"`
	BarLength int            `json:"barLength"`
	Phases    []string       `json:"phases"`
}

// BeatPosition is one (beat, phase) slot of the grid with its times (ms since the epoch).
type BeatPosition struct {
	BeatIndex     int64
	PhaseIndex    int
	Phase         string
	TempoBPM      float64
	BeatStart     float64
	PhaseStart    float64
	PhaseEnd      float64 // INT-A deadline_at: exactly the next slot's PhaseStart
	Downbeat      bool
	DownbeatIndex int64
}

func phaseIndexOf(name string) int {
	for i, p := range Phases {
		if p == name {
			return i
		}
	}
	return -1
}

func indexIn(list []string, name string) int {
	for i, p := range list {
		if p == name {
			return i
		}
	}
	return -1
}

// ParseTempoMap decodes and checks a tempo map as read from KV. Unknown fields are ignored
// (a newer writer may add some); a broken one is an error naming the field and the rule.
func ParseTempoMap(data []byte) (*TempoMap, error) {
	var raw struct {
		Segments []struct {
			StartBeat *json.Number `json:"startBeat"`
			StartTime *json.Number `json:"startTime"`
			TempoBPM  *json.Number `json:"tempoBpm"`
		} `json:"segments"`
		BarLength *json.Number `json:"barLength"`
		Phases    []string     `json:"phases"`
	}
	dec := json.NewDecoder(bytesReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("tempoMap: is not a JSON object of the tempo map's shape: %v", err)
	}
	bar, ok := safeInt(raw.BarLength)
	if !ok || bar < 1 || bar > maxBarLength {
		return nil, fmt.Errorf("barLength: must be an integer from 1 to %d", maxBarLength)
	}
	m := &TempoMap{BarLength: int(bar), Phases: raw.Phases}
	if len(raw.Segments) == 0 {
		return nil, fmt.Errorf("segments: must be a non-empty array")
	}
	for _, s := range raw.Segments {
		var seg TempoSegment
		var ok bool
		if seg.StartBeat, ok = safeInt(s.StartBeat); !ok || seg.StartBeat < 0 {
			seg.StartBeat = -1
		}
		seg.StartTime = jsonFloat(s.StartTime)
		seg.TempoBPM = jsonFloat(s.TempoBPM)
		m.Segments = append(m.Segments, seg)
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return m, nil
}

// Check applies the tempo map's rules (the same as the pulse's): an error names the field.
func (m *TempoMap) Check() error {
	if m == nil {
		return fmt.Errorf("tempoMap: must be an object")
	}
	if m.BarLength < 1 || m.BarLength > maxBarLength {
		return fmt.Errorf("barLength: must be an integer from 1 to %d, got %d", maxBarLength, m.BarLength)
	}
	if len(m.Phases) == 0 {
		return fmt.Errorf("phases: must be a non-empty list of plan, execute, review")
	}
	last := -1
	for _, p := range m.Phases {
		i := phaseIndexOf(p)
		if i < 0 {
			return fmt.Errorf("phases: '%s' is not one of plan, execute, review", p)
		}
		if i <= last {
			return fmt.Errorf("phases: must be unique and in the order plan, execute, review")
		}
		last = i
	}
	if len(m.Segments) == 0 {
		return fmt.Errorf("segments: must be a non-empty array")
	}
	for i, s := range m.Segments {
		at := fmt.Sprintf("segments[%d]", i)
		if s.StartBeat < 0 || s.StartBeat > maxSafeInteger {
			return fmt.Errorf("%s.startBeat: must be an integer >= 0", at)
		}
		if math.IsNaN(s.StartTime) || math.IsInf(s.StartTime, 0) {
			return fmt.Errorf("%s.startTime: must be a finite number of ms", at)
		}
		if !(s.TempoBPM >= contractMinBPM && s.TempoBPM <= contractMaxBPM) {
			return fmt.Errorf("%s.tempoBpm: must be a number from 0.1 to 1000, got %v", at, s.TempoBPM)
		}
		if i > 0 {
			prev := m.Segments[i-1]
			if s.StartBeat <= prev.StartBeat {
				return fmt.Errorf("%s.startBeat: must be after the previous segment's %d, got %d", at, prev.StartBeat, s.StartBeat)
			}
			d := 60000 / prev.TempoBPM
			lastPhase := prev.StartTime + float64(s.StartBeat-1-prev.StartBeat)*d + float64(len(m.Phases)-1)*d/float64(len(m.Phases))
			if !(s.StartTime > lastPhase) {
				return fmt.Errorf("%s.startTime: must be after the start of the last phase of the beat before it", at)
			}
		}
	}
	return nil
}

func (m *TempoMap) segmentForBeat(beat int64) TempoSegment {
	i := len(m.Segments) - 1
	for i > 0 && m.Segments[i].StartBeat > beat {
		i--
	}
	return m.Segments[i]
}

func (m *TempoMap) segmentAt(t float64) TempoSegment {
	i := len(m.Segments) - 1
	for i > 0 && m.Segments[i].StartTime > t {
		i--
	}
	return m.Segments[i]
}

// TempoAt is the tempo in force at time t (ms since the epoch).
func (m *TempoMap) TempoAt(t float64) float64 { return m.segmentAt(t).TempoBPM }

// startOf is the start of (beat, phase); phase may equal the phase count (the beat's end).
// The same arithmetic as the TypeScript core, so both SDKs compute the same float.
func (m *TempoMap) startOf(beat int64, phase int) float64 {
	seg := m.segmentForBeat(beat)
	d := 60000 / seg.TempoBPM
	return seg.StartTime + float64(beat-seg.StartBeat)*d + float64(phase)*d/float64(len(m.Phases))
}

// TimeOf is the start of (beat, phase) in ms since the epoch.
func (m *TempoMap) TimeOf(beat int64, phase int) float64 { return m.startOf(beat, phase) }

// Slot is the slot (beat, phase) with all its times. beat must be >= 0 and phase within the map's phases.
func (m *TempoMap) Slot(beat int64, phase int) BeatPosition {
	seg := m.segmentForBeat(beat)
	bar := int64(m.BarLength)
	downbeat := beat - beat%bar
	end := 0.0
	if phase+1 < len(m.Phases) {
		end = m.startOf(beat, phase+1)
	} else {
		end = m.startOf(beat+1, 0)
	}
	return BeatPosition{
		BeatIndex: beat, PhaseIndex: phase, Phase: m.Phases[phase], TempoBPM: seg.TempoBPM,
		BeatStart: m.startOf(beat, 0), PhaseStart: m.startOf(beat, phase), PhaseEnd: end,
		Downbeat: beat == downbeat, DownbeatIndex: downbeat,
	}
}

// PositionAt is the slot that holds time t (PhaseStart <= t < PhaseEnd), false before the grid starts.
func (m *TempoMap) PositionAt(t float64) (BeatPosition, bool) {
	if math.IsNaN(t) || math.IsInf(t, 0) {
		return BeatPosition{}, false
	}
	seg := m.segmentAt(t)
	if t < seg.StartTime {
		return BeatPosition{}, false
	}
	p := int64(len(m.Phases))
	q := math.Floor((t - seg.StartTime) / (60000 / seg.TempoBPM / float64(p)))
	if !(q < float64(maxSafeInteger-seg.StartBeat*p-2*p)) { // beyond the beats an index can hold
		return BeatPosition{}, false
	}
	n := int64(q)
	start := func(k int64) float64 { return m.startOf(seg.StartBeat+k/p, int(k%p)) }
	// floor() of a quotient lands at most a slot off at a boundary: a few steps correct it.
	for i := 0; i < 4 && n > 0 && start(n) > t; i++ {
		n--
	}
	for i := 0; i < 4 && start(n+1) <= t; i++ {
		n++
	}
	return m.Slot(seg.StartBeat+n/p, int(n%p)), true
}

// NextSlot is the slot after pos in grid order.
func (m *TempoMap) NextSlot(pos BeatPosition) BeatPosition {
	if pos.PhaseIndex+1 < len(m.Phases) {
		return m.Slot(pos.BeatIndex, pos.PhaseIndex+1)
	}
	return m.Slot(pos.BeatIndex+1, 0)
}

// SlotAtOrAfter is the first slot that starts at or after t.
func (m *TempoMap) SlotAtOrAfter(t float64) BeatPosition {
	pos, ok := m.PositionAt(t)
	if !ok {
		return m.Slot(m.Segments[0].StartBeat, 0)
	}
	if pos.PhaseStart >= t {
		return pos
	}
	return m.NextSlot(pos)
}

func compareSlots(a, b BeatPosition) int {
	if a.BeatIndex != b.BeatIndex {
		if a.BeatIndex < b.BeatIndex {
			return -1
		}
		return 1
	}
	return a.PhaseIndex - b.PhaseIndex
}

func safeInt(n *json.Number) (int64, bool) {
	if n == nil {
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > maxSafeInteger {
		return 0, false
	}
	return int64(f), true
}

func jsonFloat(n *json.Number) float64 {
	if n == nil {
		return math.NaN()
	}
	f, err := n.Float64()
	if err != nil {
		return math.NaN()
	}
	return f
}
