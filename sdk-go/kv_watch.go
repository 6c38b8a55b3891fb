package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The hub's read-only view of KV (docs/spec.md §3 Subjects and shared state, §7 Election, terms
// and fencing): it watches the lease and the tempo map, re-reads one when the gate asks, and
// hands what it reads to the frame gate.

const (
	kvRetry      = 5 * time.Second
	refreshEvery = 200 * time.Millisecond
)

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
			h.watchFailed(what, err)
		}
		signal()
		select {
		case <-h.ctx.Done():
			return
		case <-time.After(kvRetry):
		}
	}
}

// watchFailed: a bucket that cannot be watched. No lease bucket is a single-node pulse (terms
// not fenced); an unreadable one keeps the last good lease; no tempo map: learn it from frames.
func (h *hub) watchFailed(what string, err error) {
	if what != "lease" {
		why := err.Error()
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			why = "no state bucket yet (no pulse started)"
		}
		h.reportAll(fmt.Sprintf("tempo map not readable (%s): the grid is learned from frames; retrying", why))
		return
	}
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		h.apply(func() []verdict {
			return h.gate.setLease(LeaseInfo{State: LeaseAbsent,
				Reason: "no lease bucket (a single-node pulse): terms are not fenced"})
		})
		return
	}
	h.reportAll(fmt.Sprintf("lease not readable (%v): terms are not fenced, frames are checked against the grid "+
		"only; retrying", err))
	h.apply(func() []verdict {
		if h.leaseGood {
			return nil
		}
		return h.gate.setLease(LeaseInfo{State: LeaseUnreadable, Reason: err.Error()})
	})
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
