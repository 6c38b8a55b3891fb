package sdk

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The hub is the I/O shell of the beat: one subscription on backbeat.C.beat, one KV watch of
// the lease and the tempo map, one frame gate and one timer per (connection, cluster), shared
// by every client on that connection (docs/spec.md §3 Subjects and shared state). A process
// hosting many agents on one connection checks each frame once and wakes once per slot.

const (
	minAheadMs   = 2
	readyTimeout = 5 * time.Second
)

type hubKey struct {
	nc      *nats.Conn
	cluster string
}

var hubs = struct {
	sync.Mutex
	m map[hubKey]*hub
}{m: map[hubKey]*hub{}}

type hub struct {
	key     hubKey
	js      jetstream.JetStream
	now     func() float64
	members int

	mu     sync.Mutex // the gate
	gate   *frameGate
	mapPtr atomic.Pointer[TempoMap]
	offset atomic.Pointer[offsetEstimator]

	deliverMu sync.Mutex // verdicts reach the followers in the gate's order
	followers atomic.Pointer[[]*follower]
	reporters atomic.Pointer[[]func(string, bool)]

	sub         *nats.Subscription
	ctx         context.Context
	cancel      context.CancelFunc
	wake        chan struct{}
	done        sync.WaitGroup
	lastRefresh map[string]time.Time
	kv          map[string]jetstream.KeyValue
	leaseGood   bool

	frameMu   sync.Mutex
	lastFrame struct {
		m     *TempoMap
		pos   BeatPosition
		frame BeatFrame
	}
}

// joinHub joins (or opens) the hub of cluster on nc.
func joinHub(ctx context.Context, nc *nats.Conn, cluster string, tolMs float64, now func() float64) (*hub, error) {
	hubs.Lock()
	key := hubKey{nc, cluster}
	h := hubs.m[key]
	if h == nil {
		h = &hub{key: key, now: now, wake: make(chan struct{}, 1), lastRefresh: map[string]time.Time{},
			kv: map[string]jetstream.KeyValue{}}
		h.gate = newFrameGate(cluster, math.Max(minAheadMs, tolMs), now, h.askRefresh)
		h.followers.Store(&[]*follower{})
		h.reporters.Store(&[]func(string, bool){})
		if err := h.open(ctx); err != nil {
			hubs.Unlock()
			return nil, err
		}
		hubs.m[key] = h
	}
	h.members++
	hubs.Unlock()
	return h, nil
}

func (h *hub) open(ctx context.Context) error {
	js, err := jetstream.New(h.key.nc)
	if err != nil {
		return err
	}
	h.js = js
	h.ctx, h.cancel = context.WithCancel(context.Background())
	ready := make(chan struct{}, 2)
	h.done.Add(2)
	go h.watch(stateBucket(h.key.cluster), "tempo-map", ready)
	go h.watch(leaseBucket(h.key.cluster), "leader", ready)
	wait := time.NewTimer(readyTimeout)
	defer wait.Stop()
	for i := 0; i < 2; i++ {
		select {
		case <-ready:
		case <-wait.C: // KV that does not answer: start anyway, the watches keep trying
			i = 2
		case <-ctx.Done():
			h.cancel()
			return ctx.Err()
		}
	}
	sub, err := h.key.nc.Subscribe("backbeat."+h.key.cluster+".beat", h.onMsg)
	if err != nil {
		h.cancel()
		return fmt.Errorf("subscribe to backbeat.%s.beat: %w", h.key.cluster, err)
	}
	_ = sub.SetPendingLimits(65536, 64<<20)
	h.sub = sub
	if err := h.key.nc.Flush(); err != nil {
		h.cancel()
		_ = sub.Unsubscribe()
		return fmt.Errorf("subscribe to backbeat.%s.beat: %w", h.key.cluster, err)
	}
	h.done.Add(1)
	go h.timerLoop()
	return nil
}

func stateBucket(c string) string { return "backbeat_" + c + "_state" }
func leaseBucket(c string) string { return "backbeat_" + c + "_lease" }

// leave: the last member out closes the subscription, the watches and the timer.
func (h *hub) leave(f *follower, report func(string, bool)) {
	h.mu.Lock()
	fs := *h.followers.Load()
	nf := make([]*follower, 0, len(fs))
	for _, x := range fs {
		if x != f {
			nf = append(nf, x)
		}
	}
	h.followers.Store(&nf)
	h.mu.Unlock()
	hubs.Lock()
	h.members--
	last := h.members == 0
	if last {
		delete(hubs.m, h.key)
	}
	hubs.Unlock()
	if last {
		if h.sub != nil {
			_ = h.sub.Unsubscribe()
		}
		h.cancel()
		h.done.Wait()
	}
}

func (h *hub) add(f *follower, report func(string, bool)) {
	h.mu.Lock()
	fs := append(append([]*follower{}, *h.followers.Load()...), f)
	h.followers.Store(&fs)
	rs := append(append([]func(string, bool){}, *h.reporters.Load()...), report)
	h.reporters.Store(&rs)
	h.mu.Unlock()
}

// reportAll shows a problem in every member's health; only the first logs it.
func (h *hub) reportAll(msg string) {
	for i, r := range *h.reporters.Load() {
		r(msg, i == 0)
	}
}

// onMsg: one frame off the bus. Nothing in it can panic the client.
func (h *hub) onMsg(m *nats.Msg) {
	receivedAt := h.now()
	defer func() {
		if r := recover(); r != nil {
			h.reportAll(fmt.Sprintf("frame check failed, frame dropped: %v", r))
		}
	}()
	var term string
	has := false
	if m.Header != nil {
		if v, ok := m.Header[TermHeader]; ok && len(v) > 0 {
			term, has = v[0], true
		}
	}
	h.deliverMu.Lock()
	defer h.deliverMu.Unlock()
	h.mu.Lock()
	vs := h.gate.offer(m.Data, term, has, receivedAt)
	h.mu.Unlock()
	h.deliver(vs)
}

// deliver hands verdicts to every follower (deliverMu held) and publishes a changed map.
func (h *hub) deliver(vs []verdict) {
	h.mu.Lock()
	m := h.gate.m
	off := h.gate.offset
	_, holding := h.gate.heldUntil()
	h.mu.Unlock()
	h.offset.Store(&off)
	changed := h.mapPtr.Swap(m) != m
	fs := *h.followers.Load()
	for _, v := range vs {
		for i, f := range fs {
			if v.accepted {
				f.accept(v)
			} else {
				f.drop(v.reason, v.detail, i == 0)
			}
		}
	}
	if changed {
		for _, f := range fs {
			f.mapChanged()
		}
	}
	if holding {
		h.rearm()
	}
}

func (h *hub) tempoMap() *TempoMap { return h.mapPtr.Load() }

func (h *hub) clockOffset() (float64, int, bool) {
	o := h.offset.Load()
	if o == nil || !o.has {
		return 0, 0, false
	}
	return o.min, len(o.samples), true
}

// frameFor is the slot's frame (without HLC), built once per slot for every client of the hub.
func (h *hub) frameFor(m *TempoMap, pos BeatPosition) BeatFrame {
	h.frameMu.Lock()
	defer h.frameMu.Unlock()
	lf := &h.lastFrame
	if lf.m != m || compareSlots(lf.pos, pos) != 0 {
		lf.m, lf.pos, lf.frame = m, pos, buildFrame(h.key.cluster, m, pos, "")
	}
	fr := lf.frame
	fr.Phases = append([]string(nil), fr.Phases...)
	return fr
}
