package sdk

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StatusClaimType is the INT-B type constant.
const StatusClaimType = "backbeat.statusclaim.v1"

// StatusClaim is an INT-B StatusClaim (docs/spec.md §4 The three messages). Type, AgentID,
// BeatIndex and HLC are filled by the SDK; TaskID is generated when empty. Progress,
// BeatsLeft and Notes are sent when not zero (the contract has them optional).
// Fields are in the order both SDKs serialise them.
type StatusClaim struct {
	Type      string   `json:"type"`
	AgentID   string   `json:"agent_id"`
	TaskID    string   `json:"task_id,omitempty"`
	BeatIndex int64    `json:"beat_index"`
	State     string   `json:"state"` // one of ClaimStates; "review" and "done" are aliases
	HLC       string   `json:"hlc"`
	Progress  float64  `json:"progress,omitempty"`
	BeatsLeft int      `json:"beats_left,omitempty"`
	Notes     string   `json:"notes,omitempty"`
	WaitFor   []string `json:"wait_for,omitempty"`
}

// ClaimStates are the nine INT-B states.
var ClaimStates = []string{"idle", "planning", "executing", "waiting", "reviewing", "completed", "failed", "blocked", "helping"}

// StateAliases are the SDK seed's names, accepted with a one-time warning and never sent.
var StateAliases = map[string]string{"review": "reviewing", "done": "completed"}

var agentIDPattern = regexpMust(`^[A-Za-z0-9._-]+:[A-Za-z0-9._-]+$`)

// CheckAgentID checks an agent id against INT-B: service:instance or agent:identifier.
func CheckAgentID(id string) error {
	if !agentIDPattern.MatchString(id) || utf8.RuneCountInString(id) > 128 {
		return &ConfigError{Field: "AgentID", Rule: fmt.Sprintf("'%s' is not a valid agent id: two tokens of letters, digits, . _ or - "+
			"joined by one colon (service:instance or agent:identifier), at most 128 characters", clip(id, 140))}
	}
	return nil
}

// ValidateStatusClaim checks a claim against the INT-B schema's rules (the state must be
// canonical: aliases are mapped before). The error names the field and the rule.
func ValidateStatusClaim(c StatusClaim) error {
	bad := func(field, rule string) error { return &ClaimInvalidError{Field: field, Rule: rule} }
	if c.Type != StatusClaimType {
		return bad("type", "must be equal to constant '"+StatusClaimType+"'")
	}
	if !agentIDPattern.MatchString(c.AgentID) || utf8.RuneCountInString(c.AgentID) > 128 {
		return bad("agent_id", "must match pattern ^[A-Za-z0-9._-]+:[A-Za-z0-9._-]+$ (at most 128 characters)")
	}
	if c.BeatIndex < 0 || c.BeatIndex > maxSafeInteger {
		return bad("beat_index", "must be an integer from 0 to 2^53 - 1")
	}
	if indexIn(ClaimStates, c.State) < 0 {
		return bad("state", "must be one of "+strings.Join(ClaimStates, ", "))
	}
	if !hlcPattern.MatchString(c.HLC) {
		return bad("hlc", "must match pattern ^[0-9a-f]{4,16}:[0-9a-f]{4,16}:[0-9a-f]{4,16}$")
	}
	if c.TaskID != "" && utf8.RuneCountInString(c.TaskID) > 128 {
		return bad("task_id", "must have 1 to 128 characters")
	}
	if math.IsNaN(c.Progress) || c.Progress < 0 || c.Progress > 1 {
		return bad("progress", "must be a number from 0 to 1")
	}
	if c.BeatsLeft < 0 {
		return bad("beats_left", "must be an integer >= 0")
	}
	if utf8.RuneCountInString(c.Notes) > 1024 {
		return bad("notes", "must have at most 1024 characters")
	}
	if len(c.WaitFor) > 64 {
		return bad("wait_for", "must have at most 64 items")
	}
	for i, w := range c.WaitFor {
		if n := utf8.RuneCountInString(w); n < 1 || n > 512 {
			return bad(fmt.Sprintf("wait_for[%d]", i), "must have 1 to 512 characters")
		}
	}
	for _, s := range append([]string{c.TaskID, c.Notes}, c.WaitFor...) {
		if !utf8.ValidString(s) {
			return bad("text", "must be valid UTF-8")
		}
	}
	return nil
}

// ClaimPayload is the exact bytes a claim is sent (and signed) as: JSON with the fields in
// the order above, no HTML escaping, as JavaScript's JSON.stringify writes them
// (docs/spec.md §10 Security: the signature covers these bytes).
func ClaimPayload(c StatusClaim) ([]byte, error) {
	var b bytes.Buffer
	str := func(s string) {
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		b.Truncate(b.Len() - 1) // the encoder's newline
	}
	b.WriteString(`{"type":`)
	str(c.Type)
	b.WriteString(`,"agent_id":`)
	str(c.AgentID)
	if c.TaskID != "" {
		b.WriteString(`,"task_id":`)
		str(c.TaskID)
	}
	b.WriteString(`,"beat_index":` + strconv.FormatInt(c.BeatIndex, 10) + `,"state":`)
	str(c.State)
	b.WriteString(`,"hlc":`)
	str(c.HLC)
	if c.Progress != 0 {
		p, err := json.Marshal(c.Progress)
		if err != nil {
			return nil, &ClaimInvalidError{Field: "progress", Rule: "must be a number from 0 to 1"}
		}
		b.WriteString(`,"progress":`)
		b.Write(p)
	}
	if c.BeatsLeft != 0 {
		b.WriteString(`,"beats_left":` + strconv.Itoa(c.BeatsLeft))
	}
	if c.Notes != "" {
		b.WriteString(`,"notes":`)
		str(c.Notes)
	}
	if len(c.WaitFor) > 0 {
		b.WriteString(`,"wait_for":[`)
		for i, w := range c.WaitFor {
			if i > 0 {
				b.WriteByte(',')
			}
			str(w)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// SignPayload signs payload bytes with Ed25519 (pure, no pre-hash) and returns the 64-byte
// signature as standard padded base64, the x-signature header (docs/spec.md §10 Security).
func SignPayload(key ed25519.PrivateKey, payload []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(key, payload))
}

// PublicKeyBase64 is the raw 32-byte public key of key, base64: the trust file's format.
func PublicKeyBase64(key ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
}

// newMsgID is a random 128-bit id (hex) for Nats-Msg-Id, kept through a claim's retries.
func newMsgID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newTaskID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "task:" + hex.EncodeToString(b[:])
}

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

func newClaimSender(nc *nats.Conn, js jetstream.JetStream, subject string, met *metrics, maxQueued int, grace time.Duration,
	onError func(string, bool)) *claimSender {
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
			case errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrStreamNotFound):
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
