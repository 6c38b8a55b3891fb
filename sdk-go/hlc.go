package sdk

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// hlcPattern is the wire form (docs/spec.md §6 Hybrid logical clock).
var hlcPattern = regexp.MustCompile(`^[0-9a-f]{4,16}:[0-9a-f]{4,16}:[0-9a-f]{4,16}$`)

var hexNode = regexp.MustCompile(`^[0-9a-fA-F]{4,16}$`)

// HLCTimestamp is one hybrid logical clock reading.
type HLCTimestamp struct {
	Physical int64 // ms since the epoch
	Logical  int64
	Node     string // lower-case hex, as parsed
}

// String is the wire form: three lower-case hex groups, each padded to 4 digits.
func (t HLCTimestamp) String() string {
	return fmt.Sprintf("%04x:%04x:%s", t.Physical, t.Logical, leftPad(t.Node, 4))
}

func leftPad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat("0", n-len(s)) + s
}

// ParseHLC parses the wire form; an error says what is wrong.
func ParseHLC(s string) (HLCTimestamp, error) {
	if !hlcPattern.MatchString(s) {
		return HLCTimestamp{}, fmt.Errorf("hlc: '%s' is not an HLC: expected three lower-case hex groups of 4 to 16 digits joined by ':'", clip(s, 40))
	}
	g := strings.Split(s, ":")
	p, err1 := strconv.ParseUint(g[0], 16, 64)
	l, err2 := strconv.ParseUint(g[1], 16, 64)
	if err1 != nil || err2 != nil || p > maxSafeInteger || l > maxSafeInteger {
		return HLCTimestamp{}, fmt.Errorf("hlc: '%s' has a physical or logical part beyond 2^53 - 1", s)
	}
	return HLCTimestamp{Physical: int64(p), Logical: int64(l), Node: g[2]}, nil
}

// HLCNodeSuffix is the node group for a node id: the id itself, lower-cased, when it is 4 to
// 16 hex digits, else the first 8 hex digits of its SHA-256 (the same rule as the TypeScript core).
func HLCNodeSuffix(nodeID string) string {
	if hexNode.MatchString(nodeID) {
		return strings.ToLower(nodeID)
	}
	sum := sha256.Sum256([]byte(nodeID))
	return hex.EncodeToString(sum[:4])
}

// hlc is a hybrid logical clock (Kulkarni et al.); readings only grow.
type hlc struct {
	mu       sync.Mutex
	node     string
	wall     func() int64 // ms since the epoch
	physical int64
	logical  int64
	maxSkew  int64 // a remote clock further ahead is not adopted, ms
	rejected int64
}

func newHLC(nodeID string, wall func() int64) *hlc {
	return &hlc{node: HLCNodeSuffix(nodeID), wall: wall, maxSkew: 5000}
}

func (h *hlc) tick() {
	w := h.wall()
	if w > h.physical {
		h.physical, h.logical = w, 0
	} else {
		h.set(h.physical, h.logical+1)
	}
}

func (h *hlc) set(p, l int64) {
	if l > maxSafeInteger {
		p, l = p+1, 0
	}
	h.physical, h.logical = p, l
}

// Now returns a new reading in the wire form, later than every earlier one.
func (h *hlc) Now() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tick()
	return HLCTimestamp{Physical: h.physical, Logical: h.logical, Node: h.node}.String()
}

// Update merges a remote reading (a receive event) and returns the remote minus local wall
// skew in ms; a remote clock more than 5 s ahead is counted and not adopted.
func (h *hlc) Update(remote string) (skewMs int64, err error) {
	r, err := ParseHLC(remote)
	if err != nil {
		return 0, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.wall()
	skew := r.Physical - w
	if r.Physical > h.physical && skew > h.maxSkew {
		h.rejected++
		h.tick()
		return skew, nil
	}
	p := max(h.physical, r.Physical, w)
	var l int64
	switch {
	case p == h.physical && p == r.Physical:
		l = max(h.logical, r.Logical) + 1
	case p == h.physical:
		l = h.logical + 1
	case p == r.Physical:
		l = r.Logical + 1
	}
	h.set(p, l)
	return skew, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
