package sdk

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Signed claims from Go agents against a real nats-server, pulse and reverb --signatures require.

func TestSignedClaimsAreCountedExactlyWithSignaturesRequire(t *testing.T) {
	srv := startNATS(t)
	cluster := uniqueCluster("claims")
	const agents, perAgent = 3, 6
	keys := make([]ed25519.PrivateKey, agents)
	trust := map[string][]string{}
	for i := range keys {
		keys[i] = ed25519.NewKeyFromSeed([]byte(fmt.Sprintf("%032d", i+1)))
		trust[fmt.Sprintf("agent:go-%d", i)] = []string{PublicKeyBase64(keys[i])}
	}
	forger := ed25519.NewKeyFromSeed([]byte(fmt.Sprintf("%032d", 99)))
	trustFile := filepath.Join(t.TempDir(), "trust.json")
	data, _ := json.Marshal(map[string]any{"agents": trust})
	must(t, os.WriteFile(trustFile, data, 0o600))
	startPulse(t, srv.URL, cluster, "p1").waitOutput(t, `"became leader"`, 20*time.Second)
	rv := backbeat(t, "reverb", "reverb", "--nats", srv.URL, "--cluster", cluster, "--node-id", "r1", "--http-port", "0",
		"--signatures", "require", "--trust-file", trustFile, "--replicas", "1", "--verify-threads", "0")
	rv.waitOutput(t, `listening|started`, 30*time.Second)

	reports := map[string]map[string]any{}
	var mu sync.Mutex
	obs, err := nats.Connect(srv.URL)
	must(t, err)
	defer obs.Close()
	_, err = obs.Subscribe("backbeat."+cluster+".reverb", func(m *nats.Msg) {
		var r map[string]any
		if json.Unmarshal(m.Data, &r) == nil {
			mu.Lock()
			reports[fmt.Sprint(r["window_id"])] = r
			mu.Unlock()
		}
	})
	must(t, err)
	must(t, obs.Flush())

	clients := make([]Client, agents)
	for i := range clients {
		k := keys[i]
		clients[i] = newTestClient(t, srv.URL, cluster, fmt.Sprintf("agent:go-%d", i), func(c *Config) { c.SigningKey = k })
	}
	// The forger claims to be agent:go-0 with a key the trust file does not list.
	evil := newTestClient(t, srv.URL, cluster, "agent:go-0", func(c *Config) { c.SigningKey = forger })
	waitFor(t, "a beat", 20*time.Second, func() bool { return clients[0].GetCurrentBeat() >= 0 })
	lastBeat := int64(0)
	for round := 0; round < perAgent; round++ {
		for _, c := range clients {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			claim := StatusClaim{State: "executing", Progress: float64(round) / perAgent, Notes: "round " + strconv.Itoa(round)}
			sent, err := c.EmitStatusClaimWait(ctx, claim)
			cancel()
			must(t, err)
			lastBeat = max(lastBeat, sent.BeatIndex)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := evil.EmitStatusClaimWait(ctx, StatusClaim{State: "failed"})
		cancel()
		must(t, err)
		time.Sleep(300 * time.Millisecond)
	}
	// Every bar up to the last claim's is reported within a beat of its end.
	lastDownbeat := lastBeat - lastBeat%4
	waitFor(t, "the report of the last bar with claims", 15*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		_, ok := reports[WindowID(cluster, lastDownbeat)]
		return ok
	})
	mu.Lock()
	defer mu.Unlock()
	total := 0.0
	for _, r := range reports {
		if sc, ok := r["state_counts"].(map[string]any); ok {
			for state, n := range sc {
				if state != "executing" {
					t.Fatalf("a report counts %v claims in state %s (the forger's)", n, state)
				}
				total += n.(float64)
			}
		}
		if l, ok := r["late_claims"].(float64); ok {
			total += l
		}
	}
	if total != agents*perAgent {
		t.Fatalf("reports count %v claims, the agents sent %d", total, agents*perAgent)
	}
}
