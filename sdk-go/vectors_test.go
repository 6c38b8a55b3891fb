package sdk

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The shared test vectors (testdata/vectors/ at the repository root): both SDKs read them
// and must agree (packages/sdk/test/vectors.test.ts is the TypeScript side).
// BACKBEAT_WRITE_VECTORS=1 go test -run TestWriteVectors rewrites them from this SDK.

const vectorDir = "../testdata/vectors"

type windowVector struct {
	Cluster   string `json:"cluster"`
	BeatIndex int64  `json:"beat_index"`
	BarLength int    `json:"bar_length"`
	Downbeat  int64  `json:"downbeat_index"`
	WindowID  string `json:"window_id"`
}

type hlcVector struct {
	Text     string `json:"text"`
	Valid    bool   `json:"valid"`
	Physical int64  `json:"physical,omitempty"`
	Logical  int64  `json:"logical,omitempty"`
	Node     string `json:"node,omitempty"`
}

type nodeSuffixVector struct {
	NodeID string `json:"node_id"`
	Suffix string `json:"suffix"`
}

type claimVector struct {
	Name      string            `json:"name"`
	Claim     StatusClaim       `json:"claim"`
	Payload   string            `json:"payload"`
	Signature string            `json:"signature"`
	BarLength int               `json:"bar_length"`
	Headers   map[string]string `json:"headers"`
	SchemaOK  bool              `json:"schema_valid"`
}

type claimVectors struct {
	SeedHex   string        `json:"seed_hex"`
	PublicKey string        `json:"public_key"`
	Cluster   string        `json:"cluster"`
	Claims    []claimVector `json:"claims"`
}

type frameCase struct {
	Name       string  `json:"name"`
	Payload    string  `json:"payload"`
	Term       *string `json:"term"` // the Backbeat-Term header, null when absent
	ReceivedAt float64 `json:"received_at"`
	Expect     struct {
		Accept *struct {
			BeatIndex  int64 `json:"beat_index"`
			PhaseIndex int   `json:"phase_index"`
		} `json:"accept,omitempty"`
		Drop string `json:"drop,omitempty"`
	} `json:"expect"`
}

type frameVectors struct {
	Comment   string      `json:"comment"`
	Cluster   string      `json:"cluster"`
	TempoMap  TempoMap    `json:"tempo_map"`
	LeaseTerm int64       `json:"lease_term"`
	AheadMs   float64     `json:"ahead_ms"`
	HoldMs    float64     `json:"hold_ms"`
	Frames    []frameCase `json:"frames"`
}

func readVector(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorDir, name))
	must(t, err)
	must(t, json.Unmarshal(data, v))
}

func TestVectorsWindowIDs(t *testing.T) {
	var vs []windowVector
	readVector(t, "window-ids.json", &vs)
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range vs {
		if got := WindowID(v.Cluster, v.Downbeat); got != v.WindowID {
			t.Errorf("WindowID(%s, %d) = %s, want %s", v.Cluster, v.Downbeat, got, v.WindowID)
		}
		if got := WindowIDForBeat(v.Cluster, v.BeatIndex, v.BarLength); got != v.WindowID {
			t.Errorf("WindowIDForBeat(%s, %d, %d) = %s, want %s", v.Cluster, v.BeatIndex, v.BarLength, got, v.WindowID)
		}
	}
}

func TestVectorsHLC(t *testing.T) {
	var vs struct {
		Strings    []hlcVector        `json:"strings"`
		NodeSuffix []nodeSuffixVector `json:"node_suffix"`
	}
	readVector(t, "hlc.json", &vs)
	for _, v := range vs.Strings {
		ts, err := ParseHLC(v.Text)
		if (err == nil) != v.Valid {
			t.Errorf("ParseHLC(%q): err %v, want valid=%v", v.Text, err, v.Valid)
			continue
		}
		if v.Valid && (ts.Physical != v.Physical || ts.Logical != v.Logical || ts.Node != v.Node) {
			t.Errorf("ParseHLC(%q) = %+v", v.Text, ts)
		}
		if v.Valid && ts.String() != formatVector(v) {
			t.Errorf("format %+v = %s", ts, ts.String())
		}
	}
	for _, v := range vs.NodeSuffix {
		if got := HLCNodeSuffix(v.NodeID); got != v.Suffix {
			t.Errorf("HLCNodeSuffix(%s) = %s, want %s", v.NodeID, got, v.Suffix)
		}
	}
}

