package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

// TermHeader is the NATS header carrying a frame's leadership term (docs/spec.md §7
// Election, terms and fencing; header names are case-sensitive).
const TermHeader = "Backbeat-Term"

// BeatFrameType is the INT-A type constant.
const BeatFrameType = "backbeat.beatframe.v1"

// BeatFrame is an INT-A BeatFrame (docs/spec.md §4 The three messages). One frame per
// phase; TempoBPM is a number (the seed's int was wrong, docs/spec.md §11 Choices made where
// the sources disagreed).
type BeatFrame struct {
	Type        string    `json:"type"`
	ClusterID   string    `json:"cluster_id"`
	BeatIndex   int64     `json:"beat_index"`
	Downbeat    bool      `json:"downbeat"`
	Phase       string    `json:"phase"`
	HLC         string    `json:"hlc"`
	DeadlineAt  time.Time `json:"deadline_at"`
	TempoBPM    float64   `json:"tempo_bpm"`
	WindowID    string    `json:"window_id"`
	ScheduledAt time.Time `json:"scheduled_at,omitzero"`
	BarLength   int       `json:"bar_length,omitempty"`
	Phases      []string  `json:"phases,omitempty"`
}

var (
	clusterIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	windowIDPattern  = regexp.MustCompile(`^[0-9a-f]{32}$`)
	// RFC 3339 date-time as the contracts' validator (ajv-formats, full mode) accepts it.
	dateTimePattern = regexp.MustCompile(`(?i)^(\d{4})-(\d{2})-(\d{2})[t\s](\d{2}):(\d{2}):(\d{2})(\.\d+)?(z|([+-])(\d{2})(?::?(\d{2}))?)$`)
	termPattern     = regexp.MustCompile(`^[1-9][0-9]{0,15}$`)
)

