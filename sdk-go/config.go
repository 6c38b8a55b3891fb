package sdk

import (
	"crypto/ed25519"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Config is the SDK configuration (the SDK seed's fields, plus what the TypeScript SDK
// takes). Start from DefaultConfig. NewClient checks it; a bad field is a *ConfigError
// naming it.
type Config struct {
	ClusterID string // the cluster to follow: one subject token, ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$
	// AgentID is service:instance or agent:identifier (INT-B); the seed's "my-service" is refused.
	AgentID string
	// NATSUrl: one URL or several, comma-separated. Default nats://127.0.0.1:4222.
	NATSUrl string
	// SigningKey signs every claim (BACKBEAT-REQ-044); nil sends unsigned claims. A reverb
	// whose trust file lists this agent refuses its unsigned claims.
	SigningKey      ed25519.PrivateKey
	Logger          *slog.Logger
	JitterTolerance time.Duration // how late a frame may be before the slot fires locally (default 50 ms, 0..60 s)
	ReconnectDelay  time.Duration // wait between NATS reconnect attempts (default 1 s)
	MaxReconnects   int           // NATS reconnect attempts, -1 for unlimited (default -1)

	// Timing: TimingFrames (default) fires on the leader's frame and locally when it is late;
	// TimingGrid fires every slot from the tempo map at its instant and lets frames confirm it.
	Timing string
	// MaxClockOffset: grid timing falls back to frames while this clock is further than this
	// from the leader's (default 20 ms).
	MaxClockOffset time.Duration
	// MaxQueuedClaims: claims kept while disconnected; more are refused with ErrClaimQueueFull (default 1000).
	MaxQueuedClaims int
	// NoStreamGrace: how long "no responders" may last before a claim counts as "no stream" (default 15 s).
	NoStreamGrace time.Duration

	// Credentials and TLS for NATS (docs/spec.md §10 Security), as the TypeScript SDK takes them.
	User, Password, Token string
	NKeySeedFile          string // a file holding an nkey seed
	CredsFile             string // a credentials file (JWT and nkey)
	TLSCAFile             string
	TLSCertFile           string // with TLSKeyFile: a client certificate
	TLSKeyFile            string
	TLSConfig             *tls.Config
	// NATSOptions are passed to nats.Connect after the SDK's own.
	NATSOptions []nats.Option
	// Conn is an existing connection to share (many agents on one connection); the client
	// will not close it. NATSUrl and the credentials are then ignored.
	Conn *nats.Conn
}

// DefaultConfig returns a Config with the defaults (the SDK seed's).
func DefaultConfig() *Config {
	return &Config{
		NATSUrl:         "nats://127.0.0.1:4222",
		JitterTolerance: 50 * time.Millisecond,
		ReconnectDelay:  time.Second,
		MaxReconnects:   -1,
		Logger:          slog.Default(),
		Timing:          TimingFrames,
		MaxClockOffset:  20 * time.Millisecond,
		MaxQueuedClaims: 1000,
		NoStreamGrace:   15 * time.Second,
	}
}

// check validates a copy of the config with defaults applied for zero values.
func (c *Config) resolved() (*Config, error) {
	if c == nil {
		return nil, &ConfigError{Field: "Config", Rule: "must not be nil (start from sdk.DefaultConfig())"}
	}
	r := *c
	d := DefaultConfig()
	if !clusterIDPattern.MatchString(r.ClusterID) {
		return nil, &ConfigError{Field: "ClusterID", Rule: fmt.Sprintf("'%s' must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$ (one subject token, no dots)", clip(r.ClusterID, 80))}
	}
	if err := CheckAgentID(r.AgentID); err != nil {
		return nil, err
	}
	if r.Conn == nil {
		if r.NATSUrl == "" {
			r.NATSUrl = d.NATSUrl
		}
		for _, u := range strings.Split(r.NATSUrl, ",") {
			p, err := url.Parse(strings.TrimSpace(u))
			if err != nil || p.Host == "" || (p.Scheme != "nats" && p.Scheme != "tls" && p.Scheme != "ws" && p.Scheme != "wss") {
				return nil, &ConfigError{Field: "NATSUrl", Rule: fmt.Sprintf("'%s' is not a NATS URL (nats://host:port)", clip(u, 80))}
			}
		}
	}
	if r.SigningKey != nil && len(r.SigningKey) != ed25519.PrivateKeySize {
		return nil, &ConfigError{Field: "SigningKey", Rule: fmt.Sprintf("must be an Ed25519 private key of %d bytes (ed25519.NewKeyFromSeed), got %d", ed25519.PrivateKeySize, len(r.SigningKey))}
	}
	if r.SigningKey != nil {
		pub := ed25519.NewKeyFromSeed(r.SigningKey.Seed()).Public().(ed25519.PublicKey)
		if !pub.Equal(r.SigningKey.Public()) {
			return nil, &ConfigError{Field: "SigningKey", Rule: "its public half does not match its seed: not an Ed25519 private key"}
		}
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.JitterTolerance == 0 {
		r.JitterTolerance = d.JitterTolerance
	}
	if r.JitterTolerance < 0 || r.JitterTolerance > time.Minute {
		return nil, &ConfigError{Field: "JitterTolerance", Rule: fmt.Sprintf("must be from 0 to 60s, got %v", r.JitterTolerance)}
	}
	if r.ReconnectDelay == 0 {
		r.ReconnectDelay = d.ReconnectDelay
	}
	if r.ReconnectDelay < 0 {
		return nil, &ConfigError{Field: "ReconnectDelay", Rule: fmt.Sprintf("must be >= 0, got %v", r.ReconnectDelay)}
	}
	if r.MaxReconnects < -1 {
		return nil, &ConfigError{Field: "MaxReconnects", Rule: fmt.Sprintf("must be -1 (unlimited) or >= 0, got %d", r.MaxReconnects)}
	}
	if r.Timing == "" {
		r.Timing = TimingFrames
	}
	if r.Timing != TimingFrames && r.Timing != TimingGrid {
		return nil, &ConfigError{Field: "Timing", Rule: fmt.Sprintf("must be '%s' or '%s', got '%s'", TimingFrames, TimingGrid, clip(r.Timing, 40))}
	}
	if r.MaxClockOffset == 0 {
		r.MaxClockOffset = d.MaxClockOffset
	}
	if r.MaxClockOffset < 0 || r.MaxClockOffset > time.Minute {
		return nil, &ConfigError{Field: "MaxClockOffset", Rule: fmt.Sprintf("must be above 0 and at most 60s, got %v", r.MaxClockOffset)}
	}
	if r.MaxQueuedClaims == 0 {
		r.MaxQueuedClaims = d.MaxQueuedClaims
	}
	if r.MaxQueuedClaims < 0 {
		return nil, &ConfigError{Field: "MaxQueuedClaims", Rule: fmt.Sprintf("must be >= 1, got %d", r.MaxQueuedClaims)}
	}
	if r.NoStreamGrace == 0 {
		r.NoStreamGrace = d.NoStreamGrace
	}
	if r.NoStreamGrace < 0 {
		return nil, &ConfigError{Field: "NoStreamGrace", Rule: fmt.Sprintf("must be >= 0, got %v", r.NoStreamGrace)}
	}
	if (r.TLSCertFile == "") != (r.TLSKeyFile == "") {
		return nil, &ConfigError{Field: "TLSCertFile", Rule: "TLSCertFile and TLSKeyFile go together"}
	}
	if r.Token != "" && r.User != "" {
		return nil, &ConfigError{Field: "Token", Rule: "use either Token or User/Password, not both"}
	}
	return &r, nil
}

func (c *Config) natsOptions() ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name("backbeat-sdk-go " + c.AgentID),
		nats.ReconnectWait(c.ReconnectDelay),
		nats.MaxReconnects(c.MaxReconnects),
		nats.PingInterval(5 * time.Second), // a silent partition is noticed in seconds (docs/spec.md §12 Known pitfalls)
		nats.MaxPingsOutstanding(2),
		nats.RetryOnFailedConnect(false),
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
	}
	if c.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, &ConfigError{Field: "NKeySeedFile", Rule: err.Error()}
		}
		opts = append(opts, o)
	}
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.TLSCAFile != "" {
		opts = append(opts, nats.RootCAs(c.TLSCAFile))
	}
	if c.TLSCertFile != "" {
		opts = append(opts, nats.ClientCert(c.TLSCertFile, c.TLSKeyFile))
	}
	if c.TLSConfig != nil {
		opts = append(opts, nats.Secure(c.TLSConfig))
	}
	return append(opts, c.NATSOptions...), nil
}
