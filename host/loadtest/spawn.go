package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"nomad_iis/host/agent"
	"nomad_iis/host/apiclient"
	"nomad_iis/host/pluginhost"
)

// SpawnOptions starts a private agent for a run.
type SpawnOptions struct {
	// HostBin is nomad-iis-host; Plugin is nomad_iis; Site is the folder
	// served by every allocation.
	HostBin, Plugin, Site string
	// Allocs is the job's count.
	Allocs int
	// LogLevel is the agent's log level (default info; debug includes the
	// plugin's own debug lines and its exit status).
	LogLevel string
}

// Spawned is a private agent with a registered job.
type Spawned struct {
	Address string
	APIKey  string
	Job     string
	Dir     string
	Log     string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Spawn starts `nomad-iis-host agent` in a new temp dir (its own process
// group, loopback only, tasks stopped on exit) with the Management API on
// a free port and a random key, registers a job of opts.Allocs allocations
// serving opts.Site and waits until they all run.
func Spawn(ctx context.Context, o SpawnOptions) (*Spawned, error) {
	dir, err := os.MkdirTemp("", "niis-lt-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	site, err := filepath.Abs(o.Site)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	port, err := pluginhost.FreePort()
	if err != nil {
		return nil, err
	}
	s := &Spawned{APIKey: hex.EncodeToString(key), Job: "loadtest", Dir: dir, Log: filepath.Join(dir, "agent.log"),
		exited: make(chan struct{})}
	logf, err := os.Create(s.Log)
	if err != nil {
		return nil, err
	}
	// The key goes to the plugin in a root-only file, never on a command line.
	keyFile := filepath.Join(dir, "api-key")
	if err := os.WriteFile(keyFile, []byte(s.APIKey+"\n"), 0o600); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	addrFile := filepath.Join(dir, "addr")
	logLevel := o.LogLevel
	if logLevel == "" {
		logLevel = "info"
	}
	s.cmd = exec.Command(o.HostBin, "agent", "-data-dir", filepath.Join(dir, "data"), "-plugin", o.Plugin,
		"-http-port", "0", "-bind", "127.0.0.1", "-addr-file", addrFile, "-stop-on-exit", "-plugin-startup", "short",
		"-log-level", logLevel, "--",
		"--management-api-port="+strconv.Itoa(port), "--management-api-key-file="+keyFile, "--management-api-bind=127.0.0.1")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	go func() {
		_ = s.cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			s.Address = strings.TrimSpace(string(b))
			break
		}
		select {
		case <-s.exited:
			s.Stop()
			return nil, fmt.Errorf("the agent exited during start; see its log")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("the agent did not start within a minute")
		}
	}
	jobs := apiclient.NewJobs(s.Address)
	if _, err := jobs.Register(ctx, LoadJob(s.Job, o.Allocs, site), false, 0); err != nil {
		s.Stop()
		return nil, err
	}
	if _, err := jobs.WaitRunning(ctx, s.Job, o.Allocs, time.Minute+time.Duration(o.Allocs)*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// LoadJob is the job a spawned agent runs: count allocations of a static
// site on a dynamic port.
func LoadJob(id string, count int, site string) *agent.Job {
	attempts, interval, delay, mode := 3, 5*time.Minute, time.Second, "fail"
	kill := 5 * time.Second
	cpu, mem := 20, 32
	return &agent.Job{
		ID: id, Name: id, Type: agent.JobTypeService,
		TaskGroups: []*agent.TaskGroup{{
			Name: "web", Count: &count,
			Networks:      []*agent.NetworkResource{{Mode: "host", DynamicPorts: []agent.Port{{Label: "http"}}}},
			RestartPolicy: &agent.RestartPolicy{Attempts: &attempts, Interval: &interval, Delay: &delay, Mode: &mode},
			Tasks: []*agent.Task{{
				Name: "app", Driver: "iis",
				Config: []byte(`{"application_pool":[{"name":"default"}],"application":[{"path":"local"}],` +
					`"binding":[{"type":"http","port":"http"}]}`),
				Artifacts:   []*agent.TaskArtifact{{GetterSource: &site}},
				Resources:   &agent.Resources{CPU: &cpu, MemoryMB: &mem},
				KillTimeout: &kill,
			}},
		}},
	}
}

// KeepLog copies the agent's log (so far) to path.
func (s *Spawned) KeepLog(path string) error {
	b, err := os.ReadFile(s.Log)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Stop stops the agent by pid (SIGTERM; it stops its tasks), SIGKILLs it
// if it hangs, kills any process left under the temp dir and removes it.
func (s *Spawned) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(3 * time.Minute):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if left := pluginhost.ProcessesMentioning(s.Dir); len(left) > 0 {
		pluginhost.KillPids(left)
	}
	os.RemoveAll(s.Dir)
}

// LogTail returns the last n lines of the agent's log.
func (s *Spawned) LogTail(n int) string {
	b, err := os.ReadFile(s.Log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
