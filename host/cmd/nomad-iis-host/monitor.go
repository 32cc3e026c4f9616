package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"nomad_iis/host/agent"
	"nomad_iis/host/apiclient"
)

// exitError ends the command with a given exit code; `nomad job run`
// exits 2 when allocations could not be placed and 1 when the deployment
// did not succeed.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// monitor follows an evaluation and then its deployment as `nomad job
// run` does, printing the same kind of lines.
type monitor struct {
	jobs *apiclient.Jobs
	out  io.Writer
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func stamp() string { return time.Now().Format(time.RFC3339) }

func (m *monitor) info(format string, args ...interface{}) {
	fmt.Fprintf(m.out, "==> %s: %s\n", stamp(), fmt.Sprintf(format, args...))
}

func (m *monitor) output(format string, args ...interface{}) {
	fmt.Fprintf(m.out, "    %s: %s\n", stamp(), fmt.Sprintf(format, args...))
}

// evaluation waits until the evaluation is done and returns it, having
// printed its allocations and status changes as they came.
func (m *monitor) evaluation(ctx context.Context, id string) (*agent.Evaluation, error) {
	m.info("Monitoring evaluation %q", short(id))
	var index uint64
	status, deployment, job := "", "", false
	seen := map[string]string{}
	for {
		var ev agent.Evaluation
		idx, err := m.jobs.Query(ctx, "/v1/evaluation/"+id, &apiclient.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second}, &ev)
		if err != nil {
			return nil, err
		}
		var allocs []*agent.AllocListStub
		if _, err := m.jobs.Query(ctx, "/v1/evaluation/"+id+"/allocations", nil, &allocs); err != nil {
			return nil, err
		}
		if !job && ev.JobID != "" {
			job = true
			m.output("Evaluation triggered by job %q", ev.JobID)
		}
		if deployment == "" && ev.DeploymentID != "" {
			deployment = ev.DeploymentID
			m.output("Evaluation within deployment: %q", short(deployment))
		}
		m.allocChanges(allocs, seen, ev.CreateIndex)
		if status != "" && ev.Status != status && ev.Status != "pending" {
			m.output("Evaluation status changed: %q -> %q", status, ev.Status)
		}
		status = ev.Status
		switch ev.Status {
		case agent.EvalStatusComplete, agent.EvalStatusFailed, agent.EvalStatusCanceled:
			m.evalFinished(&ev)
			return &ev, nil
		}
		if idx > index {
			index = idx
		}
	}
}

func (m *monitor) allocChanges(allocs []*agent.AllocListStub, seen map[string]string, evalIndex uint64) {
	sort.Slice(allocs, func(i, j int) bool { return allocs[i].Name < allocs[j].Name })
	for _, al := range allocs {
		prev, ok := seen[al.ID]
		seen[al.ID] = al.ClientStatus
		switch {
		case !ok && al.CreateIndex < evalIndex:
			m.output("Allocation %q modified: node %q, group %q", short(al.ID), short(al.NodeID), al.TaskGroup)
		case !ok && al.DesiredStatus == agent.AllocDesiredRun:
			m.output("Allocation %q created: node %q, group %q", short(al.ID), short(al.NodeID), al.TaskGroup)
		case ok && prev != al.ClientStatus:
			desc := ""
			if al.ClientDescription != "" {
				desc = " (" + al.ClientDescription + ")"
			}
			m.output("Allocation %q status changed: %q -> %q%s", short(al.ID), prev, al.ClientStatus, desc)
		}
	}
}

