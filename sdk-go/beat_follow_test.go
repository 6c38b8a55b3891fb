package sdk

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Following the beat against a real nats-server and the real backbeat pulse (the built CLI):
// order, a pulse killed and restarted, a leader failover, a forged term.

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

// A service may stop its client from inside a beat callback (the last client on its connection):
// Stop returns instead of waiting for the goroutine that runs the callback.
func TestStopFromInsideABeatCallbackReturns(t *testing.T) {
	srv := startNATS(t)
	cluster := uniqueCluster("stopcb")
	startPulse(t, srv.URL, cluster, "p1").waitOutput(t, `"became leader"`, 20*time.Second)
	c := newTestClient(t, srv.URL, cluster, "agent:stopcb-1", nil)
	stopped := make(chan error, 1)
	var once bool
	if err := c.OnBeat(func(BeatFrame) {
		if once {
			return
		}
		once = true
		stopped <- c.Stop()
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Stop: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Stop called from a beat callback did not return within 15 s")
	}
	if c.Health().Connected {
		t.Fatal("still connected after Stop")
	}
}
