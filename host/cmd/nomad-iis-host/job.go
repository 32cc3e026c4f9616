package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"nomad_iis/host/agent"
	"nomad_iis/host/apiclient"
)

func jobUsage() {
	fmt.Fprint(os.Stderr, `usage: nomad-iis-host job <subcommand> [flags] ...

subcommands:
  run FILE        register a job (JSON, or HCL: .hcl/.nomad) and follow its evaluation and
                  deployment as "nomad job run" does (-detach: return at once; exit 2:
                  allocations not placed, 1: deployment failed)
  status [ID]     list jobs, or show one job with its allocations and URLs
  stop ID         stop a job (-purge removes it)
  urls ID         print "<alloc ID> <port label> <URL>" for each running allocation
  validate FILE   check a job file against the agent (driver config included)
  parse FILE      print a job file as the API's JSON ({"Job": ...})

Every subcommand takes -address (default $NOMAD_ADDR or http://127.0.0.1:4646).
`)
}

func cmdJob(args []string) error {
	if len(args) == 0 {
		jobUsage()
		return usagef("missing subcommand")
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("job "+sub, flag.ContinueOnError)
	address := fs.String("address", os.Getenv("NOMAD_ADDR"), "the agent's HTTP API")
	detach := fs.Bool("detach", false, "run: return after registering, without following the evaluation")
	checkIndex := fs.Int64("check-index", -1, "run: register only if the job's modify index is this (0: only if new)")
	timeout := fs.Duration("timeout", 2*time.Minute, "run: how long to follow the evaluation and deployment")
	purge := fs.Bool("purge", false, "stop: remove the job")
	if err := fs.Parse(rest); err != nil {
		return usagef("%v", err)
	}
	jobs := apiclient.NewJobs(*address)
	ctx := context.Background()
	switch sub {
	case "run":
		if fs.NArg() != 1 {
			return usagef("job run needs one job file")
		}
		job, err := readJobFile(fs.Arg(0))
		if err != nil {
			return err
		}
		return jobRun(ctx, jobs, job, *checkIndex, *detach, *timeout)
	case "status":
		if fs.NArg() == 0 {
			return jobList(ctx, jobs)
		}
		return jobStatus(ctx, jobs, fs.Arg(0))
	case "stop":
		if fs.NArg() != 1 {
			return usagef("job stop needs a job ID")
		}
		resp, err := jobs.Deregister(ctx, fs.Arg(0), *purge)
		if err != nil {
			return err
		}
		fmt.Printf("==> job %q stopped (evaluation %s, index %d)\n", fs.Arg(0), resp.EvalID, resp.Index)
		return nil
	case "urls":
		if fs.NArg() != 1 {
			return usagef("job urls needs a job ID")
		}
		return jobURLs(ctx, jobs, fs.Arg(0))
	case "validate":
		if fs.NArg() != 1 {
			return usagef("job validate needs one job file")
		}
		job, err := readJobFile(fs.Arg(0))
		if err != nil {
			return err
		}
		return jobValidate(ctx, jobs, job)
	case "parse":
		if fs.NArg() != 1 {
			return usagef("job parse needs one job file")
		}
		job, err := readJobFile(fs.Arg(0))
		if err != nil {
			return err
		}
		return printJSON(map[string]interface{}{"Job": job})
	case "-h", "help":
		jobUsage()
		return nil
	}
	jobUsage()
	return usagef("unknown job subcommand %q", sub)
}

// readJobFile reads a job in HCL or in the API's JSON form ({"Job": ...}
// or the bare job object); relative local artifact sources are resolved
// against the file's folder.
func readJobFile(path string) (*agent.Job, error) {
	job, err := parseJobFile(path)
	if err != nil {
		return nil, err
	}
	job.ResolveLocalArtifacts(filepath.Dir(path))
	return job, nil
}

func parseJobFile(path string) (*agent.Job, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if agent.IsHCLJobFile(path, src) {
		return agent.ParseJobHCL(src, path)
	}
	var wrapped struct{ Job *agent.Job }
	dec := json.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&wrapped); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if wrapped.Job != nil {
		return wrapped.Job, nil
	}
	var job agent.Job
	if err := json.Unmarshal(src, &job); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if job.ID == "" {
		return nil, fmt.Errorf("%s: neither {\"Job\": {...}} nor a job with an ID", path)
	}
	return &job, nil
}

