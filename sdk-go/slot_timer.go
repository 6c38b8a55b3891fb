package sdk

import (
	"math"
	"runtime"
	"time"
)

// The hub's one timer (docs/spec.md §8 Degradation and grid timing): it wakes at the earliest
// instant any follower, or a frame held by the gate, waits for, and hands the instant over.

// spinWindow: the timer wakes this early, then yields until the instant.
const spinWindow = 1200 * time.Microsecond

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
