package sdk

import (
	"context"
	"errors"
	"testing"
	"time"
)

// WithBeatBudget against a real nats-server and the real backbeat pulse (the built CLI).

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