func formatVector(v hlcVector) string {
	return HLCTimestamp{Physical: v.Physical, Logical: v.Logical, Node: v.Node}.String()
}

func TestVectorsSignedClaims(t *testing.T) {
	var vs claimVectors
	readVector(t, "signed-claims.json", &vs)
	seed, err := hex.DecodeString(vs.SeedHex)
	must(t, err)
	key := ed25519.NewKeyFromSeed(seed)
	if PublicKeyBase64(key) != vs.PublicKey {
		t.Fatalf("public key %s, want %s", PublicKeyBase64(key), vs.PublicKey)
	}
	for _, v := range vs.Claims {
		payload, err := ClaimPayload(v.Claim)
		must(t, err)
		if string(payload) != v.Payload {
			t.Errorf("%s: payload\n%s\nwant\n%s", v.Name, payload, v.Payload)
		}
		if sig := SignPayload(key, []byte(v.Payload)); sig != v.Signature {
			t.Errorf("%s: signature %s, want %s", v.Name, sig, v.Signature)
		}
		if (ValidateStatusClaim(v.Claim) == nil) != v.SchemaOK {
			t.Errorf("%s: ValidateStatusClaim = %v, want valid=%v", v.Name, ValidateStatusClaim(v.Claim), v.SchemaOK)
		}
		if w := WindowIDForBeat(vs.Cluster, v.Claim.BeatIndex, v.BarLength); w != v.Headers["x-window-id"] {
			t.Errorf("%s: x-window-id %s, want %s", v.Name, w, v.Headers["x-window-id"])
		}
	}
}

// gateVerdict runs one frame through a fresh gate, ending a hold when its time is up.
func gateVerdict(fv frameVectors, fc frameCase) verdict {
	now := fc.ReceivedAt
	g := newFrameGate(fv.Cluster, fv.AheadMs, func() float64 { return now }, nil)
	m := fv.TempoMap
	g.setMap(&m)
	g.setLease(LeaseInfo{State: LeaseHeld, Term: fv.LeaseTerm, Leader: "pulse-1"})
	term, has := "", fc.Term != nil
	if has {
		term = *fc.Term
	}
	vs := g.offer([]byte(fc.Payload), term, has, fc.ReceivedAt)
	if len(vs) == 0 {
		if until, ok := g.heldUntil(); ok {
			now = until
			vs = g.expireHeld()
		}
	}
	if len(vs) != 1 {
		return verdict{reason: "no verdict"}
	}
	return vs[0]
}

func TestVectorsFrameGate(t *testing.T) {
	var fv frameVectors
	readVector(t, "gate-frames.json", &fv)
	if len(fv.Frames) < 10 {
		t.Fatalf("only %d frame vectors", len(fv.Frames))
	}
	for _, fc := range fv.Frames {
		v := gateVerdict(fv, fc)
		switch {
		case fc.Expect.Accept != nil:
			if !v.accepted || v.pos.BeatIndex != fc.Expect.Accept.BeatIndex || v.pos.PhaseIndex != fc.Expect.Accept.PhaseIndex {
				t.Errorf("%s: want accepted %d.%d, got %+v %s %s", fc.Name, fc.Expect.Accept.BeatIndex, fc.Expect.Accept.PhaseIndex, v.pos, v.reason, v.detail)
			}
		default:
			if v.accepted || v.reason != fc.Expect.Drop {
				t.Errorf("%s: want drop %s, got accepted=%v %s (%s)", fc.Name, fc.Expect.Drop, v.accepted, v.reason, v.detail)
			}
		}
	}
}
