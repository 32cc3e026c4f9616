// Package tests holds the host's integration tests: they launch the real
// plugin binary ($NOMAD_IIS_PLUGIN) the way a Nomad client agent does.
package tests

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

// pluginPath is the plugin binary under test. Without NOMAD_IIS_PLUGIN the
// test is skipped; a path that is set but not executable fails it.
func pluginPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("NOMAD_IIS_PLUGIN")
	if p == "" {
		t.Skip("NOMAD_IIS_PLUGIN is not set (host/test.sh sets it to $BUILD_DIR/bin/nomad_iis)")
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatalf("NOMAD_IIS_PLUGIN=%s: %v", p, err)
	}
	if st.Mode()&0o111 == 0 {
		t.Fatalf("NOMAD_IIS_PLUGIN=%s is not executable", p)
	}
	return p
}

// testLog collects the host's and the plugin's log lines and prints them
// only when the test fails (t.Log from a goroutine after the test ended
// would panic, so lines go to a buffer).
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newTestLog returns a log that is dumped into the test output on failure.
func newTestLog(t *testing.T) *testLog {
	l := &testLog{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("host and plugin log:\n%s", l.String())
		}
	})
	return l
}

// launchOptions are the plugin launch options for a test.
func launchOptions(t *testing.T) pluginhost.LaunchOptions {
	log := newTestLog(t)
	return pluginhost.LaunchOptions{
		Path:         pluginPath(t),
		Logger:       hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Debug, Output: log}),
		StartTimeout: 20 * time.Second,
	}
}

// killPidOnCleanup makes sure a plugin process is gone when the test ends.
func killPidOnCleanup(t *testing.T, pid int) {
	t.Cleanup(func() {
		if pluginhost.PidAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			pluginhost.WaitPidsGone([]int{pid}, 5*time.Second)
		}
	})
}

// launch starts one plugin instance through go-plugin; it is killed (and,
// if needed, SIGKILLed by pid) when the test ends.
func launch(t *testing.T) *pluginhost.Instance {
	t.Helper()
	inst, err := pluginhost.Launch(launchOptions(t), "test")
	if err != nil {
		t.Fatalf("launch plugin: %v", err)
	}
	killPidOnCleanup(t, inst.Pid())
	t.Cleanup(func() { inst.Kill() })
	return inst
}

// pidTracker remembers every plugin pid a host used, so cleanup can make
// sure all of them are gone.
type pidTracker struct {
	mu   sync.Mutex
	pids map[int]bool
}

func (p *pidTracker) add(pid int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pids[pid] = true
}

// testHost is a started host plus what a test needs around it.
type testHost struct {
	*pluginhost.Host
	t    *testing.T
	pids *pidTracker
	// Dir is a private world-readable temp dir: the plugin's data_dir and
	// the alloc dirs live under it, so task processes can be found by it.
	Dir string
}

// track records the current plugin pid for cleanup.
func (h *testHost) track() {
	h.pids.add(h.Driver().Pid())
}

// startHost performs an agent start (all three launches) with the given
// agent-side plugin config. data_dir is pointed into the test's temp dir
// when the schema has it and the config does not set it.
func startHost(t *testing.T, pluginConfig map[string]interface{}) *testHost {
	t.Helper()
	return startHostWithArgs(t, pluginConfig, nil)
}

// startHostWithArgs is startHost with plugin arguments (the agent config's
// `args`), e.g. to turn the Management API on.
func startHostWithArgs(t *testing.T, pluginConfig map[string]interface{}, args []string) *testHost {
	t.Helper()
	dir := tempDir(t)
	cfg := map[string]interface{}{}
	for k, v := range pluginConfig {
		cfg[k] = v
	}
	opts := launchOptions(t)
	opts.Args = args
	if _, set := cfg["data_dir"]; !set && configHasAttribute(t, opts, "data_dir") {
		cfg["data_dir"] = filepath.Join(dir, "data")
	}
	tracker := &pidTracker{pids: map[int]bool{}}
	// Sweep task processes last (cleanups run in reverse order): whatever
	// still mentions this test's dir is killed by pid.
	t.Cleanup(func() {
		if left := pluginhost.ProcessesMentioning(dir); len(left) > 0 {
			t.Logf("cleanup: killing leftover processes %v", left)
			pluginhost.KillPids(left)
		}
	})
	t.Cleanup(func() {
		tracker.mu.Lock()
		defer tracker.mu.Unlock()
		for pid := range tracker.pids {
			if pluginhost.PidAlive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				pluginhost.WaitPidsGone([]int{pid}, 5*time.Second)
			}
		}
	})
	h, err := pluginhost.Start(context.Background(), pluginhost.Config{Launch: opts, PluginConfig: mustJSON(t, cfg)})
	if err != nil {
		t.Fatalf("agent start: %v", err)
	}
	th := &testHost{Host: h, t: t, pids: tracker, Dir: dir}
	th.track()
	t.Cleanup(func() { h.Shutdown() })
	return th
}

// configHasAttribute asks a short-lived instance whether the plugin's
// agent config schema has a top-level attribute.
func configHasAttribute(t *testing.T, opts pluginhost.LaunchOptions, name string) bool {
	t.Helper()
	desc, _, err := pluginhost.LoadPlugin(context.Background(), opts)
	if err != nil {
		t.Fatalf("loader launch: %v", err)
	}
	if desc.ConfigDecoder == nil {
		return false
	}
	ty := hcldecImpliedType(desc.ConfigDecoder)
	return ty.IsObjectType() && ty.HasAttribute(name)
}

// tempDir is a short, world-traversable temp dir removed at the end (task
// workers may run as another user; unix socket paths must stay short).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "niis-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startTaskOrSkip starts a task. While the plugin still answers
// UNIMPLEMENTED to StartTask, the test is skipped; any other error fails.
func startTaskOrSkip(t *testing.T, task *pluginhost.TaskRunner) *driverpb.StartTaskResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := task.Start(ctx)
	if status.Code(err) == codes.Unimplemented {
		t.Skipf("SKIP until the task lifecycle lands: the plugin answers StartTask with UNIMPLEMENTED (%v)", err)
	}
	if err != nil {
		t.Fatalf("StartTask: %v", err)
	}
	return resp
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
