package sdk

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Scenarios against a real nats-server and the real backbeat pulse and reverb (the built CLI).

type slotEvent struct {
	beat   int64
	phase  int
	source string
	info   BeatInfo
}

type recorder struct {
	mu       sync.Mutex
	slots    []slotEvent
	beats    []int64
	downbeat []int64
}

func (r *recorder) attach(t *testing.T, c Client) {
	t.Helper()
	must(t, c.OnPhaseInfo(func(f BeatFrame, i BeatInfo) {
		r.mu.Lock()
		r.slots = append(r.slots, slotEvent{beat: f.BeatIndex, phase: indexIn(Phases, f.Phase), source: i.Source, info: i})
		r.mu.Unlock()
	}))
	must(t, c.OnBeat(func(f BeatFrame) { r.mu.Lock(); r.beats = append(r.beats, f.BeatIndex); r.mu.Unlock() }))
	must(t, c.OnDownbeat(func(f BeatFrame) { r.mu.Lock(); r.downbeat = append(r.downbeat, f.BeatIndex); r.mu.Unlock() }))
}

func (r *recorder) snapshot() []slotEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slotEvent(nil), r.slots...)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkEverySlotOnce asserts each (beat, phase) fired once, in grid order, with no gap.
func checkEverySlotOnce(t *testing.T, ev []slotEvent) {
	t.Helper()
	for i := 1; i < len(ev); i++ {
		a, b := ev[i-1], ev[i]
		next := a.beat*3 + int64(a.phase) + 1
		if b.beat*3+int64(b.phase) != next {
			t.Fatalf("slot %d.%d (%s) followed %d.%d (%s): expected the next slot exactly once", b.beat, b.phase, b.source, a.beat, a.phase, a.source)
		}
	}
}

func newTestClient(t *testing.T, url, cluster, agent string, mutate func(*Config)) Client {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ClusterID = cluster
	cfg.AgentID = agent
	cfg.NATSUrl = url
	cfg.Logger = nil
	if mutate != nil {
		mutate(cfg)
	}
	c, err := New(cfg)
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	must(t, c.Start(ctx))
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
}

func startPulse(t *testing.T, url, cluster, node string, extra ...string) *proc {
	p := backbeat(t, "pulse "+node, pulseArgs(url, cluster, node, extra...)...)
	return p
}

