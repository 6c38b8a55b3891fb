package sdk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Claim sending (BACKBEAT-REQ-041; docs/spec.md §10 Security and §12 Known pitfalls):
// JetStream publish with acknowledgement and a Nats-Msg-Id (a retry is stored once), in
// order, with a bounded queue while disconnected. Transient failures (disconnected, timeout)
// are retried without limit with backoff; permanent ones (no stream, permission denied) are
// retried permanentAttempts times, then that claim fails and the queue moves on. "No
// responders" counts as "no stream" only once it has lasted NoStreamGrace (a stream electing
// a leader answers the same for seconds).

const (
	permanentAttempts = 3
	firstBackoff      = 100 * time.Millisecond
	maxBackoff        = 5 * time.Second
	ackTimeout        = 5 * time.Second
)

// newMsgID is a random 128-bit id (hex) for Nats-Msg-Id, kept through a claim's retries.
func newMsgID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type outgoing struct {
	msg        *nats.Msg
	msgID      string
	claim      StatusClaim
	attempts   int
	permanent  int
	noRespSinc time.Time
	done       chan error // buffered 1
}

type claimSender struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	met     *metrics
	max     int
	grace   time.Duration
	onError func(string, bool)

	mu        sync.Mutex
	queue     []*outgoing
	closed    bool
	wake      chan struct{}
	stopped   chan struct{}
	permDenAt time.Time // last permission violation seen for the status subject
	subject   string
}

func newClaimSender(nc *nats.Conn, js jetstream.JetStream, subject string, met *metrics, maxQueued int,
	grace time.Duration, onError func(string, bool)) *claimSender {
	s := &claimSender{nc: nc, js: js, subject: subject, met: met, max: maxQueued, grace: grace, onError: onError,
		wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go s.loop()
	return s
}

func (s *claimSender) send(o *outgoing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClientStopped
	}
	if len(s.queue) >= s.max {
		s.met.failed("queue_full")
		return ErrClaimQueueFull
	}
	s.queue = append(s.queue, o)
	s.met.queued(len(s.queue))
	s.poke()
	return nil
}

func (s *claimSender) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *claimSender) permissionDenied(subject string) {
	if subject == s.subject {
		s.mu.Lock()
		s.permDenAt = time.Now()
		s.mu.Unlock()
	}
}

func (s *claimSender) head() *outgoing {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.queue) == 0 {
		return nil
	}
	return s.queue[0]
}

func (s *claimSender) shift(o *outgoing, err error) {
	s.mu.Lock()
	if len(s.queue) > 0 && s.queue[0] == o {
		s.queue = s.queue[1:]
	}
	s.met.queued(len(s.queue))
	s.mu.Unlock()
	o.finish(err)
}

// finish reports a claim's outcome once (a claim acknowledged while the client stops keeps its nil).
func (o *outgoing) finish(err error) {
	select {
	case o.done <- err:
	default:
	}
}

func (s *claimSender) loop() {
	defer close(s.stopped)
	for {
		o := s.head()
		if o == nil || !s.nc.IsConnected() {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			select {
			case <-s.wake:
			case <-time.After(time.Second):
			}
			continue
		}
		o.attempts++
		started := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
		_, err := s.js.PublishMsg(ctx, o.msg, jetstream.WithMsgID(o.msgID))
		cancel()
		if err == nil {
			s.met.emitted()
			s.shift(o, nil)
			continue
		}
		s.mu.Lock()
		closed := s.closed
		denied := !s.permDenAt.Before(started)
		s.mu.Unlock()
		if closed {
			return
		}
		cause := ""
		if s.nc.IsConnected() {
			switch {
			case denied || strings.Contains(strings.ToLower(err.Error()), "permission"):
				cause = "permission"
			case errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
				errors.Is(err, jetstream.ErrStreamNotFound):
				cause = "no_stream"
			}
		}
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
			if o.noRespSinc.IsZero() {
				o.noRespSinc = time.Now()
			}
		} else {
			o.noRespSinc = time.Time{}
		}
		settled := o.noRespSinc.IsZero() || time.Since(o.noRespSinc) >= s.grace
		if cause != "" {
			o.permanent++
		}
		if cause != "" && o.permanent >= permanentAttempts && settled {
			s.met.failed(cause)
			rej := &ClaimRejectedError{Subject: o.msg.Subject, Cause: cause, Attempts: o.permanent, Err: err}
			s.onError(rej.Error(), true)
			s.shift(o, rej)
			continue
		}
		wait := min(maxBackoff, firstBackoff*time.Duration(1<<min(o.attempts-1, 10)))
		select {
		case <-s.wake:
		case <-time.After(wait):
		}
	}
}

// close waits up to timeout for the queue to empty, then fails what is left.
func (s *claimSender) close(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && s.nc.IsConnected() {
		s.mu.Lock()
		n := len(s.queue)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	s.closed = true
	left := s.queue
	s.queue = nil
	s.met.queued(0)
	s.mu.Unlock()
	s.poke()
	<-s.stopped
	for _, o := range left {
		s.met.failed("stopped")
		o.finish(ErrClientStopped)
	}
}
