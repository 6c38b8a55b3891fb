package sdk

// The INT-B StatusClaim and its checks (docs/spec.md §4 The three messages): the type, the
// nine states and the seed's aliases, the agent id rule and the schema's field rules.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"
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

var agentIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+:[A-Za-z0-9._-]+$`)

// CheckAgentID checks an agent id against INT-B: service:instance or agent:identifier.
func CheckAgentID(id string) error {
	if !agentIDPattern.MatchString(id) || utf8.RuneCountInString(id) > 128 {
		return &ConfigError{Field: "AgentID", Rule: fmt.Sprintf("'%s' is not a valid agent id: two tokens of letters, "+
			"digits, . _ or - joined by one colon (service:instance or agent:identifier), at most 128 characters",
			clip(id, 140))}
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

func newTaskID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "task:" + hex.EncodeToString(b[:])
}
