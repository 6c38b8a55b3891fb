package sdk

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteVectors (re)writes testdata/vectors/ with BACKBEAT_WRITE_VECTORS=1; otherwise it
// checks that the files are what this generator writes, so a vector cannot drift unnoticed.
func TestWriteVectors(t *testing.T) {
	files := map[string]any{
		"window-ids.json":    genWindowVectors(),
		"hlc.json":           genHLCVectors(),
		"signed-claims.json": genClaimVectors(t),
		"gate-frames.json":   genFrameVectors(),
	}
	for name, v := range files {
		data, err := json.MarshalIndent(v, "", "  ")
		must(t, err)
		data = append(data, '\n')
		path := filepath.Join(vectorDir, name)
		if os.Getenv("BACKBEAT_WRITE_VECTORS") == "1" {
			must(t, os.MkdirAll(vectorDir, 0o755))
			must(t, os.WriteFile(path, data, 0o644))
			continue
		}
		old, err := os.ReadFile(path)
		must(t, err)
		if string(old) != string(data) {
			t.Errorf("%s differs from what the generator writes (BACKBEAT_WRITE_VECTORS=1 rewrites it)", path)
		}
	}
}

func genWindowVectors() []windowVector {
	var out []windowVector
	for _, c := range []struct {
		cluster string
		beat    int64
		bar     int
	}{{"c", 8, 8}, {"c", 15, 8}, {"chorus-aus-01", 0, 8}, {"chorus-aus-01", 123456, 4}, {"c", 9007199254740991, 1}, {"A_b-9", 1000003, 120}} {
		d := c.beat - c.beat%int64(c.bar)
		out = append(out, windowVector{Cluster: c.cluster, BeatIndex: c.beat, BarLength: c.bar, Downbeat: d, WindowID: WindowID(c.cluster, d)})
	}
	return out
}

func genHLCVectors() any {
	var strs []hlcVector
	for _, s := range []string{"7ffd:0001:abcd", "19a8f3c2b10:0000:9f86d081", "0000:0000:0000", "1fffffffffffff:1fffffffffffff:ffffffffffffffff",
		"00000000000000ff:0000:00ab", "7FFD:0001:abcd", "7ffd:01:abcd", "7ffd:0001", "7ffd:0001:abcd:0000", "", "7ffd:0001:abcg",
		" 7ffd:0001:abcd", "20000000000000:0000:0000", "7ffd:00000000000000001:abcd"} {
		ts, err := ParseHLC(s)
		v := hlcVector{Text: s, Valid: err == nil}
		if err == nil {
			v.Physical, v.Logical, v.Node = ts.Physical, ts.Logical, ts.Node
		}
		strs = append(strs, v)
	}
	var nodes []nodeSuffixVector
	for _, id := range []string{"agent:worker-1", "pulse-1", "ABCD", "0123456789abcdef", "abc", "service:instance"} {
		nodes = append(nodes, nodeSuffixVector{NodeID: id, Suffix: HLCNodeSuffix(id)})
	}
	return map[string]any{"strings": strs, "node_suffix": nodes}
}

func genClaimVectors(t *testing.T) claimVectors {
	seed, _ := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60") // RFC 8032 test 1
	key := ed25519.NewKeyFromSeed(seed)
	cv := claimVectors{SeedHex: hex.EncodeToString(seed), PublicKey: PublicKeyBase64(key), Cluster: "chorus-aus-01"}
	add := func(name string, c StatusClaim, bar int) {
		p, err := ClaimPayload(c)
		must(t, err)
		cv.Claims = append(cv.Claims, claimVector{Name: name, Claim: c, Payload: string(p), Signature: SignPayload(key, p), BarLength: bar,
			SchemaOK: ValidateStatusClaim(c) == nil,
			Headers: map[string]string{"x-agent-id": c.AgentID, "x-window-id": WindowIDForBeat(cv.Cluster, c.BeatIndex, bar), "x-hlc": c.HLC,
				"x-signature": SignPayload(key, p)}})
	}
	add("minimal", StatusClaim{Type: StatusClaimType, AgentID: "agent:worker-1", TaskID: "task:0a1b2c3d", BeatIndex: 42, State: "executing",
		HLC: "19a8f3c2b10:0000:9f86d081"}, 8)
	add("all fields", StatusClaim{Type: StatusClaimType, AgentID: "svc.go:instance_7", TaskID: "task:ffffffff", BeatIndex: 1000003, State: "waiting",
		HLC: "19a8f3c2b10:0003:00ab", Progress: 0.75, BeatsLeft: 10, Notes: "Processing batch 5/10 <&> \"quoted\" \\ tab\t é ✓",
		WaitFor: []string{"hmmm://thread/42", "agent:peer-2"}}, 4)
	add("small progress", StatusClaim{Type: StatusClaimType, AgentID: "agent:a", TaskID: "t", BeatIndex: 0, State: "completed",
		HLC: "0000:0000:0000", Progress: 1e-7, Notes: "line\nbreak"}, 8)
	return cv
}

