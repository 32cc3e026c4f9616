package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"nomad_iis/gen/driverpb"
)

// TaskSpec is the part of a job's task that reaches the driver.
type TaskSpec struct {
	// Name is the task name.
	Name string
	// Config is the task's `config { ... }` block as HCL-JSON.
	Config []byte
	// Env is the task's `env { ... }` block.
	Env map[string]string
	// User is `task.user`.
	User string
	// CPUShares is resources.cpu in MHz (default 100).
	CPUShares int64
	// MemoryMB is resources.memory (default 300).
	MemoryMB int64
	// MemoryMaxMB is resources.memory_max (0: unset).
	MemoryMaxMB int64
	// KillTimeout is task.kill_timeout (default 5s).
	KillTimeout time.Duration
	// KillSignal is task.kill_signal ("" when unset, as Nomad sends it).
	KillSignal string
	// NoHostEnv leaves the host environment out of the task env.
	NoHostEnv bool
	// Meta is the merged job, group and task meta (NOMAD_META_*).
	Meta map[string]string
}

func (s TaskSpec) withDefaults() TaskSpec {
	if s.KillTimeout == 0 {
		s.KillTimeout = 5 * time.Second
	}
	return s
}

func (s TaskSpec) cpuShares() int64 {
	if s.CPUShares > 0 {
		return s.CPUShares
	}
	return 100
}

func (s TaskSpec) memoryMB() int64 {
	if s.MemoryMB > 0 {
		return s.MemoryMB
	}
	return 300
}

// TaskRunner drives one task through the plugin's task RPCs, in the order
// and with the arguments Nomad's task runner uses. It always talks to the
// host's current plugin instance, so it keeps working across Restart, Crash
// and Reattach.
type TaskRunner struct {
	alloc *Alloc
	spec  TaskSpec
	dir   TaskDir

	mu      sync.Mutex
	env     map[string]string
	caps    *driverpb.DriverCapabilities
	encoded *EncodedConfig
	logs    *LogMon
	config  *driverpb.TaskConfig
	handle  *driverpb.TaskHandle
}

// ErrNotStarted is returned by task RPC helpers before a successful Start.
var ErrNotStarted = errors.New("task has not been started")

// Name is the task name.
func (t *TaskRunner) Name() string { return t.spec.Name }

// Spec is the task's spec with defaults applied.
func (t *TaskRunner) Spec() TaskSpec { return t.spec }

// Dir is the task's directory set; fill LocalDir before Start as artifacts
// and templates would.
func (t *TaskRunner) Dir() TaskDir { return t.dir }

// Alloc is the allocation the task belongs to.
func (t *TaskRunner) Alloc() *Alloc { return t.alloc }

func (t *TaskRunner) client() *DriverClient { return t.alloc.host.Client() }

// Prepare does what the task runner does before StartTask: fetch
// TaskConfigSchema and Capabilities, build the env, and decode and encode
// the job's config (a failure here is Nomad's "Failed Validation").
func (t *TaskRunner) Prepare(ctx context.Context) (*EncodedConfig, error) {
	c := t.client()
	cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	schema, err := c.Driver.TaskConfigSchema(cctx, &driverpb.TaskConfigSchemaRequest{})
	if err != nil {
		return nil, fmt.Errorf("TaskConfigSchema: %w", err)
	}
	caps, err := c.Driver.Capabilities(cctx, &driverpb.CapabilitiesRequest{})
	if err != nil {
		return nil, fmt.Errorf("Capabilities: %w", err)
	}
	spec := t.spec
	if caps.GetCapabilities().GetFsIsolation() == driverpb.DriverCapabilities_IMAGE {
		spec.NoHostEnv = true
	}
	env := BuildTaskEnv(t.alloc.opts, t.alloc.dir, spec)
	enc, err := EncodeConfig(schema.GetSpec(), t.spec.Config, TaskEvalContext(env))
	if err != nil {
		return nil, fmt.Errorf("task %q config: %w", t.spec.Name, err)
	}
	t.mu.Lock()
	t.env, t.caps, t.encoded = env, caps.GetCapabilities(), enc
	t.mu.Unlock()
	return enc, nil
}

// Start prepares the task, creates its log FIFOs and calls StartTask with a
// new task id. The plugin must return a handle.
func (t *TaskRunner) Start(ctx context.Context) (*driverpb.StartTaskResponse, error) {
	enc, err := t.Prepare(ctx)
	if err != nil {
		return nil, err
	}
	t.closeLogs()
	logs, err := StartLogMon(t.alloc.dir.LogDir(), t.spec.Name)
	if err != nil {
		return nil, fmt.Errorf("log collector: %w", err)
	}
	t.mu.Lock()
	env := t.env
	t.mu.Unlock()
	cfg := buildTaskConfig(t.alloc, t.spec, NewTaskID(t.alloc.opts.ID, t.spec.Name), env, enc.Msgpack, logs)
	t.mu.Lock()
	t.logs, t.config, t.handle = logs, cfg, nil
	t.mu.Unlock()

	resp, err := t.client().Driver.StartTask(ctx, &driverpb.StartTaskRequest{Task: cfg})
	if err != nil {
		return nil, err
	}
	if resp.GetHandle() == nil {
		return resp, fmt.Errorf("StartTask returned no handle")
	}
	t.mu.Lock()
	t.handle = resp.GetHandle()
	t.mu.Unlock()
	return resp, nil
}

