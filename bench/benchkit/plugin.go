package benchkit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"nomad_iis/host/pluginhost"
)

// StartPlugin launches the plugin binary as a Nomad client would, with its
// data dir under dir and the driver options of options (a JSON object, ""
// for none), and hands back the host that owns it.
func StartPlugin(ctx context.Context, binary, dir, options string, args ...string) (*pluginhost.Host, error) {
	config := map[string]any{}
	if options != "" {
		if err := json.Unmarshal([]byte(options), &config); err != nil {
			return nil, fmt.Errorf("plugin options %q: %w", options, err)
		}
	}
	config["data_dir"] = filepath.Join(dir, "data")
	pluginConfig, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	h, err := pluginhost.Start(ctx, pluginhost.Config{
		Launch: pluginhost.LaunchOptions{
			Path:         binary,
			Args:         args,
			Logger:       hclog.New(&hclog.LoggerOptions{Name: "bench", Level: hclog.Error, Output: io.Discard}),
			StartTimeout: 30 * time.Second,
		},
		PluginConfig: pluginConfig,
		Startup:      pluginhost.StartupShort,
	})
	if err != nil {
		return nil, fmt.Errorf("plugin start: %w", err)
	}
	return h, nil
}

// TempDir makes the benchmark's private directory (readable by the pools'
// users, which traverse it to reach the task directories).
func TempDir() (string, error) {
	dir, err := os.MkdirTemp("", "niis-bench-")
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o755)
}

// KillLeftovers SIGKILLs, by PID, every process that still mentions dir
// (task processes a failed run left behind).
func KillLeftovers(dir string) {
	pluginhost.KillPids(pluginhost.ProcessesMentioning(dir))
}

// Task is one allocation with one task named "app" whose site binds the
// port label "httplabel" on 127.0.0.1.
type Task struct {
	Alloc  *pluginhost.Alloc
	Runner *pluginhost.TaskRunner
	Port   int
	// URL is the site's root, "http://127.0.0.1:<port>/".
	URL string
}

// NewTask makes the allocation and task directories and fills the task's
// local/ from files (a directory copied as an artifact would be); nothing
// is started yet.
func NewTask(h *pluginhost.Host, dir, jobID string, config []byte, files string) (*Task, error) {
	port, err := freshPort()
	if err != nil {
		return nil, err
	}
	alloc, err := h.NewAlloc(pluginhost.AllocOptions{
		JobID: jobID,
		Ports: []pluginhost.Port{{Label: "httplabel", Value: port, HostIP: "127.0.0.1"}},
		Root:  filepath.Join(dir, "allocs"),
	})
	if err != nil {
		return nil, err
	}
	runner, err := alloc.NewTask(pluginhost.TaskSpec{Name: "app", Config: config})
	if err != nil {
		return nil, err
	}
	if files != "" {
		if err := pluginhost.CopyDir(files, runner.Dir().LocalDir); err != nil {
			return nil, err
		}
	}
	return &Task{Alloc: alloc, Runner: runner, Port: port, URL: "http://127.0.0.1:" + strconv.Itoa(port) + "/"}, nil
}

// StartNewTask makes a task and calls StartTask on it. Other processes on
// the machine take ports from the same range, so when the task's port was
// taken between FreePort and the site's bind, the task is removed and a new
// one, on a new port, is started (three tries).
func StartNewTask(ctx context.Context, h *pluginhost.Host, dir, jobID string, config []byte, files string) (*Task, error) {
	for try := 1; ; try++ {
		task, err := NewTask(h, dir, jobID, config, files)
		if err != nil {
			return nil, err
		}
		_, err = task.Runner.Start(ctx)
		if err == nil {
			return task, nil
		}
		task.Remove(ctx)
		if try == 3 || !strings.Contains(err.Error(), "address already in use") {
			return nil, fmt.Errorf("StartTask: %w", err)
		}
	}
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// freshPort is a free port that no task or nginx of this run was given
// before, so those started at the same time never share one.
func freshPort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		port, err := pluginhost.FreePort()
		if err != nil {
			return 0, err
		}
		if !portsGiven[port] {
			portsGiven[port] = true
			return port, nil
		}
	}
}

// Remove stops and destroys the task and closes its log collectors.
func (t *Task) Remove(ctx context.Context) {
	_ = t.Runner.StopWith(ctx, 2*time.Second, "")
	_ = t.Runner.Destroy(ctx, true)
	t.Alloc.Close()
}
