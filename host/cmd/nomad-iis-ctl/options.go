package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"nomad_iis/host/apiclient"
)

// options are the flags every command shares.
type options struct {
	address string
	apiKey  string
	token   string
	mgmtURL string
	alloc   string
	job     string
	task    string
	timeout time.Duration
}

func (o *options) register(fs *flag.FlagSet, needTarget bool) {
	fs.StringVar(&o.address, "address", os.Getenv("NOMAD_ADDR"), "Jobs API address")
	fs.StringVar(&o.apiKey, "api-key", os.Getenv("NOMAD_IIS_API_KEY"), "Management API key")
	fs.StringVar(&o.token, "token", os.Getenv("NOMAD_IIS_TOKEN"), "Management API JWT")
	fs.StringVar(&o.mgmtURL, "mgmt-url", os.Getenv("NOMAD_IIS_MGMT_ADDR"), "Management API URL (default: from the node)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up after this long")
	if needTarget {
		fs.StringVar(&o.alloc, "alloc", "", "allocation ID or unique prefix")
		fs.StringVar(&o.job, "job", "", "job ID (all of its running allocations)")
		fs.StringVar(&o.task, "task", "", "task name (default: the only task)")
	}
}

func (o *options) jobs() *apiclient.Jobs { return apiclient.NewJobs(o.address) }

func (o *options) resolver() *apiclient.Resolver {
	return &apiclient.Resolver{Jobs: o.jobs(), MgmtURL: o.mgmtURL}
}

func (o *options) mgmt(baseURL string) *apiclient.Mgmt {
	m := apiclient.NewMgmt(baseURL, o.apiKey)
	m.Token = o.token
	return m
}

// targets resolves --alloc or --job/--task.
func (o *options) targets(ctx context.Context) ([]apiclient.Target, error) {
	r := o.resolver()
	switch {
	case o.alloc != "" && o.job != "":
		return nil, usagef("give --alloc or --job, not both")
	case o.alloc != "":
		t, err := r.AllocTarget(ctx, o.alloc, o.task)
		if err != nil {
			return nil, err
		}
		return []apiclient.Target{t}, nil
	case o.job != "":
		return r.JobTargets(ctx, o.job, o.task)
	}
	return nil, usagef("choose the allocation: --alloc ID, or --job JOB [--task TASK]")
}

// one resolves exactly one target (for commands that produce one file).
func (o *options) one(ctx context.Context) (apiclient.Target, error) {
	ts, err := o.targets(ctx)
	if err != nil {
		return apiclient.Target{}, err
	}
	if len(ts) > 1 {
		var ids []string
		for _, t := range ts {
			ids = append(ids, t.AllocID[:8]+" ("+t.Name+")")
		}
		return apiclient.Target{}, fmt.Errorf("job %q has %d running allocations (%s): pick one with --alloc",
			o.job, len(ts), strings.Join(ids, ", "))
	}
	return ts[0], nil
}

// parse parses flags that may come before or after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
