// task_processor: beat budgets (BACKBEAT-REQ-042). Every bar it starts a task with a budget
// of --budget beats; a task that needs more is cancelled when its last beat ends. It reports
// planning, executing, then completed or failed.
//
//	go run ./examples/task_processor --nats nats://127.0.0.1:4222 --cluster chorus-dev
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	sdk "github.com/backbeat/backbeat/sdk-go"
	"github.com/backbeat/backbeat/sdk-go/examples/internal/flags"
)

var budget = flag.Int("budget", 2, "beats each task may take")

func main() {
	f := flags.Parse("agent:tasks-1")
	client := f.NewClient()
	ctx, cancel := f.Context()
	defer cancel()
	var wg sync.WaitGroup
	task := 0
	_ = client.OnDownbeat(func(beat sdk.BeatFrame) {
		task++
		n := task
		// Odd tasks need 1 beat, even ones 4: with a budget of 2, the even ones run out.
		need := time.Duration(60000/beat.TempoBPM) * time.Millisecond
		if n%2 == 0 {
			need *= 4
		}
		wg.Add(1)
		go func() { // callbacks must return quickly: the task runs on its own goroutine
			defer wg.Done()
			id := fmt.Sprintf("task:%d", n)
			_ = client.EmitStatusClaim(sdk.StatusClaim{TaskID: id, State: "planning", BeatsLeft: *budget})
			err := client.WithBeatBudgetContext(ctx, *budget, func(ctx context.Context) error {
				_ = client.EmitStatusClaim(sdk.StatusClaim{TaskID: id, State: "executing", Progress: 0.1})
				select {
				case <-time.After(need):
					return nil
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			})
			switch {
			case err == nil:
				fmt.Printf("%s completed within %d beats\n", id, *budget)
				_ = client.EmitStatusClaim(sdk.StatusClaim{TaskID: id, State: "completed", Progress: 1})
			case errors.Is(err, sdk.ErrBeatBudgetExceeded):
				fmt.Printf("%s exceeded its budget: %v\n", id, err)
				_ = client.EmitStatusClaim(sdk.StatusClaim{TaskID: id, State: "failed", Notes: err.Error()})
			default:
				fmt.Printf("%s stopped: %v\n", id, err)
			}
		}()
	})
	if err := client.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	<-ctx.Done()
	wg.Wait()
	_ = client.Stop()
}
