package pluginhost

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// AllocOptions describes an allocation placed on this host.
type AllocOptions struct {
	// ID is the alloc id; empty means a new UUID.
	ID string
	// JobID, JobName, Group, Namespace, Region and Datacenter name the job;
	// empty fields get defaults ("example", "web", "default", "global", "dc1").
	JobID, JobName, Group, Namespace, Region, Datacenter string
	// NodeName and NodeID describe this node; empty means hostname and a new
	// UUID.
	NodeName, NodeID string
	// Ports are the group network ports (host mode), in job order.
	Ports []Port
	// Root is the directory that holds alloc dirs; the alloc's own dir is
	// <Root>/<ID>.
	Root string
	// Index is the alloc's index within its group (NOMAD_ALLOC_INDEX and
	// the "[n]" of NOMAD_ALLOC_NAME); zero for a single allocation.
	Index int
}

func (o *AllocOptions) fillDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.ID, NewUUID())
	def(&o.JobID, "example")
	def(&o.JobName, o.JobID)
	def(&o.Group, "web")
	def(&o.Namespace, "default")
	def(&o.Region, "global")
	def(&o.Datacenter, "dc1")
	if o.NodeName == "" {
		o.NodeName, _ = os.Hostname()
	}
	def(&o.NodeID, NewUUID())
}

// Alloc is one allocation: its directory tree and its tasks.
type Alloc struct {
	host *Host
	opts AllocOptions
	dir  AllocDir

	mu    sync.Mutex
	tasks map[string]*TaskRunner
}

// NewAlloc creates the allocation's directories.
func (h *Host) NewAlloc(opts AllocOptions) (*Alloc, error) {
	if opts.Root == "" {
		return nil, fmt.Errorf("AllocOptions.Root is required")
	}
	opts.fillDefaults()
	dir, err := BuildAllocDir(filepath.Join(opts.Root, opts.ID))
	if err != nil {
		return nil, err
	}
	return &Alloc{host: h, opts: opts, dir: dir, tasks: map[string]*TaskRunner{}}, nil
}

// ID is the alloc id.
func (a *Alloc) ID() string { return a.opts.ID }

// Options returns the alloc's options with defaults filled in.
func (a *Alloc) Options() AllocOptions { return a.opts }

// Dir is the alloc's directory tree.
func (a *Alloc) Dir() AllocDir { return a.dir }

// Port returns the group port with the given label.
func (a *Alloc) Port(label string) (Port, bool) {
	for _, p := range a.opts.Ports {
		if p.Label == label {
			return p, true
		}
	}
	return Port{}, false
}

// NewTask creates a task's directories and a runner for it. Nothing is
// started yet.
func (a *Alloc) NewTask(spec TaskSpec) (*TaskRunner, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, exists := a.tasks[spec.Name]; exists {
		return nil, fmt.Errorf("task %q already exists in alloc %s", spec.Name, a.opts.ID)
	}
	td, err := a.dir.BuildTaskDir(spec.Name)
	if err != nil {
		return nil, err
	}
	t := &TaskRunner{alloc: a, spec: spec.withDefaults(), dir: td}
	a.tasks[spec.Name] = t
	return t, nil
}

// Close stops the log collectors of every task. Task processes are not
// touched; stop and destroy tasks first.
func (a *Alloc) Close() {
	a.mu.Lock()
	tasks := make([]*TaskRunner, 0, len(a.tasks))
	for _, t := range a.tasks {
		tasks = append(tasks, t)
	}
	a.mu.Unlock()
	for _, t := range tasks {
		t.closeLogs()
	}
}
