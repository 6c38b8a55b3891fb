package sdk

import (
	"errors"
	"fmt"
)

// ConfigError is a bad option or argument: Field names it (as in Config), Rule says what it must be.
type ConfigError struct {
	Field string
	Rule  string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("backbeat: %s: %s", e.Field, e.Rule) }

var (
	// ErrNoBeat: no beat is known yet (no frame arrived and no tempo map was read).
	ErrNoBeat = errors.New("backbeat: no beat is known yet (no frame and no tempo map)")
	// ErrClientStopped: the client is not started, or was stopped.
	ErrClientStopped = errors.New("backbeat: the client is not started or was stopped")
	// ErrClaimQueueFull: too many claims wait for the connection (Config.MaxQueuedClaims).
	ErrClaimQueueFull = errors.New("backbeat: status claim dropped: the queue of claims waiting for the connection is full")
	// ErrBeatBudgetExceeded matches every *BeatBudgetExceededError (errors.Is).
	ErrBeatBudgetExceeded = errors.New("backbeat: beat budget exceeded")
)

// BeatBudgetExceededError: work bounded by WithBeatBudget was still running when beat
// StartBeat+Beats started (BACKBEAT-REQ-042). errors.Is(err, ErrBeatBudgetExceeded) is true.
type BeatBudgetExceededError struct {
	Beats        int
	StartBeat    int64
	DeadlineBeat int64
}

func (e *BeatBudgetExceededError) Error() string {
	return fmt.Sprintf("backbeat: beat budget of %d beats exceeded: beat %d started", e.Beats, e.DeadlineBeat)
}

// Is makes errors.Is(err, ErrBeatBudgetExceeded) true.
func (e *BeatBudgetExceededError) Is(target error) bool { return target == ErrBeatBudgetExceeded }

// ClaimInvalidError: a status claim breaks the INT-B contract; Field and Rule say how.
type ClaimInvalidError struct {
	Field string
	Rule  string
}

func (e *ClaimInvalidError) Error() string {
	return fmt.Sprintf("backbeat: invalid status claim: %s: %s", e.Field, e.Rule)
}

// MaxClaimBytes is the largest claim payload reverb and the claim stream take (64 KiB), as in
// the TypeScript SDK.
const MaxClaimBytes = 64 * 1024

// ClaimTooLargeError: a claim's payload is over MaxClaimBytes; it is refused before sending.
type ClaimTooLargeError struct {
	Bytes int
}

func (e *ClaimTooLargeError) Error() string {
	return fmt.Sprintf("backbeat: status claim refused: its payload is %d bytes, more than %d", e.Bytes, MaxClaimBytes)
}

// ClaimRejectedError: a claim failed for good after bounded retries (no stream captures
// the subject, or permission was denied); it is not retried further.
type ClaimRejectedError struct {
	Subject  string
	Cause    string // no_stream, permission
	Attempts int
	Err      error
}

func (e *ClaimRejectedError) Error() string {
	return fmt.Sprintf("backbeat: status claim on '%s' rejected after %d attempts (%s): %v", e.Subject, e.Attempts, e.Cause, e.Err)
}

func (e *ClaimRejectedError) Unwrap() error { return e.Err }
