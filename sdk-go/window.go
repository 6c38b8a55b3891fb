package sdk

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// WindowID is the window id of the bar whose downbeat is downbeatIndex (BACKBEAT-REQ-005):
// the first 32 lower-case hex digits of sha256(clusterID + ":" + decimal downbeatIndex)
// (docs/spec.md §5 The beat grid and the tempo map).
func WindowID(clusterID string, downbeatIndex int64) string {
	sum := sha256.Sum256([]byte(clusterID + ":" + strconv.FormatInt(downbeatIndex, 10)))
	return hex.EncodeToString(sum[:16])
}

// WindowIDForBeat is the window id of the bar holding beatIndex (bars of barLength beats).
func WindowIDForBeat(clusterID string, beatIndex int64, barLength int) string {
	if barLength < 1 {
		barLength = DefaultBarLength
	}
	return WindowID(clusterID, beatIndex-beatIndex%int64(barLength))
}

// LegacyBeatInfo is the legacy {bar, beat} position (BACKBEAT-REQ-043), both 1-based as in
// music: beat index 0 is bar 1, beat 1 (the messages on backbeat.C.control).
type LegacyBeatInfo struct {
	Bar  int64 `json:"bar"`
	Beat int64 `json:"beat"`
}

// ToLegacy converts a beat index (>= 0) to {bar, beat} for bars of barLength (>= 1) beats.
func ToLegacy(beatIndex int64, barLength int) (LegacyBeatInfo, error) {
	if beatIndex < 0 || beatIndex > maxSafeInteger {
		return LegacyBeatInfo{}, &ConfigError{Field: "beatIndex", Rule: "must be an integer >= 0"}
	}
	if barLength < 1 {
		return LegacyBeatInfo{}, &ConfigError{Field: "barLength", Rule: "must be an integer >= 1"}
	}
	b := beatIndex % int64(barLength)
	return LegacyBeatInfo{Bar: (beatIndex-b)/int64(barLength) + 1, Beat: b + 1}, nil
}

// FromLegacy converts {bar, beat} back to a beat index; the inverse of ToLegacy.
func FromLegacy(l LegacyBeatInfo, barLength int) (int64, error) {
	if barLength < 1 {
		return 0, &ConfigError{Field: "barLength", Rule: "must be an integer >= 1"}
	}
	if l.Bar < 1 || l.Bar > maxSafeInteger/int64(barLength) {
		return 0, &ConfigError{Field: "bar", Rule: "must be an integer >= 1 (and the index a safe integer)"}
	}
	if l.Beat < 1 || l.Beat > int64(barLength) {
		return 0, &ConfigError{Field: "beat", Rule: "must be an integer from 1 to the bar length"}
	}
	return (l.Bar-1)*int64(barLength) + (l.Beat - 1), nil
}
