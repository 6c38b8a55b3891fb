package sdk

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The schemas in packages/contracts/schemas are the source: the Go types are checked against
// them, and claims the SDK builds are validated with them.

const schemaDir = "../packages/contracts/schemas"

func loadSchema(t *testing.T, name string) (*jsonschema.Schema, map[string]any) {
	t.Helper()
	path, _ := filepath.Abs(filepath.Join(schemaDir, name))
	data, err := os.ReadFile(path)
	must(t, err)
	var doc map[string]any
	must(t, json.Unmarshal(data, &doc))
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	must(t, c.AddResource(path, doc))
	s, err := c.Compile(path)
	must(t, err)
	return s, doc
}

func jsonNames(typ reflect.Type) []string {
	var out []string
	for i := 0; i < typ.NumField(); i++ {
		tag := strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]
		if tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	sort.Strings(out)
	return out
}

func schemaNames(doc map[string]any) []string {
	var out []string
	for k := range doc["properties"].(map[string]any) {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestGoTypesMatchTheSchemas(t *testing.T) {
	for _, c := range []struct {
		file string
		typ  reflect.Type
	}{{"backbeat.statusclaim.v1.schema.json", reflect.TypeOf(StatusClaim{})}, {"backbeat.beatframe.v1.schema.json", reflect.TypeOf(BeatFrame{})}} {
		_, doc := loadSchema(t, c.file)
		if got, want := jsonNames(c.typ), schemaNames(doc); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Go fields %v, schema properties %v", c.typ.Name(), got, want)
		}
	}
	_, claim := loadSchema(t, "backbeat.statusclaim.v1.schema.json")
	var states []string
	for _, s := range claim["properties"].(map[string]any)["state"].(map[string]any)["enum"].([]any) {
		states = append(states, s.(string))
	}
	if !reflect.DeepEqual(states, ClaimStates) {
		t.Errorf("ClaimStates %v, schema %v", ClaimStates, states)
	}
	if p := claim["properties"].(map[string]any)["agent_id"].(map[string]any)["pattern"]; p != agentIDPattern.String() {
		t.Errorf("agent id pattern %s, schema %s", agentIDPattern, p)
	}
	_, frame := loadSchema(t, "backbeat.beatframe.v1.schema.json")
	var req []string
	for _, r := range frame["required"].([]any) {
		req = append(req, r.(string))
	}
	if !reflect.DeepEqual(req, frameRequired) {
		t.Errorf("frame required %v, schema %v", frameRequired, req)
	}
}

// randomClaim makes claims near the edges of every rule.
func randomClaim(r *rand.Rand) StatusClaim {
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	c := StatusClaim{Type: StatusClaimType, AgentID: pick("agent:w-1", "svc.a:b_c", "agent", "a:b:c", "a :b", strings.Repeat("a", 64)+":"+strings.Repeat("b", 63), strings.Repeat("a", 64)+":"+strings.Repeat("b", 64)),
		BeatIndex: []int64{0, 1, 7, maxSafeInteger, -1}[r.Intn(5)],
		State:     pick(append(ClaimStates, "review", "done", "", "EXECUTING")...),
		HLC:       pick("7ffd:0001:abcd", "19a8f3c2b10:0000:9f86d081", "7FFD:0001:abcd", "7ffd:1:abcd"),
		TaskID:    pick("", "task:1", strings.Repeat("é", 128), strings.Repeat("x", 129)),
		Progress:  []float64{0, 0.5, 1, 1.0000001, -0.1, 1e-7}[r.Intn(6)],
		BeatsLeft: []int{0, 3, -1}[r.Intn(3)],
		Notes:     pick("", "ok", strings.Repeat("✓", 1024), strings.Repeat("n", 1025)),
	}
	switch r.Intn(4) {
	case 1:
		c.WaitFor = []string{"hmmm://thread/1"}
	case 2:
		c.WaitFor = []string{""}
	case 3:
		c.WaitFor = make([]string, 65)
		for i := range c.WaitFor {
			c.WaitFor[i] = "x"
		}
	}
	return c
}

func TestValidateStatusClaimAgreesWithTheSchema(t *testing.T) {
	s, _ := loadSchema(t, "backbeat.statusclaim.v1.schema.json")
	r := rand.New(rand.NewSource(42))
	valid := 0
	for i := 0; i < 20000; i++ {
		c := randomClaim(r)
		payload, err := ClaimPayload(c)
		must(t, err)
		var doc any
		must(t, json.Unmarshal(payload, &doc))
		schemaErr := s.Validate(doc)
		goErr := ValidateStatusClaim(c)
		if (schemaErr == nil) != (goErr == nil) {
			t.Fatalf("claim %s: schema says %v, ValidateStatusClaim says %v", payload, schemaErr, goErr)
		}
		if goErr == nil {
			valid++
		}
	}
	if valid < 200 {
		t.Fatalf("only %d valid claims generated: the property is too weak", valid)
	}
}

func TestOutgoingClaimsPassTheSchema(t *testing.T) {
	s, _ := loadSchema(t, "backbeat.statusclaim.v1.schema.json")
	c, _ := newClient(&Config{ClusterID: "c", AgentID: "agent:schema-1", SigningKey: ed25519.NewKeyFromSeed(make([]byte, 32))})
	c.state = "running"
	c.hub = &hub{}
	c.claims = &claimSender{max: 10, met: newMetrics(), wake: make(chan struct{}, 1)}
	c.follower.st.last, c.follower.st.hasLast = BeatPosition{BeatIndex: 9}, true
	for _, in := range []StatusClaim{{State: "executing", Progress: 0.5, Notes: "Processing data"}, {State: "done"}, {State: "review", BeatsLeft: 2, WaitFor: []string{"hmmm://thread/9"}}} {
		o, err := c.prepare(in)
		must(t, err)
		var doc any
		must(t, json.Unmarshal(o.msg.Data, &doc))
		if err := s.Validate(doc); err != nil {
			t.Fatalf("claim %s breaks the schema: %v", o.msg.Data, err)
		}
		if !ed25519.Verify(c.cfg.SigningKey.Public().(ed25519.PublicKey), o.msg.Data, mustB64(t, o.msg.Header.Get("x-signature"))) {
			t.Fatal("signature does not verify over the payload bytes")
		}
		if o.msg.Header.Get("x-agent-id") != "agent:schema-1" || o.msg.Header.Get("x-hlc") != o.claim.HLC || o.msg.Header.Get("x-window-id") != WindowIDForBeat("c", 9, 8) {
			t.Fatalf("headers %v", o.msg.Header)
		}
		if len(o.msgID) != 32 {
			t.Fatalf("Nats-Msg-Id %q is not 128 bits of hex", o.msgID)
		}
	}
	_, err := c.prepare(StatusClaim{State: "sleeping"})
	var ce *ClaimInvalidError
	if !errors.As(err, &ce) || ce.Field != "state" {
		t.Fatalf("a bad state: %v", err)
	}
}

func TestBadConfigIsAnErrorNamingTheField(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	cases := []struct {
		field  string
		mutate func(c *Config)
	}{
		{"ClusterID", func(c *Config) { c.ClusterID = "a.b" }},
		{"ClusterID", func(c *Config) { c.ClusterID = "" }},
		{"AgentID", func(c *Config) { c.AgentID = "my-service" }},
		{"AgentID", func(c *Config) { c.AgentID = "a:b:c" }},
		{"NATSUrl", func(c *Config) { c.NATSUrl = "http://x" }},
		{"SigningKey", func(c *Config) { c.SigningKey = key[:31] }},
		{"SigningKey", func(c *Config) { k := append(ed25519.PrivateKey{}, key...); k[40] ^= 1; c.SigningKey = k }},
		{"JitterTolerance", func(c *Config) { c.JitterTolerance = -time.Millisecond }},
		{"MaxReconnects", func(c *Config) { c.MaxReconnects = -2 }},
		{"Timing", func(c *Config) { c.Timing = "beats" }},
		{"MaxQueuedClaims", func(c *Config) { c.MaxQueuedClaims = -1 }},
		{"TLSCertFile", func(c *Config) { c.TLSCertFile = "x.pem" }},
	}
	for _, tc := range cases {
		cfg := DefaultConfig()
		cfg.ClusterID, cfg.AgentID = "c", "agent:a"
		tc.mutate(cfg)
		_, err := New(cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: New returned %v", tc.field, err)
		}
		c := NewClient(cfg)
		if err2 := c.Start(t.Context()); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("%s: Start returned %v", tc.field, err2)
		}
		if c.OnBeat(func(BeatFrame) {}) == nil || c.EmitStatusClaim(StatusClaim{State: "idle"}) == nil || c.Health().Errors == nil {
			t.Errorf("%s: a client with a bad config works", tc.field)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	must(t, err)
	return b
}
