package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
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
	kvRetry      = 5 * time.Second
	refreshEvery = 200 * time.Millisecond
	minAheadMs   = 2
	spinWindow   = 1200 * time.Microsecond // the timer wakes this early, then yields until the instant
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
		h = &hub{key: key, now: now, wake: make(chan struct{}, 1), lastRefresh: map[string]time.Time{}, kv: map[string]jetstream.KeyValue{}}
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

func (h *hub) rearm() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// timerLoop wakes at the earliest instant any follower (or a held frame) waits for: one
// wake-up per slot for every client of the hub. It sleeps to ~1 ms before the instant, then
// yields until it (Go timers can be a millisecond late).
func (h *hub) timerLoop() {
	defer h.done.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := math.Inf(1)
		for _, f := range *h.followers.Load() {
			if d := f.dueAt(); d < next {
				next = d
			}
		}
		h.mu.Lock()
		hu, holding := h.gate.heldUntil()
		h.mu.Unlock()
		if holding && hu < next {
			next = hu
		}
		wait := time.Hour
		if !math.IsInf(next, 1) {
			wait = time.Duration((next-h.now())*1e6) - spinWindow
		}
		if wait > 0 {
			t.Reset(wait)
			select {
			case <-h.ctx.Done():
				return
			case <-h.wake:
				if !t.Stop() {
					<-t.C
				}
				continue
			case <-t.C:
			}
		}
		for h.now() < next {
			select {
			case <-h.ctx.Done():
				return
			default:
			}
			runtime.Gosched()
		}
		now := h.now()
		if holding && hu <= now {
			h.deliverMu.Lock()
			h.mu.Lock()
			var vs []verdict
			if u, ok := h.gate.heldUntil(); ok && u <= now {
				vs = h.gate.expireHeld()
			}
			h.mu.Unlock()
			h.deliver(vs)
			h.deliverMu.Unlock()
		}
		for _, f := range *h.followers.Load() {
			if f.dueAt() <= now {
				f.onDue(now)
			}
		}
	}
}

// askRefresh: the gate holds a frame and asks for the lease or the map again (at most every 200 ms).
func (h *hub) askRefresh(what string) {
	if time.Since(h.lastRefresh[what]) < refreshEvery {
		return
	}
	h.lastRefresh[what] = time.Now()
	kv := h.kv[what]
	if kv == nil {
		return
	}
	key := "leader"
	if what == "map" {
		key = "tempo-map"
	}
	go func() {
		ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
		defer cancel()
		e, err := kv.Get(ctx, key)
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			if h.ctx.Err() == nil {
				h.reportAll(fmt.Sprintf("re-reading the %s failed: %v", what, err))
			}
			return
		}
		var val []byte
		if e != nil {
			val = e.Value()
		}
		if what == "lease" {
			h.onLease(val, e != nil)
		} else if e != nil {
			h.onMap(val)
		}
	}()
}

func (h *hub) apply(fn func() []verdict) {
	h.deliverMu.Lock()
	defer h.deliverMu.Unlock()
	h.mu.Lock()
	vs := fn()
	h.mu.Unlock()
	h.deliver(vs)
}

func (h *hub) onMap(val []byte) {
	m, err := ParseTempoMap(val)
	if err != nil {
		h.reportAll("tempo map in KV refused, the last good one stays: " + err.Error())
		return
	}
	h.apply(func() []verdict { return h.gate.setMap(m) })
}

func (h *hub) onLease(val []byte, present bool) {
	if !present {
		h.apply(func() []verdict {
			return h.gate.setLease(LeaseInfo{State: LeaseAbsent, Reason: "no node holds the lease"})
		})
		return
	}
	r, err := decodeLease(val)
	if err != nil {
		h.reportAll("lease value refused: " + err.Error())
		h.apply(func() []verdict {
			if h.leaseGood { // a record without a term can be a pulse mid-write: keep the last good lease
				return nil
			}
			return h.gate.setLease(LeaseInfo{State: LeaseUnreadable, Reason: err.Error()})
		})
		return
	}
	h.apply(func() []verdict {
		h.leaseGood = true
		return h.gate.setLease(LeaseInfo{State: LeaseHeld, Term: r.Term, Leader: r.NodeID})
	})
}

