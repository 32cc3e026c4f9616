package apiclient

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"nomad_iis/host/agent"
)

// Target is one task of a running allocation, with what a tool needs to
// reach it.
type Target struct {
	AllocID string
	Name    string
	JobID   string
	Group   string
	Task    string
	NodeID  string
	// Ports are the allocation's group ports.
	Ports []agent.PortMapping
	// MgmtURL is the base URL of the Management API on the node.
	MgmtURL string
}

// PortURL is http://host:port/ of a port label ("" if there is none).
func (t Target) PortURL(label string) string {
	for _, p := range t.Ports {
		if p.Label == label || label == "" {
			return fmt.Sprintf("http://%s/", net.JoinHostPort(p.HostIP, fmt.Sprint(p.Value)))
		}
	}
	return ""
}

// Resolver turns "--job J --task T" or an alloc ID into targets: through
// the Jobs API (the job's running allocations, then the node's driver
// fingerprint for the Management API's port).
type Resolver struct {
	Jobs *Jobs
	// MgmtURL overrides the Management API address found on the node.
	MgmtURL string
	// NoMgmt skips finding the Management API (targets get no MgmtURL).
	NoMgmt bool

	mu    sync.Mutex
	nodes map[string]string
}

// JobTargets returns the running allocations of a job, for one task (task
// "" picks the group's only task).
func (r *Resolver) JobTargets(ctx context.Context, jobID, task string) ([]Target, error) {
	job, _, err := r.Jobs.Info(ctx, jobID, nil)
	if err != nil {
		if IsNotFound(err) {
			return nil, fmt.Errorf("job %q not found on %s", jobID, r.Jobs.Address)
		}
		return nil, err
	}
	stubs, _, err := r.Jobs.Allocations(ctx, jobID, nil)
	if err != nil {
		return nil, err
	}
	var out []Target
	counts := map[string]int{}
	for _, s := range stubs {
		counts[s.ClientStatus]++
		if s.DesiredStatus != agent.AllocDesiredRun || s.ClientStatus != agent.AllocClientRunning {
			continue
		}
		t, err := r.target(ctx, s.ID, task, job)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		var parts []string
		for k, v := range counts {
			parts = append(parts, fmt.Sprintf("%d %s", v, k))
		}
		sort.Strings(parts)
		detail := "none"
		if len(parts) > 0 {
			detail = strings.Join(parts, ", ")
		}
		return nil, fmt.Errorf("job %q has no running allocation (allocations: %s)", jobID, detail)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// AllocTarget resolves an allocation ID (or unique prefix) and task.
func (r *Resolver) AllocTarget(ctx context.Context, allocID, task string) (Target, error) {
	return r.target(ctx, allocID, task, nil)
}

func (r *Resolver) target(ctx context.Context, allocID, task string, job *agent.Job) (Target, error) {
	al, err := r.Jobs.Allocation(ctx, allocID)
	if err != nil {
		if IsNotFound(err) {
			return Target{}, fmt.Errorf("allocation %q not found on %s", allocID, r.Jobs.Address)
		}
		return Target{}, err
	}
	if job == nil {
		job = al.Job
	}
	var tasks []string
	for name := range al.TaskStates {
		tasks = append(tasks, name)
	}
	sort.Strings(tasks)
	switch {
	case task == "" && len(tasks) == 1:
		task = tasks[0]
	case task == "" && r.NoMgmt:
		task = tasks[0]
	case task == "":
		return Target{}, fmt.Errorf("allocation %s has tasks %s: choose one with --task", al.ID, strings.Join(tasks, ", "))
	case al.TaskStates[task] == nil:
		return Target{}, fmt.Errorf("allocation %s has no task %q (tasks: %s)", al.ID, task, strings.Join(tasks, ", "))
	}
	t := Target{AllocID: al.ID, Name: al.Name, JobID: al.JobID, Group: al.TaskGroup, Task: task, NodeID: al.NodeID}
	if al.AllocatedResources != nil {
		t.Ports = al.AllocatedResources.Shared.Ports
	}
	if r.NoMgmt {
		return t, nil
	}
	if t.MgmtURL, err = r.mgmtURL(ctx, al.NodeID); err != nil {
		return Target{}, err
	}
	return t, nil
}

// mgmtURL finds the Management API of a node from its driver fingerprint
// (driver.iis.management_api_port) and address.
func (r *Resolver) mgmtURL(ctx context.Context, nodeID string) (string, error) {
	if r.MgmtURL != "" {
		return strings.TrimSuffix(r.MgmtURL, "/"), nil
	}
	r.mu.Lock()
	if u, ok := r.nodes[nodeID]; ok {
		r.mu.Unlock()
		return u, nil
	}
	r.mu.Unlock()
	// A plugin that just started reports its Management API in a later
	// fingerprint than its first: look again for a few seconds.
	var node *agent.Node
	var port string
	deadline := time.Now().Add(3 * time.Second)
	for {
		var err error
		if node, err = r.Jobs.Node(ctx, nodeID); err != nil {
			return "", fmt.Errorf("node %s: %w", nodeID, err)
		}
		for name, d := range node.Drivers {
			if p := d.Attributes["driver."+name+".management_api_port"]; p != "" {
				port = p
			}
		}
		if port != "" || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if port == "" {
		return "", fmt.Errorf("node %s does not report a Management API (no driver.iis.management_api_port in its "+
			"fingerprint): start the plugin with --management-api-port=N, or pass --mgmt-url", nodeID)
	}
	host := node.Attributes["unique.network.ip-address"]
	if host == "" {
		host, _, _ = net.SplitHostPort(node.HTTPAddr)
	}
	if host == "" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	u := "http://" + net.JoinHostPort(host, port)
	r.mu.Lock()
	if r.nodes == nil {
		r.nodes = map[string]string{}
	}
	r.nodes[nodeID] = u
	r.mu.Unlock()
	return u, nil
}

// WaitRunning waits (with blocking queries) until a job has want running
// allocations and none pending; it returns the last allocation list.
func (j *Jobs) WaitRunning(ctx context.Context, jobID string, want int, timeout time.Duration) ([]*agent.AllocListStub, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var index uint64
	var last []*agent.AllocListStub
	for {
		stubs, idx, err := j.Allocations(ctx, jobID, &QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
		if err != nil && !IsNotFound(err) {
			if ctx.Err() != nil {
				return last, fmt.Errorf("job %q: %d of %d allocations running after %v", jobID, countRunning(last), want, timeout)
			}
			return last, err
		}
		last = stubs
		if countRunning(stubs) >= want {
			return stubs, nil
		}
		for _, s := range stubs {
			if s.DesiredStatus == agent.AllocDesiredRun && s.ClientStatus == agent.AllocClientFailed {
				return stubs, fmt.Errorf("job %q: allocation %s failed: %s", jobID, s.ID, lastEvents(s))
			}
		}
		if idx > index {
			index = idx
		} else {
			time.Sleep(50 * time.Millisecond)
		}
		if ctx.Err() != nil {
			return last, fmt.Errorf("job %q: %d of %d allocations running after %v", jobID, countRunning(last), want, timeout)
		}
	}
}

func countRunning(stubs []*agent.AllocListStub) int {
	n := 0
	for _, s := range stubs {
		if s.DesiredStatus == agent.AllocDesiredRun && s.ClientStatus == agent.AllocClientRunning {
			n++
		}
	}
	return n
}

// lastEvents summarizes the newest event of each task.
func lastEvents(s *agent.AllocListStub) string {
	var parts []string
	for name, ts := range s.TaskStates {
		if n := len(ts.Events); n > 0 {
			ev := ts.Events[n-1]
			parts = append(parts, fmt.Sprintf("%s: %s: %s", name, ev.Type, ev.DisplayMessage))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// NodeMgmtURL is the Management API base URL of a node.
func (r *Resolver) NodeMgmtURL(ctx context.Context, nodeID string) (string, error) {
	return r.mgmtURL(ctx, nodeID)
}
