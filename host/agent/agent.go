package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2/hcldec"

	"nomad_iis/gen/driverpb"
	"nomad_iis/gen/hclspec"
	"nomad_iis/host/pluginhost"
)

// Agent is a running single-node host.
type Agent struct {
	cfg      *Config
	log      hclog.Logger
	store    *Store
	persist  *persister
	nodeID   string
	ports    *portAllocator
	host     *pluginhost.Host
	sched    *scheduler
	periodic *periodicRunner
	// deployWatch follows the running deployments.
	deployWatch *deploymentWatcher
	mon         *pluginMonitor
	startSem    chan struct{}
	allocRoot   string
	started     time.Time

	// ctx ends when the agent exits; runners then abandon their tasks
	// (which keep running) unless they were told to stop them.
	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	runners    map[string]*allocRunner
	taskSchema *hclspec.Spec
	stopping   bool

	httpSrv    *http.Server
	httpLn     net.Listener
	httpCtx    context.Context
	httpCancel context.CancelFunc
	httpDone   chan struct{}
	pumpStop   chan struct{}
	pumpDone   chan struct{}
}

// New checks the config, prepares the data dir and loads the state file.
// Nothing is started yet.
func New(cfg *Config, log hclog.Logger) (*Agent, error) {
	if err := cfg.Finish(); err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	reserved, _ := ParsePortSpec(cfg.Client.Reserved.ReservedPorts)
	a := &Agent{
		cfg:       cfg,
		log:       log,
		ports:     newPortAllocator(cfg.Client.MinDynamicPort, cfg.Client.MaxDynamicPort, reserved, cfg.Client.HostIP),
		startSem:  make(chan struct{}, cfg.Client.StartConcurrency),
		allocRoot: filepath.Join(cfg.DataDir, "alloc"),
		runners:   map[string]*allocRunner{},
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.httpCtx, a.httpCancel = context.WithCancel(context.Background())
	for _, dir := range []string{cfg.DataDir, a.allocRoot, a.pluginDataDir()} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
	}
	if blocked := untraversableAncestor(cfg.DataDir); blocked != "" {
		log.Warn("a parent of data_dir is not world-traversable; pool workers running as another user cannot reach their sites",
			"dir", blocked, "fix", "chmod o+x "+blocked)
	}
	a.store = NewStore(nil)
	statePath := filepath.Join(cfg.DataDir, "state.json")
	if b, err := os.ReadFile(statePath); err == nil {
		if a.nodeID, err = a.store.restore(b); err != nil {
			return nil, fmt.Errorf("%s: %w", statePath, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if a.nodeID == "" {
		a.nodeID = pluginhost.NewUUID()
	}
	a.persist = newPersister(statePath, func() ([]byte, error) { return a.store.snapshot(a.nodeID) })
	a.store.onWrite = func() { a.persist.Dirty() }
	a.sched = newScheduler(a)
	a.periodic = newPeriodicRunner(a)
	a.deployWatch = newDeploymentWatcher(a)
	a.mon = newPluginMonitor(a)
	return a, nil
}

// untraversableAncestor returns the first parent of dir (or dir) that
// others cannot enter, or "".
func untraversableAncestor(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
			return d
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}

func (a *Agent) pluginDataDir() string {
	return filepath.Join(a.cfg.DataDir, "plugin-data", a.cfg.PluginName())
}

// NodeID is this node's ID.
func (a *Agent) NodeID() string { return a.nodeID }

// Store is the agent's state.
func (a *Agent) Store() *Store { return a.store }

// Host is the plugin host.
func (a *Agent) Host() *pluginhost.Host { return a.host }

// DriverName is the loaded driver's name ("iis").
func (a *Agent) DriverName() string {
	if a.host == nil || a.host.Description() == nil {
		return ""
	}
	return a.host.Description().Info.GetName()
}

// Start launches the plugin as a Nomad client does, recovers the tasks of
// the previous run, starts the scheduler and the HTTP API.
func (a *Agent) Start(ctx context.Context) error {
	a.started = time.Now()
	opts := pluginhost.LaunchOptions{
		Path:         a.cfg.PluginPath,
		Args:         a.cfg.Plugin().Args,
		Logger:       a.log.Named("plugin"),
		StartTimeout: 30 * time.Second,
	}
	pluginConfig, err := a.pluginConfig(ctx, opts)
	if err != nil {
		return err
	}
	startup := pluginhost.StartupFull
	if a.cfg.PluginStartup == "short" {
		startup = pluginhost.StartupShort
	}
	a.host, err = pluginhost.Start(ctx, pluginhost.Config{Launch: opts, PluginConfig: pluginConfig, Startup: startup})
	if err != nil {
		return fmt.Errorf("plugin start: %w", err)
	}
	a.log.Info("plugin started", "name", a.DriverName(), "pid", a.host.Driver().Pid(),
		"version", a.host.Description().Info.GetPluginVersion())
	if err := a.loadTaskSchema(ctx); err != nil {
		a.host.Shutdown()
		return err
	}
	a.mon.start()
	a.pumpStop, a.pumpDone = make(chan struct{}), make(chan struct{})
	go a.pumpEvents()
	a.restoreAllocs()
	a.sched.start()
	for _, key := range a.store.JobKeys() {
		a.sched.Enqueue(key)
	}
	a.periodic.start()
	a.deployWatch.start()
	if err := a.serveHTTP(); err != nil {
		a.Shutdown(false)
		return err
	}
	return nil
}

// pluginConfig is the plugin block's config with data_dir pointed into the
// agent's data dir when the plugin has that option and it is not set.
func (a *Agent) pluginConfig(ctx context.Context, opts pluginhost.LaunchOptions) ([]byte, error) {
	raw := a.cfg.Plugin().Config
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	var tree interface{}
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, fmt.Errorf("plugin config: %w", err)
	}
	obj, _ := tree.(map[string]interface{})
	if list, ok := tree.([]interface{}); ok && len(list) == 1 {
		obj, _ = list[0].(map[string]interface{})
	}
	if obj == nil {
		return raw, nil
	}
	if _, set := obj["data_dir"]; set {
		return raw, nil
	}
	desc, _, err := pluginhost.LoadPlugin(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("plugin: %w", err)
	}
	if desc.ConfigDecoder == nil {
		return raw, nil
	}
	if ty := hcldec.ImpliedType(desc.ConfigDecoder); !ty.IsObjectType() || !ty.HasAttribute("data_dir") {
		return raw, nil
	}
	obj["data_dir"] = a.pluginDataDir()
	return json.Marshal(tree)
}

func (a *Agent) loadTaskSchema(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := a.host.Client().Driver.TaskConfigSchema(cctx, &driverpb.TaskConfigSchemaRequest{})
	if err != nil {
		return fmt.Errorf("TaskConfigSchema: %w", err)
	}
	a.mu.Lock()
	a.taskSchema = resp.GetSpec()
	a.mu.Unlock()
	return nil
}

// checkTaskConfig decodes a task's config against the plugin's schema with
// placeholder values for the task env, as the client will at start.
func (a *Agent) checkTaskConfig(t *Task, ports []Port) error {
	a.mu.Lock()
	schema := a.taskSchema
	a.mu.Unlock()
	if schema == nil {
		return nil
	}
	pp := make([]pluginhost.Port, 0, len(ports))
	for i, p := range ports {
		v := p.Value
		if v == 0 {
			v = a.cfg.Client.MinDynamicPort + i
		}
		pp = append(pp, pluginhost.Port{Label: p.Label, Value: v, To: p.To, HostIP: a.cfg.Client.HostIP})
	}
	opts := pluginhost.AllocOptions{ID: pluginhost.NewUUID(), JobID: "validate", Group: "validate", Ports: pp, NodeID: a.nodeID}
	opts.JobName, opts.Namespace, opts.Region, opts.Datacenter, opts.NodeName = "validate", "default", a.cfg.Region, a.cfg.Datacenter, a.cfg.Name
	env := pluginhost.BuildTaskEnv(opts, pluginhost.AllocDir{Root: filepath.Join(a.allocRoot, opts.ID)},
		pluginhost.TaskSpec{Name: t.Name, Env: t.Env})
	_, err := pluginhost.EncodeConfig(schema, configOrEmpty(t.Config), pluginhost.TaskEvalContext(env))
	return err
}

func configOrEmpty(c json.RawMessage) []byte {
	if len(c) == 0 || string(c) == "null" {
		return []byte("{}")
	}
	return c
}

func (a *Agent) serveHTTP() error {
	addr := net.JoinHostPort(a.cfg.BindAddr, strconv.Itoa(a.cfg.HTTPPort()))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("HTTP API: %w", err)
	}
	a.httpLn = ln
	a.httpSrv = &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return a.httpCtx },
	}
	a.httpDone = make(chan struct{})
	go func() {
		defer close(a.httpDone)
		if err := a.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("HTTP API stopped", "error", err)
		}
	}()
	a.log.Info("HTTP API listening", "address", "http://"+ln.Addr().String())
	if ip := net.ParseIP(a.cfg.BindAddr); ip != nil && !ip.IsLoopback() {
		a.log.Warn("the HTTP API listens beyond loopback and has no ACLs: anyone who reaches it can run jobs",
			"bind_addr", a.cfg.BindAddr)
	}
	return nil
}

