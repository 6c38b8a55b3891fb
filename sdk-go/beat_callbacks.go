package sdk

import "fmt"

// The beat callbacks a client registers (OnBeat, OnDownbeat, OnPhase, OnPhaseInfo) and how
// the follower calls them: in grid order, one at a time, a panic recovered and reported.

func (c *client) on(kind string, cb func(BeatFrame, BeatInfo)) error {
	if c.cfgErr != nil {
		return c.cfgErr
	}
	c.follower.addCallback(kind, cb)
	return nil
}

func (c *client) OnBeat(cb func(BeatFrame)) error {
	if cb == nil {
		return &ConfigError{Field: "callback", Rule: "must not be nil"}
	}
	return c.on("beat", func(f BeatFrame, _ BeatInfo) { cb(f) })
}

func (c *client) OnDownbeat(cb func(BeatFrame)) error {
	if cb == nil {
		return &ConfigError{Field: "callback", Rule: "must not be nil"}
	}
	return c.on("downbeat", func(f BeatFrame, _ BeatInfo) { cb(f) })
}

func (c *client) OnPhase(cb func(BeatFrame)) error {
	if cb == nil {
		return &ConfigError{Field: "callback", Rule: "must not be nil"}
	}
	return c.on("phase", func(f BeatFrame, _ BeatInfo) { cb(f) })
}

func (c *client) OnPhaseInfo(cb func(BeatFrame, BeatInfo)) error {
	if cb == nil {
		return &ConfigError{Field: "callback", Rule: "must not be nil"}
	}
	return c.on("phase", cb)
}

type callbacks struct {
	phase    []func(BeatFrame, BeatInfo)
	beat     []func(BeatFrame, BeatInfo)
	downbeat []func(BeatFrame, BeatInfo)
}

// addCallback adds cb to a copy of the list: the follower reads the lists without a lock.
func (f *follower) addCallback(kind string, cb func(BeatFrame, BeatInfo)) {
	f.cbMu.Lock()
	defer f.cbMu.Unlock()
	old := f.cbs.Load()
	n := &callbacks{phase: old.phase, beat: old.beat, downbeat: old.downbeat}
	switch kind {
	case "phase":
		n.phase = append(append([]func(BeatFrame, BeatInfo){}, old.phase...), cb)
	case "beat":
		n.beat = append(append([]func(BeatFrame, BeatInfo){}, old.beat...), cb)
	default:
		n.downbeat = append(append([]func(BeatFrame, BeatInfo){}, old.downbeat...), cb)
	}
	f.cbs.Store(n)
}

// fire calls the callbacks of a slot: every phase, the beat on its first phase, the downbeat
// on a bar's first beat. Called with the follower's mu held.
func (f *follower) fire(pos BeatPosition, frame BeatFrame, source string, receivedAt float64) {
	info := BeatInfo{Source: source, ReceivedAt: receivedAt, ScheduledAt: pos.PhaseStart}
	cbs := f.cbs.Load()
	f.call(cbs.phase, frame, info)
	if pos.PhaseIndex == 0 {
		f.call(cbs.beat, frame, info)
		if frame.Downbeat {
			f.call(cbs.downbeat, frame, info)
		}
	}
	f.met.callback(f.now() - receivedAt)
	if source != SourceLeader {
		f.met.synthesized()
	}
}

func (f *follower) call(list []func(BeatFrame, BeatInfo), frame BeatFrame, info BeatInfo) {
	for _, cb := range list {
		func() {
			defer func() {
				if r := recover(); r != nil {
					f.onError(fmt.Sprintf("beat callback panicked: %v", r), true)
				}
			}()
			cb(frame, info)
		}()
	}
}
