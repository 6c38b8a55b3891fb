package sdk

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
