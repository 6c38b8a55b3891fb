package sdk

// The leader lease record as the pulse writes it in KV (docs/spec.md §7 Election, terms and fencing).

import (
	"encoding/json"
	"errors"
)

type leaseRecord struct {
	NodeID string
	Term   int64
}

// decodeLease checks a lease record (docs/spec.md §7 Election, terms and fencing): a JSON
// object with node_id (1 to 256 characters), an integer term >= 1 and a string acquired_at.
func decodeLease(val []byte) (leaseRecord, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(val, &raw); err != nil || raw == nil {
		return leaseRecord{}, errors.New("lease value must be a JSON object")
	}
	var r leaseRecord
	err := json.Unmarshal(raw["node_id"], &r.NodeID)
	if n := len([]rune(r.NodeID)); err != nil || n == 0 || n > 256 {
		return r, errors.New("lease node_id must be a string of 1 to 256 characters")
	}
	var term json.Number
	if err := json.Unmarshal(raw["term"], &term); err != nil {
		return r, errors.New("lease term must be an integer >= 1")
	}
	n := term
	t, ok := safeInt(&n)
	if !ok || t < 1 {
		return r, errors.New("lease term must be an integer >= 1")
	}
	r.Term = t
	var at string
	if err := json.Unmarshal(raw["acquired_at"], &at); err != nil || string(raw["acquired_at"]) == "null" {
		return r, errors.New("lease acquired_at must be a string")
	}
	return r, nil
}