// ParseTermHeader returns the term of a Backbeat-Term value, or 0 when it is not a plain
// decimal integer >= 1 (no sign, exponent, spaces or leading zeros;
// docs/spec.md §7 Election, terms and fencing).
func ParseTermHeader(v string) int64 {
	if !termPattern.MatchString(v) {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > maxSafeInteger {
		return 0
	}
	return n
}

var frameFields = map[string]bool{
	"type": true, "cluster_id": true, "beat_index": true, "downbeat": true, "phase": true, "hlc": true,
	"deadline_at": true, "tempo_bpm": true, "window_id": true, "scheduled_at": true, "bar_length": true, "phases": true,
}

var frameRequired = []string{"type", "cluster_id", "beat_index", "downbeat", "phase", "hlc", "deadline_at", "tempo_bpm", "window_id"}

// parsedFrame is a frame that passed INT-A, with its times in ms since the epoch.
type parsedFrame struct {
	BeatFrame
	deadlineMs  float64
	scheduledMs float64 // NaN when absent
}

// ParseBeatFrame decodes and validates bytes against INT-A (the schema's rules, key names
// exact). It never panics; the error names the field and the rule.
func ParseBeatFrame(data []byte) (BeatFrame, error) {
	p, err := parseFrame(data)
	return p.BeatFrame, err
}

func parseFrame(data []byte) (p parsedFrame, err error) {
	defer func() {
		if r := recover(); r != nil { // nothing from the wire may panic the client
			p, err = parsedFrame{}, fmt.Errorf("frame: could not be decoded: %v", r)
		}
	}()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return p, errors.New("frame: is not UTF-8 text")
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&fields); err != nil {
		return p, fmt.Errorf("frame: is not a JSON object: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return p, errors.New("frame: has data after the JSON object")
	}
	if fields == nil {
		return p, errors.New("frame: must be a JSON object")
	}
	for k := range fields {
		if !frameFields[k] {
			return p, fmt.Errorf("frame: must NOT have additional property '%s'", clip(k, 40))
		}
	}
	for _, k := range frameRequired {
		if _, ok := fields[k]; !ok {
			return p, fmt.Errorf("frame: must have required property '%s'", k)
		}
	}
	f := &p.BeatFrame
	str := func(k string, dst *string) error {
		if err := json.Unmarshal(fields[k], dst); err != nil || string(fields[k]) == "null" {
			return fmt.Errorf("%s: must be string", k)
		}
		return nil
	}
	num := func(k string) (float64, error) {
		raw := bytes.TrimSpace(fields[k])
		if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
			return 0, fmt.Errorf("%s: must be number", k)
		}
		v, err := strconv.ParseFloat(string(raw), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%s: must be number", k)
		}
		return v, nil
	}
	integer := func(k string, lo, hi float64) (int64, error) {
		v, err := num(k)
		if err != nil {
			return 0, err
		}
		if v != math.Trunc(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("%s: must be integer", k)
		}
		if v < lo || v > hi {
			return 0, fmt.Errorf("%s: must be from %v to %v", k, lo, hi)
		}
		return int64(v), nil
	}
	if err := str("type", &f.Type); err != nil {
		return p, err
	}
	if f.Type != BeatFrameType {
		return p, fmt.Errorf("type: must be equal to constant '%s'", BeatFrameType)
	}
	if err := str("cluster_id", &f.ClusterID); err != nil {
		return p, err
	}
	if !clusterIDPattern.MatchString(f.ClusterID) {
		return p, errors.New("cluster_id: must match pattern ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
	}
	if f.BeatIndex, err = integer("beat_index", 0, maxSafeInteger); err != nil {
		return p, err
	}
	if err := json.Unmarshal(fields["downbeat"], &f.Downbeat); err != nil || string(fields["downbeat"]) == "null" {
		return p, errors.New("downbeat: must be boolean")
	}
	if err := str("phase", &f.Phase); err != nil {
		return p, err
	}
	if phaseIndexOf(f.Phase) < 0 {
		return p, errors.New("phase: must be equal to one of the allowed values plan, execute, review")
	}
	if err := str("hlc", &f.HLC); err != nil {
		return p, err
	}
	if !hlcPattern.MatchString(f.HLC) {
		return p, errors.New("hlc: must match pattern ^[0-9a-f]{4,16}:[0-9a-f]{4,16}:[0-9a-f]{4,16}$")
	}
	var deadline string
	if err := str("deadline_at", &deadline); err != nil {
		return p, err
	}
	if f.DeadlineAt, p.deadlineMs, err = parseDateTime("deadline_at", deadline); err != nil {
		return p, err
	}
	if f.TempoBPM, err = num("tempo_bpm"); err != nil {
		return p, err
	}
	if !(f.TempoBPM >= contractMinBPM && f.TempoBPM <= contractMaxBPM) {
		return p, errors.New("tempo_bpm: must be from 0.1 to 1000")
	}
	if err := str("window_id", &f.WindowID); err != nil {
		return p, err
	}
	if !windowIDPattern.MatchString(f.WindowID) {
		return p, errors.New("window_id: must match pattern ^[0-9a-f]{32}$")
	}
	p.scheduledMs = math.NaN()
	if _, ok := fields["scheduled_at"]; ok {
		var s string
		if err := str("scheduled_at", &s); err != nil {
			return p, err
		}
		if f.ScheduledAt, p.scheduledMs, err = parseDateTime("scheduled_at", s); err != nil {
			return p, err
		}
	}
	if _, ok := fields["bar_length"]; ok {
		n, err := integer("bar_length", 1, maxBarLength)
		if err != nil {
			return p, err
		}
		f.BarLength = int(n)
	}
	if _, ok := fields["phases"]; ok {
		var ph []string
		if err := json.Unmarshal(fields["phases"], &ph); err != nil || ph == nil {
			return p, errors.New("phases: must be array of strings")
		}
		if len(ph) < 1 || len(ph) > 3 {
			return p, errors.New("phases: must have 1 to 3 items")
		}
		seen := map[string]bool{}
		for _, x := range ph {
			if phaseIndexOf(x) < 0 {
				return p, errors.New("phases: items must be plan, execute or review")
			}
			if seen[x] {
				return p, errors.New("phases: must NOT have duplicate items")
			}
			seen[x] = true
		}
		f.Phases = ph
	}
	return p, nil
}

// parseDateTime checks an RFC 3339 date-time and returns it with its time in whole ms since
// the epoch (as JavaScript's Date.parse gives it: fractions beyond the ms are cut).
func parseDateTime(field, s string) (time.Time, float64, error) {
	m := dateTimePattern.FindStringSubmatch(s)
	bad := fmt.Errorf("%s: must match format \"date-time\" (RFC 3339, e.g. 2025-09-04T12:00:00Z)", field)
	if m == nil {
		return time.Time{}, 0, bad
	}
	atoi := func(x string) int { n, _ := strconv.Atoi(x); return n }
	y, mo, d, h, mi, sec := atoi(m[1]), atoi(m[2]), atoi(m[3]), atoi(m[4]), atoi(m[5]), atoi(m[6])
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days[2] = 29
	}
	if mo < 1 || mo > 12 || d < 1 || d > days[mo] || h > 23 || mi > 59 || sec > 60 {
		return time.Time{}, 0, bad
	}
	offset := 0
	if m[8] == "z" || m[8] == "Z" {
		offset = 0
	} else {
		oh, om := atoi(m[10]), atoi(m[11])
		if oh > 23 || om > 59 {
			return time.Time{}, 0, bad
		}
		offset = oh*60 + om
		if m[9] == "-" {
			offset = -offset
		}
	}
	if sec == 60 { // a leap second: only 23:59:60 UTC is one
		if (h*60+mi-offset+1440)%1440 != 23*60+59 {
			return time.Time{}, 0, bad
		}
		sec = 59
	}
	ns := 0
	if frac := m[7]; frac != "" {
		digits := (frac[1:] + "000000000")[:9]
		ns = atoi(digits)
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC).Add(-time.Duration(offset) * time.Minute)
	return t, float64(t.UnixMilli()), nil
}

// isoMs formats ms since the epoch as JavaScript's toISOString does (whole ms, UTC).
func isoMs(ms float64) string {
	return time.UnixMilli(int64(ms)).UTC().Format("2006-01-02T15:04:05.000Z")
}

// buildFrame is the INT-A frame of a slot, as the pulse builds it (the same fields and order).
func buildFrame(clusterID string, m *TempoMap, pos BeatPosition, hlc string) BeatFrame {
	return BeatFrame{
		Type: BeatFrameType, ClusterID: clusterID, BeatIndex: pos.BeatIndex, Downbeat: pos.Downbeat,
		Phase: pos.Phase, HLC: hlc, DeadlineAt: time.UnixMilli(int64(pos.PhaseEnd)).UTC(), TempoBPM: pos.TempoBPM,
		WindowID: cachedWindowID(clusterID, pos.DownbeatIndex), ScheduledAt: time.UnixMilli(int64(pos.PhaseStart)).UTC(),
		BarLength: m.BarLength, Phases: append([]string(nil), m.Phases...),
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