// HTTPAddr is the HTTP API's host:port.
func (a *Agent) HTTPAddr() string {
	if a.httpLn == nil {
		return ""
	}
	return a.httpLn.Addr().String()
}

// Shutdown stops the agent: the HTTP API and the scheduler first, then
// either every task (stopTasks) or nothing (tasks keep running and are
// recovered by the next start), then the plugin, then the state is written.
func (a *Agent) Shutdown(stopTasks bool) error {
	a.mu.Lock()
	if a.stopping {
		a.mu.Unlock()
		return nil
	}
	a.stopping = true
	runners := make([]*allocRunner, 0, len(a.runners))
	for _, r := range a.runners {
		runners = append(runners, r)
	}
	a.mu.Unlock()

	a.httpCancel()
	if a.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = a.httpSrv.Shutdown(ctx)
		cancel()
		_ = a.httpSrv.Close()
		<-a.httpDone
	}
	a.deployWatch.stop()
	a.periodic.stop()
	a.sched.stop()
	if stopTasks {
		a.log.Info("stopping all tasks", "allocations", len(runners))
		var wg sync.WaitGroup
		for _, r := range runners {
			wg.Add(1)
			go func(r *allocRunner) {
				defer wg.Done()
				r.kill("host is shutting down", true)
				r.wait()
			}(r)
		}
		wg.Wait()
	}
	a.cancel()
	for _, r := range runners {
		r.wait()
	}
	a.mon.stop()
	if a.pumpStop != nil {
		close(a.pumpStop)
		<-a.pumpDone
	}
	if a.host != nil {
		kill := a.host.Shutdown()
		a.log.Info("plugin stopped", "graceful", kill.Graceful, "elapsed", kill.Elapsed)
	}
	return a.persist.Close()
}