func TestCallbacksFireOncePerSlotInOrder(t *testing.T) {
	srv := startNATS(t)
	cluster := uniqueCluster("order")
	startPulse(t, srv.URL, cluster, "p1").waitOutput(t, `"became leader"`, 20*time.Second)
	c := newTestClient(t, srv.URL, cluster, "agent:order-1", nil)
	var r recorder
	r.attach(t, c)
	waitFor(t, "20 slots", 20*time.Second, func() bool { return len(r.snapshot()) >= 20 })
	ev := r.snapshot()
	checkEverySlotOnce(t, ev)
	leader := 0
	for _, e := range ev {
		if e.source == SourceLeader {
			leader++
		}
	}
	if leader < len(ev)-2 {
		t.Fatalf("only %d of %d slots came from the leader's frames", leader, len(ev))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 1; i < len(r.beats); i++ {
		if r.beats[i] != r.beats[i-1]+1 {
			t.Fatalf("OnBeat: beat %d after %d", r.beats[i], r.beats[i-1])
		}
	}
	for _, b := range r.downbeat {
		if b%4 != 0 {
			t.Fatalf("OnDownbeat fired for beat %d (bars of 4)", b)
		}
	}
	h := c.Health()
	if h.Lease.State != LeaseHeld || h.Lease.Term != 1 || h.TempoMapSource != MapFromKV || h.CurrentTempo != 120 {
		t.Fatalf("health: %+v", h)
	}
	if c.GetCurrentWindow() != WindowIDForBeat(cluster, c.GetCurrentBeat(), 4) || !c.IsInWindow(c.GetCurrentWindow()) {
		t.Fatalf("window %s for beat %d", c.GetCurrentWindow(), c.GetCurrentBeat())
	}
}

func TestPulseKilledAndRestartedIsBridgedByLocalBeats(t *testing.T) {
	srv := startNATS(t)
	cluster := uniqueCluster("bridge")
	p := startPulse(t, srv.URL, cluster, "p1")
	p.waitOutput(t, `"became leader"`, 20*time.Second)
	c := newTestClient(t, srv.URL, cluster, "agent:bridge-1", nil)
	var r recorder
	r.attach(t, c)
	waitFor(t, "6 slots", 20*time.Second, func() bool { return len(r.snapshot()) >= 6 })
	p.kill(syscall.SIGKILL)
	waitFor(t, "local degradation", 5*time.Second, func() bool { return c.Health().LocalDegradation })
	time.Sleep(1500 * time.Millisecond)
	p2 := startPulse(t, srv.URL, cluster, "p1")
	p2.waitOutput(t, `"became leader"`, 20*time.Second)
	waitFor(t, "leader frames again", 10*time.Second, func() bool {
		ev := r.snapshot()
		return !c.Health().LocalDegradation && ev[len(ev)-1].source == SourceLeader
	})
	n := len(r.snapshot())
	waitFor(t, "6 more slots", 10*time.Second, func() bool { return len(r.snapshot()) >= n+6 })
	ev := r.snapshot()
	checkEverySlotOnce(t, ev)
	local := 0
	for _, e := range ev {
		if e.source == SourceLocal {
			local++
		}
	}
	if local < 6 {
		t.Fatalf("only %d local slots bridged the gap", local)
	}
	if c.Health().Lease.Term < 2 {
		t.Fatalf("the restarted pulse's term is not in force: %+v", c.Health().Lease)
	}
}

func TestLeaderFailoverKeepsEverySlotOnce(t *testing.T) {
	srv := startNATS(t)
	cluster := uniqueCluster("failover")
	p1 := startPulse(t, srv.URL, cluster, "p1")
	p1.waitOutput(t, `"became leader"`, 20*time.Second)
	p2 := startPulse(t, srv.URL, cluster, "p2")
	p2.waitOutput(t, `"pulse started"`, 20*time.Second)
	c := newTestClient(t, srv.URL, cluster, "agent:failover-1", nil)
	var r recorder
	r.attach(t, c)
	waitFor(t, "6 slots", 20*time.Second, func() bool { return len(r.snapshot()) >= 6 })
	p1.kill(syscall.SIGKILL)
	p2.waitOutput(t, `"became leader"`, 20*time.Second)
	waitFor(t, "frames of term 2", 10*time.Second, func() bool {
		ev := r.snapshot()
		return c.Health().Lease.Term == 2 && ev[len(ev)-1].source == SourceLeader
	})
	n := len(r.snapshot())
	waitFor(t, "6 more slots", 10*time.Second, func() bool { return len(r.snapshot()) >= n+6 })
	checkEverySlotOnce(t, r.snapshot())
	if d := c.Health().FramesDropped[DropDuplicate] + c.Health().FramesDropped[DropBackwards]; d > 3 {
		t.Logf("frames of slots fired locally and sent again by the new leader: %d", d)
	}
}

func TestForgedTermFrameChangesNothing(t *testing.T) {
	srv := startNATS(t)
	cluster := uniqueCluster("forged")
	startPulse(t, srv.URL, cluster, "p1").waitOutput(t, `"became leader"`, 20*time.Second)
	c := newTestClient(t, srv.URL, cluster, "agent:forged-1", nil)
	var r recorder
	r.attach(t, c)
	waitFor(t, "6 slots", 20*time.Second, func() bool { return len(r.snapshot()) >= 6 })
	// The attacker: a connection that may publish on the beat subject (no NATS permissions here;
	// deploy/nats/ denies it to agents) sends the next slot early with a higher term.
	raw, err := nats.Connect(srv.URL)
	must(t, err)
	defer raw.Close()
	m := c.TempoMap()
	now := float64(time.Now().UnixMilli())
	pos, _ := m.PositionAt(now)
	forge := func(pos BeatPosition, term string) {
		f := buildFrame(cluster, m, pos, "7ffd:0001:abcd")
		data, _ := json.Marshal(f)
		msg := nats.NewMsg("backbeat." + cluster + ".beat")
		msg.Data = data
		msg.Header.Set(TermHeader, term)
		must(t, raw.PublishMsg(msg))
	}
	target := m.NextSlot(m.NextSlot(pos))
	forge(target, "99")                        // a term the lease does not show: held, then bad_term
	forge(target, "1")                         // the right term but 300 ms before its slot: off_grid
	forge(m.Slot(target.BeatIndex+50, 0), "1") // far ahead on the grid: off_grid
	must(t, raw.Flush())
	waitFor(t, "drops counted", 5*time.Second, func() bool {
		d := c.Health().FramesDropped
		return d[DropBadTerm] >= 1 && d[DropOffGrid] >= 2
	})
	n := len(r.snapshot())
	waitFor(t, "6 more slots", 10*time.Second, func() bool { return len(r.snapshot()) >= n+6 })
	ev := r.snapshot()
	checkEverySlotOnce(t, ev)
	for _, e := range ev {
		if e.beat == target.BeatIndex && e.phase == target.PhaseIndex && e.info.ReceivedAt < target.PhaseStart-2 {
			t.Fatalf("the forged frame fired its slot early")
		}
	}
	if c.Health().Lease.Term != 1 {
		t.Fatalf("a header changed the term: %+v", c.Health().Lease)
	}
}

func TestWithBeatBudgetReturnsBudgetErrorWhenBeatsRunOut(t *testing.T) {
	srv := startNATS(t)
	cluster := uniqueCluster("budget")
	startPulse(t, srv.URL, cluster, "p1").waitOutput(t, `"became leader"`, 20*time.Second)
	c := newTestClient(t, srv.URL, cluster, "agent:budget-1", nil)
	waitFor(t, "a beat", 20*time.Second, func() bool { return c.GetCurrentBeat() >= 0 })
	start := c.GetCurrentBeat()
	t0 := time.Now()
	err := c.WithBeatBudget(2, func() error { time.Sleep(3 * time.Second); return nil })
	var be *BeatBudgetExceededError
	if !errors.As(err, &be) || !errors.Is(err, ErrBeatBudgetExceeded) || be.DeadlineBeat != start+2 {
		t.Fatalf("WithBeatBudget: %v", err)
	}
	if el := time.Since(t0); el > 1100*time.Millisecond || el < 400*time.Millisecond {
		t.Fatalf("2 beats at 120 BPM ended after %v", el)
	}
	if now, at := float64(time.Now().UnixMilli()), c.TempoMap().TimeOf(start+2, 0); now < at-1 {
		t.Fatalf("budget ended %.1f ms before beat %d started on the grid", at-now, start+2)
	}
	causes := make(chan error, 1)
	err = c.WithBeatBudgetContext(context.Background(), 1, func(ctx context.Context) error {
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	})
	if cause := <-causes; !errors.Is(err, ErrBeatBudgetExceeded) || !errors.Is(cause, ErrBeatBudgetExceeded) {
		t.Fatalf("context variant: err %v, cause %v", err, cause)
	}
	mine := errors.New("mine")
	if err := c.WithBeatBudget(4, func() error { return mine }); err != mine {
		t.Fatalf("a function's own error: %v", err)
	}
}

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
		for i, c := range clients {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			sent, err := c.EmitStatusClaimWait(ctx, StatusClaim{State: "executing", Progress: float64(round) / perAgent, Notes: "round " + strconv.Itoa(round)})
			cancel()
			must(t, err)
			lastBeat = max(lastBeat, sent.BeatIndex)
			_ = i
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
