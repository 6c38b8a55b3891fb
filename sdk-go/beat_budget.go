package sdk

// Beat budgets (BACKBEAT-REQ-042): a function bounded by a number of beats on the grid.

import (
	"context"
	"fmt"
	"math"
	"time"
)

// WithBeatBudget: see Client.
func (c *client) WithBeatBudget(n int, fn func() error) error {
	if fn == nil {
		return &ConfigError{Field: "fn", Rule: "must not be nil"}
	}
	return c.WithBeatBudgetContext(context.Background(), n, func(context.Context) error { return fn() })
}

// WithBeatBudgetContext: the deadline is a beat, not a duration: a tempo change during the
// budget moves it (BACKBEAT-REQ-042).
func (c *client) WithBeatBudgetContext(ctx context.Context, n int, fn func(context.Context) error) error {
	if n < 1 {
		return &ConfigError{Field: "n", Rule: fmt.Sprintf("beat budget must be a whole number >= 1, got %d", n)}
	}
	if fn == nil {
		return &ConfigError{Field: "fn", Rule: "must not be nil"}
	}
	start := c.GetCurrentBeat()
	if start < 0 || c.map_() == nil {
		return ErrNoBeat
	}
	budgetErr := &BeatBudgetExceededError{Beats: n, StartBeat: start, DeadlineBeat: start + int64(n)}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("backbeat: function under a beat budget panicked: %v", r)
			}
		}()
		done <- fn(wctx)
	}()
	for {
		m := c.map_()
		wait := time.Second // re-read the map at least every second: a tempo change moves the deadline
		if m != nil {
			at := m.TimeOf(budgetErr.DeadlineBeat, 0)
			left := at - c.clock()
			if left <= 0 {
				cancel(budgetErr)
				return budgetErr
			}
			wait = min(wait, time.Duration(math.Ceil(left*1e6)))
		}
		t := time.NewTimer(wait)
		select {
		case err := <-done:
			t.Stop()
			return err
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}