// runner returns the runner of an allocation.
func (a *Agent) runner(id string) *allocRunner {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runners[id]
}

// addRunner starts a runner for an allocation unless the agent is exiting.
func (a *Agent) addRunner(rec *allocRecord, mode runMode) {
	a.mu.Lock()
	if a.stopping || a.runners[rec.Alloc.ID] != nil {
		a.mu.Unlock()
		return
	}
	r := newAllocRunner(a, rec)
	a.runners[rec.Alloc.ID] = r
	a.mu.Unlock()
	go r.run(mode)
}

func (a *Agent) removeRunner(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.runners, id)
}

func (a *Agent) isStopping() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stopping
}

// restoreAllocs starts runners for the allocations of the previous run:
// running tasks are recovered, tasks the host stopped on exit start again.
func (a *Agent) restoreAllocs() {
	n := 0
	for _, rec := range a.store.AllocRecords() {
		revive := false
		for _, tr := range rec.Tasks {
			if tr.StoppedByHost {
				revive = true
			}
		}
		al := rec.Alloc
		if allocClientTerminal(al) && !(revive && al.DesiredStatus == AllocDesiredRun) {
			continue
		}
		n++
		a.addRunner(rec, runRestore)
	}
	if n > 0 {
		a.log.Info("recovering allocations", "count", n)
	}
}
