package sdk

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// The examples, built and run against a real pulse and reverb for a few seconds.
func TestExamplesRunAgainstACluster(t *testing.T) {
	srv := startNATS(t)
	cluster := uniqueCluster("examples")
	startPulse(t, srv.URL, cluster, "p1").waitOutput(t, `"became leader"`, 20*time.Second)
	backbeat(t, "reverb", "reverb", "--nats", srv.URL, "--cluster", cluster, "--node-id", "r1", "--http-port", "0", "--replicas", "1",
		"--verify-threads", "0").waitOutput(t, `listening|started`, 30*time.Second)
	bin := t.TempDir()
	wd, _ := os.Getwd()
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"simple_agent", nil, []string{`(?m)^beat \d+ \(plan, 120\.0 BPM\)$`, `(?m)^bar started: [0-9a-f]{32}$`, `(?m)^stopped: last beat \d+, claims sent [1-9]\d*$`}},
		{"task_processor", []string{"--budget", "2"}, []string{`task:1 completed within 2 beats`, `task:2 exceeded its budget: backbeat: beat budget of 2 beats exceeded`}},
		{"service_monitor", []string{"--every", "500ms"}, []string{`"connected":true`, `"lease":\{"state":"held","term":1,"leader":"p1"\}`, `"tempo_bpm":120`}},
	}
	for _, c := range cases {
		exe := filepath.Join(bin, c.name)
		build := exec.Command("go", "build", "-o", exe, "./examples/"+c.name)
		build.Dir = wd
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", c.name, err, out)
		}
		args := append([]string{exe, "--nats", srv.URL, "--cluster", cluster, "--duration", "5s"}, c.args...)
		p := start(t, c.name, wd, args...)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s did not stop after --duration 5s", c.name)
		}
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("%s exited %d:\n%s", c.name, code, p.output())
		}
		for _, w := range c.want {
			if !regexp.MustCompile(w).MatchString(p.output()) {
				t.Fatalf("%s printed no /%s/:\n%s", c.name, w, p.output())
			}
		}
	}
	// A bad flag is one line naming it, exit 2.
	out, err := exec.Command(filepath.Join(bin, "simple_agent"), "--cluster", "a.b").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !regexp.MustCompile(`^backbeat: ClusterID: .*\n$`).Match(out) {
		t.Fatalf("bad --cluster: %v %q", err, out)
	}
}
