// Package agent holds the integration tests of nomad-iis-host agent, its
// Jobs HTTP API, nomad-iis-ctl, nomad-iis-loadtest and scripts/run.sh. They
// run the real binaries (host/test.sh builds them and sets
// NOMAD_IIS_HOST_BIN, NOMAD_IIS_CTL_BIN, NOMAD_IIS_LOADTEST_BIN and
// NOMAD_IIS_PLUGIN), bind to 127.0.0.1 only, and stop every process they
// start by its pid.
package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hostagent "nomad_iis/host/agent"
	"nomad_iis/host/apiclient"
	"nomad_iis/host/pluginhost"
)

const (
	marker = "served-by-nomad-iis-static-sample"
	apiKey = "agent-test-key-0123456789"
)

// binary returns the path in an environment variable, skipping the test
// when it is unset.
func binary(t *testing.T, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Skipf("%s is not set (host/test.sh sets it)", env)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s=%s: %v", env, p, err)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// repoPath is a path relative to the repository root (found from the
// physical working directory, in case the package dir is a symlink).
func repoPath(parts ...string) string {
	wd, err := os.Getwd()
	if err == nil {
		if real, err := filepath.EvalSymlinks(wd); err == nil {
			wd = real
		}
	}
	return filepath.Join(append([]string{wd, "..", "..", ".."}, parts...)...)
}

// tempDir is a short world-traversable dir (pool workers run as other users)
// removed at the end; processes still mentioning it are killed first.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "niis-ag-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if left := pluginhost.ProcessesMentioning(dir); len(left) > 0 {
			t.Errorf("processes left behind under %s: %v (killed)", dir, left)
			pluginhost.KillPids(left)
		}
		os.RemoveAll(dir)
	})
	return dir
}

// syncBuffer is a log sink printed when the test fails.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// agentProc is a running `nomad-iis-host agent`.
type agentProc struct {
	t        *testing.T
	dir      string
	httpPort int
	mgmtPort int
	log      *syncBuffer
	// pluginConfig is passed as -plugin-config when set.
	pluginConfig string
	cmd          *exec.Cmd
	exited       chan struct{}
	// Address is the Jobs API URL.
	Address string
	Jobs    *apiclient.Jobs
}

// agentOptions tune an agent start.
type agentOptions struct {
	// keepTasks starts the agent without -stop-on-exit.
	keepTasks bool
	// pluginConfig is the plugin's config block as JSON (-plugin-config).
	pluginConfig string
}

// startAgent starts an agent in a new temp dir with the plugin's
// Management API on a free port. Cleanup stops it by pid (its tasks with
// it) and sweeps anything left under the dir.
func startAgent(t *testing.T, o agentOptions) *agentProc {
	t.Helper()
	dir := tempDir(t)
	hp, err := pluginhost.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	mp, err := pluginhost.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	a := &agentProc{t: t, dir: dir, httpPort: hp, mgmtPort: mp, log: &syncBuffer{}, pluginConfig: o.pluginConfig}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", a.log.String())
		}
	})
	t.Cleanup(func() { a.stop() })
	a.start(!o.keepTasks)
	return a
}

// start launches the agent binary on the agent's dir and ports.
func (a *agentProc) start(stopOnExit bool) {
	t := a.t
	t.Helper()
	args := []string{"agent", "-data-dir", filepath.Join(a.dir, "data"), "-plugin", binary(t, "NOMAD_IIS_PLUGIN"),
		"-bind", "127.0.0.1", "-http-port", strconv.Itoa(a.httpPort), "-plugin-startup", "short", "-log-level", "debug"}
	if stopOnExit {
		args = append(args, "-stop-on-exit")
	}
	if a.pluginConfig != "" {
		args = append(args, "-plugin-config", a.pluginConfig)
	}
	args = append(args, "--", "--management-api-port="+strconv.Itoa(a.mgmtPort), "--management-api-bind=127.0.0.1")
	cmd := exec.Command(binary(t, "NOMAD_IIS_HOST_BIN"), args...)
	// The key reaches the plugin through the agent's environment, as a
	// Nomad agent passes its own to its plugins.
	cmd.Env = append(os.Environ(), "NOMAD_IIS_MANAGEMENT_API_KEY="+apiKey)
	cmd.Stdout, cmd.Stderr = a.log, a.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a.cmd, a.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(a.exited)
	a.Address = fmt.Sprintf("http://127.0.0.1:%d", a.httpPort)
	a.Jobs = apiclient.NewJobs(a.Address)
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(a.Address + "/v1/agent/self")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-a.exited:
			t.Fatalf("the agent exited during start:\n%s", a.log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent did not answer within a minute")
		}
	}
}