func genFrameVectors() frameVectors {
	const t0 = 1767225600000.0 // 2026-01-01T00:00:00Z
	m := TempoMap{Segments: []TempoSegment{{StartBeat: 0, StartTime: t0, TempoBPM: 120}}, BarLength: 4, Phases: append([]string(nil), Phases...)}
	fv := frameVectors{Comment: "Each frame goes to a fresh gate with this tempo map (from KV) and a lease held at lease_term; " +
		"a held frame gets its verdict once hold_ms passed with no news. received_at is also the clock's now at the check.",
		Cluster: "chorus-aus-01", TempoMap: m, LeaseTerm: 3, AheadMs: 50, HoldMs: holdMs}
	good := m.Slot(5, 1)
	frame := func(pos BeatPosition) map[string]any {
		f := buildFrame(fv.Cluster, &m, pos, "19a8f3c2b10:0000:9f86d081")
		var o map[string]any
		b, _ := json.Marshal(f)
		_ = json.Unmarshal(b, &o)
		o["deadline_at"] = isoMs(pos.PhaseEnd)
		o["scheduled_at"] = isoMs(pos.PhaseStart)
		return o
	}
	enc := func(o map[string]any) string {
		keys := []string{"type", "cluster_id", "beat_index", "downbeat", "phase", "hlc", "deadline_at", "tempo_bpm", "window_id", "scheduled_at", "bar_length", "phases"}
		var b strings.Builder
		b.WriteByte('{')
		first := true
		for _, k := range keys {
			v, ok := o[k]
			if !ok {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			kb, _ := json.Marshal(k)
			vb, _ := json.Marshal(v)
			b.Write(kb)
			b.WriteByte(':')
			b.Write(vb)
		}
		for k, v := range o { // extra keys, for the additional-property case
			if indexIn(keys, k) < 0 {
				kb, _ := json.Marshal(k)
				vb, _ := json.Marshal(v)
				b.WriteString("," + string(kb) + ":" + string(vb))
			}
		}
		b.WriteByte('}')
		return b.String()
	}
	str := func(s string) *string { return &s }
	at := good.PhaseStart + 3
	add := func(name string, payload string, term *string, received float64, accept *BeatPosition, drop string) {
		fc := frameCase{Name: name, Payload: payload, Term: term, ReceivedAt: received}
		if accept != nil {
			fc.Expect.Accept = &struct {
				BeatIndex  int64 `json:"beat_index"`
				PhaseIndex int   `json:"phase_index"`
			}{accept.BeatIndex, accept.PhaseIndex}
		} else {
			fc.Expect.Drop = drop
		}
		fv.Frames = append(fv.Frames, fc)
	}
	with := func(mut func(o map[string]any)) string {
		o := frame(good)
		mut(o)
		return enc(o)
	}
	add("on the grid, the lease's term", enc(frame(good)), str("3"), at, &good, "")
	down := m.Slot(4, 0)
	add("a downbeat's first phase", enc(frame(down)), str("3"), down.PhaseStart+1, &down, "")
	add("40 ms before its slot (within ahead_ms)", enc(frame(good)), str("3"), good.PhaseStart-40, &good, "")
	add("offset +00:00 in deadline_at", with(func(o map[string]any) {
		o["deadline_at"] = strings.TrimSuffix(isoMs(good.PhaseEnd), "Z") + "+00:00"
	}), str("3"), at, &good, "")
	add("no optional fields", with(func(o map[string]any) { delete(o, "scheduled_at"); delete(o, "bar_length"); delete(o, "phases") }), str("3"), at, &good, "")
	add("not JSON", `{"type":"backbeat.beatframe.v1",`, str("3"), at, nil, DropInvalid)
	add("a JSON array", `[1,2,3]`, str("3"), at, nil, DropInvalid)
	add("missing window_id", with(func(o map[string]any) { delete(o, "window_id") }), str("3"), at, nil, DropInvalid)
	add("an additional property", with(func(o map[string]any) { o["term"] = 3 }), str("3"), at, nil, DropInvalid)
	add("a key in another case", with(func(o map[string]any) { o["Phase"] = o["phase"]; delete(o, "phase") }), str("3"), at, nil, DropInvalid)
	add("tempo_bpm as a string", with(func(o map[string]any) { o["tempo_bpm"] = "120" }), str("3"), at, nil, DropInvalid)
	add("tempo_bpm above 1000", with(func(o map[string]any) { o["tempo_bpm"] = 1000.5 }), str("3"), at, nil, DropInvalid)
	add("beat_index not an integer", with(func(o map[string]any) { o["beat_index"] = 5.5 }), str("3"), at, nil, DropInvalid)
	add("beat_index negative", with(func(o map[string]any) { o["beat_index"] = -1 }), str("3"), at, nil, DropInvalid)
	add("deadline_at not a date-time", with(func(o map[string]any) { o["deadline_at"] = "soon" }), str("3"), at, nil, DropInvalid)
	add("deadline_at on February 30", with(func(o map[string]any) { o["deadline_at"] = "2026-02-30T00:00:00.000Z" }), str("3"), at, nil, DropInvalid)
	add("hlc in upper case", with(func(o map[string]any) { o["hlc"] = "19A8F3C2B10:0000:9F86D081" }), str("3"), at, nil, DropInvalid)
	add("phases with a duplicate", with(func(o map[string]any) { o["phases"] = []string{"plan", "plan"} }), str("3"), at, nil, DropInvalid)
	add("another cluster", with(func(o map[string]any) { o["cluster_id"] = "other" }), str("3"), at, nil, DropOtherCluster)
	add("no Backbeat-Term header", enc(frame(good)), nil, at, nil, DropMalformed)
	for _, bad := range []string{"", "03", "3.0", "+3", " 3", "3 ", "0", "-3", "1e1", "0x3", "99999999999999999"} {
		add("Backbeat-Term '"+bad+"'", enc(frame(good)), str(bad), at, nil, DropMalformed)
	}
	add("after its deadline", enc(frame(good)), str("3"), good.PhaseEnd+1, nil, DropStale)
	add("an older term", enc(frame(good)), str("2"), at, nil, DropOldTerm)
	add("a newer term the lease does not show (forged)", enc(frame(good)), str("4"), at, nil, DropBadTerm)
	add("a wrong window_id", with(func(o map[string]any) { o["window_id"] = WindowID(fv.Cluster, 8) }), str("3"), at, nil, DropOffGrid)
	add("deadline_at 5 ms off", with(func(o map[string]any) { o["deadline_at"] = isoMs(good.PhaseEnd + 5) }), str("3"), at, nil, DropOffGrid)
	add("downbeat true off the bar's first beat", with(func(o map[string]any) { o["downbeat"] = true }), str("3"), at, nil, DropOffGrid)
	add("another tempo", with(func(o map[string]any) { o["tempo_bpm"] = 121 }), str("3"), at, nil, DropOffGrid)
	add("60 ms before its slot", enc(frame(good)), str("3"), good.PhaseStart-60, nil, DropOffGrid)
	far := m.Slot(500, 0)
	add("a slot far ahead, right term", enc(frame(far)), str("3"), at, nil, DropOffGrid)
	return fv
}
