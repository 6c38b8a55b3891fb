package sdk

// Emitting a StatusClaim (BACKBEAT-REQ-041; docs/spec.md §4 The three messages, §10 Security):
// fill the seed's fields, map aliases, validate, sign and hand it to the claim sender.

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
)

// canonicalState maps the seed's aliases onto INT-B states, warning once per alias.
func (c *client) canonicalState(s string) string {
	a, ok := StateAliases[s]
	if !ok {
		return s
	}
	if _, seen := c.warned.LoadOrStore(s, true); !seen {
		c.log.Warn(fmt.Sprintf("backbeat: status state '%s' is deprecated: use '%s'", s, a))
	}
	return a
}

func (c *client) prepare(claim StatusClaim) (*outgoing, error) {
	if c.cfgErr != nil {
		return nil, c.cfgErr
	}
	c.mu.Lock()
	running := c.state == "running"
	sender := c.claims
	c.mu.Unlock()
	if !running {
		return nil, ErrClientStopped
	}
	beat := claim.BeatIndex
	if beat == 0 {
		beat = c.GetCurrentBeat()
	}
	if beat < 0 {
		return nil, ErrNoBeat
	}
	claim.Type = StatusClaimType
	claim.AgentID = c.cfg.AgentID
	claim.BeatIndex = beat
	claim.HLC = c.hlc.Now()
	claim.State = c.canonicalState(claim.State)
	if claim.TaskID == "" {
		claim.TaskID = newTaskID()
	}
	if err := ValidateStatusClaim(claim); err != nil {
		c.met.failed("invalid")
		return nil, err
	}
	payload, err := ClaimPayload(claim)
	if err != nil {
		c.met.failed("invalid")
		return nil, err
	}
	if len(payload) > MaxClaimBytes {
		c.met.failed("too_large")
		return nil, &ClaimTooLargeError{Bytes: len(payload)}
	}
	bar := DefaultBarLength
	if m := c.hub.tempoMap(); m != nil {
		bar = m.BarLength
	}
	msg := nats.NewMsg("backbeat." + c.cfg.ClusterID + ".status")
	msg.Data = payload
	msg.Header.Set("x-agent-id", claim.AgentID)
	msg.Header.Set("x-window-id", WindowIDForBeat(c.cfg.ClusterID, beat, bar))
	msg.Header.Set("x-hlc", claim.HLC)
	if c.cfg.SigningKey != nil {
		msg.Header.Set("x-signature", SignPayload(c.cfg.SigningKey, payload))
	}
	o := &outgoing{msg: msg, msgID: newMsgID(), claim: claim, done: make(chan error, 1)}
	if err := sender.send(o); err != nil {
		return nil, err
	}
	return o, nil
}

func (c *client) EmitStatusClaim(claim StatusClaim) error {
	_, err := c.prepare(claim)
	return err
}

func (c *client) EmitStatusClaimWait(ctx context.Context, claim StatusClaim) (StatusClaim, error) {
	o, err := c.prepare(claim)
	if err != nil {
		return StatusClaim{}, err
	}
	select {
	case err := <-o.done:
		return o.claim, err
	case <-ctx.Done():
		return o.claim, ctx.Err()
	}
}