// signalStop sends SIGTERM to the agent by pid and waits for its exit.
func (a *agentProc) signalStop(timeout time.Duration) bool {
	if a.cmd == nil || a.cmd.Process == nil {
		return true
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

// stop ends the agent: SIGTERM, then SIGKILL by pid if it hangs.
func (a *agentProc) stop() {
	if a.cmd == nil {
		return
	}
	if !a.signalStop(2 * time.Minute) {
		a.t.Errorf("the agent (pid %d) did not stop within 2 minutes; killing it", a.cmd.Process.Pid)
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
	a.cmd = nil
}

// mgmt is a Management API client for this agent's plugin.
func (a *agentProc) mgmt() *apiclient.Mgmt {
	return apiclient.NewMgmt(fmt.Sprintf("http://127.0.0.1:%d", a.mgmtPort), apiKey)
}

// do sends a request to the Jobs API and returns status, body and the
// X-Nomad-Index header.
func (a *agentProc) do(method, path string, body interface{}) (int, []byte, uint64) {
	a.t.Helper()
	var rd io.Reader
	if s, ok := body.(string); ok {
		rd = strings.NewReader(s)
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.Address+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	idx, _ := strconv.ParseUint(resp.Header.Get("X-Nomad-Index"), 10, 64)
	return resp.StatusCode, b, idx
}

// sampleJob is examples/jobs/static-app.json with another ID, a count and
// the artifact pointed at the sample site.
func sampleJob(t *testing.T, id string, count int) *hostagent.Job {
	t.Helper()
	raw, err := os.ReadFile(repoPath("examples", "jobs", "static-app.json"))
	if err != nil {
		t.Fatal(err)
	}
	var wrapped struct{ Job *hostagent.Job }
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		t.Fatal(err)
	}
	j := wrapped.Job
	j.ResolveLocalArtifacts(repoPath("examples", "jobs"))
	j.ID, j.Name = id, id
	j.TaskGroups[0].Count = &count
	return j
}

// register registers a job and waits until count allocations run.
func (a *agentProc) register(job *hostagent.Job) []*hostagent.AllocListStub {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := a.Jobs.Register(ctx, job, false, 0); err != nil {
		a.t.Fatalf("register %s: %v", job.ID, err)
	}
	want := 0
	for _, g := range job.TaskGroups {
		want += *g.Count
	}
	stubs, err := a.Jobs.WaitRunning(ctx, job.ID, want, time.Minute)
	if err != nil {
		a.t.Fatalf("job %s: %v", job.ID, err)
	}
	return stubs
}

// targets resolves the running allocations of a job.
func (a *agentProc) targets(job string) []apiclient.Target {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts, err := (&apiclient.Resolver{Jobs: a.Jobs}).JobTargets(ctx, job, "")
	if err != nil {
		a.t.Fatal(err)
	}
	return ts
}

// pluginPid is the plugin's pid as the agent reports it.
func (a *agentProc) pluginPid() int {
	a.t.Helper()
	pid, err := a.Jobs.PluginPid(context.Background())
	if err != nil {
		a.t.Fatal(err)
	}
	return pid
}

var httpClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// get fetches a URL.
func get(url string) (int, string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}

// serves waits until url answers 200 with want in the body.
func serves(t *testing.T, url, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body, err := get(url)
		if err == nil && code == http.StatusOK && strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %v, body %q; want 200 with %q", url, code, err, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// prober GETs URLs in a loop and counts failures.
type prober struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	ok   int
	errs []string
}

func startProber(urls []string) *prober {
	p := &prober{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for i := 0; ; i++ {
			u := urls[i%len(urls)]
			code, body, err := get(u)
			p.mu.Lock()
			if err == nil && code == http.StatusOK && strings.Contains(body, marker) {
				p.ok++
			} else {
				p.errs = append(p.errs, fmt.Sprintf("%s %s: %d %v", time.Now().Format("15:04:05.000"), u, code, err))
			}
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return p
}

func (p *prober) finish() (int, []string) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ok, p.errs
}

// runBinary runs a CLI binary with env and returns stdout, stderr and the
// exit code.
func runBinary(t *testing.T, bin string, env []string, timeout time.Duration, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return out.String(), errb.String(), code
}

// ctxT is a context bounded by a minute and the test's end.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func httpNewRequest(url string) (*http.Request, error) {
	return http.NewRequest(http.MethodGet, url, nil)
}