func (m *monitor) evalFinished(ev *agent.Evaluation) {
	if len(ev.FailedTGAllocs) == 0 {
		m.info("Evaluation %q finished with status %q", short(ev.ID), ev.Status)
		return
	}
	m.info("Evaluation %q finished with status %q but failed to place all allocations:", short(ev.ID), ev.Status)
	for _, g := range slices.Sorted(maps.Keys(ev.FailedTGAllocs)) {
		mt := ev.FailedTGAllocs[g]
		noun := "allocation"
		if mt.CoalescedFailures > 0 {
			noun += "s"
		}
		m.output("Task Group %q (failed to place %d %s):", g, mt.CoalescedFailures+1, noun)
		for _, line := range failureLines(mt) {
			fmt.Fprintf(m.out, "      * %s\n", line)
		}
	}
	if ev.BlockedEval != "" {
		m.output("Evaluation %q waiting for additional capacity to place remainder", short(ev.BlockedEval))
	}
}

// failureLines are Nomad's reasons for a placement failure.
func failureLines(mt *agent.AllocMetric) []string {
	var out []string
	add := func(m map[string]int, format string) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			out = append(out, fmt.Sprintf(format, k, m[k]))
		}
	}
	if mt.NodesEvaluated == 0 {
		out = append(out, "No nodes were eligible for evaluation")
	}
	add(mt.ConstraintFiltered, "Constraint %q: %d nodes excluded by filter")
	if mt.NodesExhausted > 0 {
		out = append(out, fmt.Sprintf("Resources exhausted on %d nodes", mt.NodesExhausted))
	}
	add(mt.DimensionExhausted, "Dimension %q exhausted on %d nodes")
	return out
}

// deployment follows a deployment until it is no longer running and
// returns its final status; a failed deployment that auto-reverted is
// followed by its rollback, as in Nomad.
func (m *monitor) deployment(ctx context.Context, id string) (string, error) {
	m.info("Monitoring deployment %q", short(id))
	var index uint64
	last := ""
	for {
		var d agent.Deployment
		idx, err := m.jobs.Query(ctx, "/v1/deployment/"+id, &apiclient.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second}, &d)
		if err != nil {
			return "", err
		}
		if text := formatDeployment(&d); text != last {
			last = text
			fmt.Fprintf(m.out, "\n    %s\n%s\n", stamp(), text)
		}
		switch d.Status {
		case agent.DeploymentStatusRunning, agent.DeploymentStatusPaused:
			if idx > index {
				index = idx
			}
			continue
		case agent.DeploymentStatusFailed:
			m.rollback(ctx, &d)
		}
		return d.Status, nil
	}
}

func (m *monitor) rollback(ctx context.Context, failed *agent.Deployment) {
	auto := false
	for _, g := range failed.TaskGroups {
		auto = auto || g.AutoRevert
	}
	if !auto {
		return
	}
	time.Sleep(time.Second) // as Nomad: give the rollback a moment to start
	var next *agent.Deployment
	if err := m.jobs.Get(ctx, "/v1/job/"+url.PathEscape(failed.JobID)+"/deployment", &next); err != nil ||
		next == nil || next.ID == failed.ID {
		return
	}
	fmt.Fprintln(m.out)
	_, _ = m.deployment(ctx, next.ID)
}

// formatDeployment is the deployment as `nomad deployment status` shows it.
func formatDeployment(d *agent.Deployment) string {
	var b strings.Builder
	fmt.Fprintf(&b, "    ID          = %s\n    Job ID      = %s\n    Job Version = %d\n    Status      = %s\n    Description = %s\n\n    Deployed\n",
		short(d.ID), d.JobID, d.JobVersion, d.Status, d.StatusDescription)
	tw := tabwriter.NewWriter(&b, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "    Task Group\tDesired\tPlaced\tHealthy\tUnhealthy\tProgress Deadline")
	for _, g := range slices.Sorted(maps.Keys(d.TaskGroups)) {
		s := d.TaskGroups[g]
		deadline := "N/A"
		if !s.RequireProgressBy.IsZero() {
			deadline = s.RequireProgressBy.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "    %s\t%d\t%d\t%d\t%d\t%s\n", g, s.DesiredTotal, s.PlacedAllocs, s.HealthyAllocs, s.UnhealthyAllocs, deadline)
	}
	_ = tw.Flush()
	return strings.TrimRight(b.String(), "\n")
}