// TaskID is the id of the current start ("" before Start).
func (t *TaskRunner) TaskID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.config.GetId()
}

// Config is the TaskConfig of the current start.
func (t *TaskRunner) Config() *driverpb.TaskConfig {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.config
}

// Env is the task environment of the current start.
func (t *TaskRunner) Env() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.env
}

// Capabilities is what the plugin reported before the current start.
func (t *TaskRunner) Capabilities() *driverpb.DriverCapabilities {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.caps
}

// Handle is the handle StartTask returned (what the agent persists).
func (t *TaskRunner) Handle() *driverpb.TaskHandle {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.handle
}

// Logs is the log collector of the current start.
func (t *TaskRunner) Logs() *LogMon {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.logs
}

func (t *TaskRunner) started() (string, error) {
	id := t.TaskID()
	if id == "" {
		return "", ErrNotStarted
	}
	return id, nil
}

// Wait calls WaitTask, which blocks until the task exits or ctx ends.
func (t *TaskRunner) Wait(ctx context.Context) (*driverpb.WaitTaskResponse, error) {
	id, err := t.started()
	if err != nil {
		return nil, err
	}
	return t.client().Driver.WaitTask(ctx, &driverpb.WaitTaskRequest{TaskId: id})
}

// Stop calls StopTask with the task's kill_timeout and kill_signal.
func (t *TaskRunner) Stop(ctx context.Context) error {
	return t.StopWith(ctx, t.spec.KillTimeout, t.spec.KillSignal)
}

// StopWith calls StopTask with an explicit timeout and signal.
func (t *TaskRunner) StopWith(ctx context.Context, timeout time.Duration, signal string) error {
	id, err := t.started()
	if err != nil {
		return err
	}
	_, err = t.client().Driver.StopTask(ctx, &driverpb.StopTaskRequest{
		TaskId: id, Timeout: durationpb.New(timeout), Signal: signal,
	})
	return err
}

// Destroy calls DestroyTask (the task runner always passes force=true).
func (t *TaskRunner) Destroy(ctx context.Context, force bool) error {
	id, err := t.started()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err = t.client().Driver.DestroyTask(cctx, &driverpb.DestroyTaskRequest{TaskId: id, Force: force})
	return err
}

// Inspect calls InspectTask.
func (t *TaskRunner) Inspect(ctx context.Context) (*driverpb.InspectTaskResponse, error) {
	id, err := t.started()
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	return t.client().Driver.InspectTask(cctx, &driverpb.InspectTaskRequest{TaskId: id})
}

// Signal calls SignalTask with a signal name such as "SIGHUP".
func (t *TaskRunner) Signal(ctx context.Context, signal string) error {
	id, err := t.started()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	_, err = t.client().Driver.SignalTask(cctx, &driverpb.SignalTaskRequest{TaskId: id, Signal: signal})
	return err
}

// Stats opens the TaskStats stream with the given collection interval.
func (t *TaskRunner) Stats(ctx context.Context, interval time.Duration) (driverpb.Driver_TaskStatsClient, error) {
	id, err := t.started()
	if err != nil {
		return nil, err
	}
	return t.client().Driver.TaskStats(ctx, &driverpb.TaskStatsRequest{TaskId: id, CollectionInterval: durationpb.New(interval)})
}

// Recover calls RecoverTask as the agent does: only the handle is set
// (task_id stays empty). With fromStateDB the handle is the one the agent
// persisted, which lacks msgpack_driver_config (agent restart, reattach);
// otherwise it is the in-memory handle (plugin crash).
func (t *TaskRunner) Recover(ctx context.Context, fromStateDB bool) error {
	t.mu.Lock()
	handle := t.handle
	t.mu.Unlock()
	if handle == nil {
		return ErrNotStarted
	}
	handle = proto.Clone(handle).(*driverpb.TaskHandle)
	if fromStateDB && handle.Config != nil {
		handle.Config.MsgpackDriverConfig = nil
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err := t.client().Driver.RecoverTask(cctx, &driverpb.RecoverTaskRequest{Handle: handle})
	return err
}

func (t *TaskRunner) closeLogs() {
	t.mu.Lock()
	logs := t.logs
	t.mu.Unlock()
	if logs != nil {
		logs.Stop()
	}
}
