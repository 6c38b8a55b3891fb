package sdk

// A claim's exact bytes and their Ed25519 signature (docs/spec.md §10 Security).

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strconv"
)

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