// jobRun registers a job and, unless detached, follows it as `nomad job
// run` does: the evaluation (allocations placed, placement failures: exit
// 2), then its deployment until it succeeds or fails (exit 1), or, for a
// service job without one, until its allocations run.
func jobRun(ctx context.Context, jobs *apiclient.Jobs, job *agent.Job, checkIndex int64, detach bool, timeout time.Duration) error {
	resp, err := jobs.Register(ctx, job, checkIndex >= 0, uint64(maxInt64(checkIndex, 0)))
	if err != nil {
		return err
	}
	if resp.Warnings != "" {
		fmt.Printf("Job Warnings:\n%s\n\n", resp.Warnings)
	}
	if detach || resp.EvalID == "" {
		fmt.Printf("Job registration successful\n")
		if resp.EvalID != "" {
			fmt.Printf("Evaluation ID: %s\n", resp.EvalID)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m := &monitor{jobs: jobs, out: os.Stdout}
	ev, err := m.evaluation(ctx, resp.EvalID)
	if err != nil {
		return waitError(ctx, err, timeout)
	}
	if ev.DeploymentID != "" {
		status, err := m.deployment(ctx, ev.DeploymentID)
		if err != nil {
			return waitError(ctx, err, timeout)
		}
		if status != agent.DeploymentStatusSuccessful {
			return &exitError{code: 1, msg: fmt.Sprintf("deployment %q %s", short(ev.DeploymentID), status)}
		}
		return nil
	}
	if len(ev.FailedTGAllocs) > 0 {
		return &exitError{code: 2, msg: "failed to place all allocations"}
	}
	if job.Type == agent.JobTypeService || job.Type == agent.JobTypeSystem || job.Type == "" {
		// No deployment to follow (no update block): wait for the
		// allocations to run instead.
		want := 0
		for _, g := range job.TaskGroups {
			if g.Count == nil {
				want++
			} else {
				want += *g.Count
			}
		}
		if _, err := jobs.WaitRunning(ctx, job.ID, want, timeout); err != nil {
			return err
		}
	}
	return nil
}

// waitError names the time box when the wait ran out.
func waitError(ctx context.Context, err error, timeout time.Duration) error {
	if ctx.Err() != nil {
		return fmt.Errorf("still not done after -timeout %v: %w", timeout, err)
	}
	return err
}

func jobList(ctx context.Context, jobs *apiclient.Jobs) error {
	list, _, err := jobs.List(ctx, "", nil)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Println("No running jobs")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tType\tPriority\tStatus\tSubmit Date")
	for _, j := range list {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", j.ID, j.Type, j.Priority, j.Status,
			time.Unix(0, j.SubmitTime).Format(time.RFC3339))
	}
	return tw.Flush()
}

func jobStatus(ctx context.Context, jobs *apiclient.Jobs, id string) error {
	job, _, err := jobs.Info(ctx, id, nil)
	if err != nil {
		return err
	}
	stubs, _, err := jobs.Allocations(ctx, id, nil)
	if err != nil {
		return err
	}
	fmt.Printf("ID            = %s\nName          = %s\nType          = %s\nStatus        = %s\nVersion       = %d\n",
		job.ID, job.Name, job.Type, job.Status, job.Version)
	sort.Slice(stubs, func(i, j int) bool { return stubs[i].Name < stubs[j].Name })
	fmt.Println("\nAllocations")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tName\tDesired\tStatus\tRestarts\tURLs")
	for _, s := range stubs {
		restarts := uint64(0)
		for _, ts := range s.TaskStates {
			restarts += ts.Restarts
		}
		urls := ""
		if al, err := jobs.Allocation(ctx, s.ID); err == nil && al.AllocatedResources != nil {
			var parts []string
			for _, p := range al.AllocatedResources.Shared.Ports {
				parts = append(parts, fmt.Sprintf("%s=http://%s:%d/", p.Label, p.HostIP, p.Value))
			}
			urls = strings.Join(parts, " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", s.ID[:8], s.Name, s.DesiredStatus, s.ClientStatus, restarts, urls)
	}
	return tw.Flush()
}

func jobURLs(ctx context.Context, jobs *apiclient.Jobs, id string) error {
	targets, err := (&apiclient.Resolver{Jobs: jobs, NoMgmt: true}).JobTargets(ctx, id, "")
	if err != nil {
		return err
	}
	for _, t := range targets {
		for _, p := range t.Ports {
			fmt.Printf("%s %s http://%s:%d/\n", t.AllocID, p.Label, p.HostIP, p.Value)
		}
	}
	return nil
}

func jobValidate(ctx context.Context, jobs *apiclient.Jobs, job *agent.Job) error {
	var resp agent.JobValidateResponse
	if err := postJSON(ctx, jobs, "/v1/validate/job", &agent.JobRegisterRequest{Job: job}, &resp); err != nil {
		return err
	}
	if resp.Warnings != "" {
		fmt.Printf("Warnings:\n  %s\n", strings.ReplaceAll(resp.Warnings, "\n", "\n  "))
	}
	if len(resp.ValidationErrors) > 0 {
		return fmt.Errorf("job validation failed:\n  %s", strings.Join(resp.ValidationErrors, "\n  "))
	}
	fmt.Println("Job validation successful")
	return nil
}

func maxInt64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func postJSON(ctx context.Context, jobs *apiclient.Jobs, path string, in, out interface{}) error {
	return jobs.Post(ctx, path, in, out)
}
