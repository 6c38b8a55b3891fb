package sdk

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test harness: a real nats-server and the built backbeat CLI as child processes, each
// stopped by t.Cleanup (also when the test fails). Only loopback addresses.

// natsServerBinary picks nats-server as packages/testing/src/nats-binary.ts does:
// BACKBEAT_NATS_SERVER, else the pinned v2.14.10 build in the cache directory
// ($BACKBEAT_CACHE_DIR, $XDG_CACHE_HOME/backbeat, ~/.cache/backbeat), else nats-server on
// PATH when it is 2.10 or later.
func natsServerBinary(t testing.TB) string {
	if p := os.Getenv("BACKBEAT_NATS_SERVER"); p != "" {
		return p
	}
	cache := os.Getenv("BACKBEAT_CACHE_DIR")
	if cache == "" {
		if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
			cache = filepath.Join(x, "backbeat")
		} else if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache", "backbeat")
		}
	}
	pinned := filepath.Join(cache, "nats-server-v2.14.10", "nats-server")
	if st, err := os.Stat(pinned); err == nil && !st.IsDir() {
		return pinned
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		out, _ := exec.Command(p, "--version").Output()
		m := regexp.MustCompile(`v?(\d+)\.(\d+)`).FindStringSubmatch(string(out))
		if m != nil {
			major, _ := strconv.Atoi(m[1])
			minor, _ := strconv.Atoi(m[2])
			if major > 2 || major == 2 && minor >= 10 {
				return p
			}
		}
	}
	t.Fatalf("no nats-server: set BACKBEAT_NATS_SERVER, or put v2.14.10 at %s, or nats-server >= 2.10 on PATH", pinned)
	return ""
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a child process whose output is kept for the test's log and for waitOutput.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitOutput waits until the output matches re, or fails the test.
func (p *proc) waitOutput(t testing.TB, re string, timeout time.Duration) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if rx.MatchString(p.output()) {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before printing /%s/:\n%s", p.name, re, tail(p.output(), 3000))
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not print /%s/ within %v:\n%s", p.name, re, timeout, tail(p.output(), 3000))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// start runs a child process, stopped at cleanup: SIGTERM, then SIGKILL after 5 s.
func start(t testing.TB, name string, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Dir = dir
	p.cmd.Stdout = p
	p.cmd.Stderr = p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("%s output (tail):\n%s", name, tail(p.output(), 4000))
		}
	})
	return p
}

// kill signals the process group and waits for the exit (SIGKILL after 5 s).
func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

type natsServer struct {
	URL  string
	proc *proc
	port int
	dir  string
	t    testing.TB
}

// startNATS runs nats-server with JetStream in a temp dir on a free loopback port.
func startNATS(t testing.TB) *natsServer {
	t.Helper()
	s := &natsServer{port: freePort(t), dir: t.TempDir(), t: t}
	s.URL = fmt.Sprintf("nats://127.0.0.1:%d", s.port)
	s.run()
	return s
}

func (s *natsServer) run() {
	s.proc = start(s.t, "nats-server", s.dir, natsServerBinary(s.t), "-a", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-js", "-sd", s.dir)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("nats-server did not listen on %d:\n%s", s.port, s.proc.output())
}

// restart stops the server (its JetStream data stays) and starts it again on the same port.
func (s *natsServer) restart() {
	s.proc.kill(syscall.SIGTERM)
	s.run()
}

func repoRoot(t testing.TB) string {
	wd, _ := os.Getwd()
	root := filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(root, "packages", "cli", "bin", "backbeat.js")); err != nil {
		t.Fatalf("the backbeat CLI is not at %s/packages/cli/bin/backbeat.js", root)
	}
	if _, err := os.Stat(filepath.Join(root, "packages", "cli", "dist", "main.js")); err != nil {
		t.Fatalf("the backbeat CLI is not built: run `npx tsc --build` at the repository root")
	}
	return root
}

// backbeat runs `node packages/cli/bin/backbeat.js args...` (the built CLI).
func backbeat(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	root := repoRoot(t)
	cli := filepath.Join(root, "packages", "cli", "bin", "backbeat.js")
	return start(t, name, root, append([]string{"node", cli}, args...)...)
}

var clusterSeq struct {
	sync.Mutex
	n int
}

func uniqueCluster(prefix string) string {
	clusterSeq.Lock()
	defer clusterSeq.Unlock()
	clusterSeq.n++
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid()%10000, clusterSeq.n)
}

// pulseArgs are a fast pulse for tests: 120 BPM (phases of 167 ms), 4-beat bars, short lease.
func pulseArgs(url, cluster, node string, extra ...string) []string {
	a := []string{"pulse", "--nats", url, "--cluster", cluster, "--node-id", node, "--bpm", "120", "--max-bpm", "600",
		"--bar", "4", "--lease-ttl", "1000", "--admin-port", "0", "--replicas", "1", "--log-level", "info",
		"--emitter", "inline"}
	return append(a, extra...)
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

var _ = bufio.NewScanner

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newTestClient(t *testing.T, url, cluster, agent string, mutate func(*Config)) Client {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ClusterID = cluster
	cfg.AgentID = agent
	cfg.NATSUrl = url
	cfg.Logger = nil
	if mutate != nil {
		mutate(cfg)
	}
	c, err := New(cfg)
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	must(t, c.Start(ctx))
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
}

func startPulse(t *testing.T, url, cluster, node string, extra ...string) *proc {
	p := backbeat(t, "pulse "+node, pulseArgs(url, cluster, node, extra...)...)
	return p
}