type leaseRecord struct {
	NodeID string
	Term   int64
}

// decodeLease checks a lease record (docs/spec.md §7 Election, terms and fencing): a JSON
// object with node_id (1 to 256 characters), an integer term >= 1 and a string acquired_at.
func decodeLease(val []byte) (leaseRecord, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(val, &raw); err != nil || raw == nil {
		return leaseRecord{}, errors.New("lease value must be a JSON object")
	}
	var r leaseRecord
	if err := json.Unmarshal(raw["node_id"], &r.NodeID); err != nil || len([]rune(r.NodeID)) == 0 || len([]rune(r.NodeID)) > 256 {
		return r, errors.New("lease node_id must be a string of 1 to 256 characters")
	}
	var term json.Number
	if err := json.Unmarshal(raw["term"], &term); err != nil {
		return r, errors.New("lease term must be an integer >= 1")
	}
	n := term
	t, ok := safeInt(&n)
	if !ok || t < 1 {
		return r, errors.New("lease term must be an integer >= 1")
	}
	r.Term = t
	var at string
	if err := json.Unmarshal(raw["acquired_at"], &at); err != nil || string(raw["acquired_at"]) == "null" {
		return r, errors.New("lease acquired_at must be a string")
	}
	return r, nil
}

// watch follows one key of a bucket, read-only (agents never create JetStream state); a
// missing or unreadable bucket is reported and tried again every 5 s.
func (h *hub) watch(bucket, key string, ready chan<- struct{}) {
	defer h.done.Done()
	what := "map"
	if key == "leader" {
		what = "lease"
	}
	signalled := false
	signal := func() {
		if !signalled {
			signalled = true
			ready <- struct{}{}
		}
	}
	defer signal()
	for h.ctx.Err() == nil {
		err := h.watchOnce(bucket, key, what, signal)
		if h.ctx.Err() != nil {
			return
		}
		if err != nil {
			if what == "lease" {
				if errors.Is(err, jetstream.ErrBucketNotFound) {
					h.apply(func() []verdict {
						return h.gate.setLease(LeaseInfo{State: LeaseAbsent, Reason: "no lease bucket (a single-node pulse): terms are not fenced"})
					})
				} else {
					h.reportAll(fmt.Sprintf("lease not readable (%v): terms are not fenced, frames are checked against the grid only; retrying", err))
					h.apply(func() []verdict {
						if h.leaseGood {
							return nil
						}
						return h.gate.setLease(LeaseInfo{State: LeaseUnreadable, Reason: err.Error()})
					})
				}
			} else {
				why := err.Error()
				if errors.Is(err, jetstream.ErrBucketNotFound) {
					why = "no state bucket yet (no pulse started)"
				}
				h.reportAll(fmt.Sprintf("tempo map not readable (%s): the grid is learned from frames; retrying", why))
			}
		}
		signal()
		select {
		case <-h.ctx.Done():
			return
		case <-time.After(kvRetry):
		}
	}
}

func (h *hub) watchOnce(bucket, key, what string, initialDone func()) error {
	ctx, cancel := context.WithTimeout(h.ctx, readyTimeout)
	kv, err := h.js.KeyValue(ctx, bucket)
	cancel()
	if err != nil {
		return err
	}
	w, err := kv.Watch(h.ctx, key)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	h.mu.Lock()
	h.kv[what] = kv
	h.mu.Unlock()
	initial := true
	sawValue := false
	for {
		select {
		case <-h.ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch ended")
			}
			if e == nil { // the end of the initial values
				if initial && !sawValue && what == "lease" {
					h.onLease(nil, false)
				}
				initial = false
				initialDone()
				continue
			}
			sawValue = true
			put := e.Operation() == jetstream.KeyValuePut
			if what == "lease" {
				h.onLease(e.Value(), put)
			} else if put {
				h.onMap(e.Value())
			}
		}
	}
}
