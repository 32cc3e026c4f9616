package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"nomad_iis/host/apiclient"
)

func run(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	var o options
	o.register(fs, cmd != "allocs")
	switch cmd {
	case "status":
		return cmdStatus(fs, &o, args)
	case "start", "stop", "recycle":
		return cmdPool(fs, &o, cmd, args)
	case "upload":
		return cmdUpload(fs, &o, args)
	case "download":
		return cmdDownload(fs, &o, args)
	case "rm":
		return cmdRemove(fs, &o, args)
	case "screenshot":
		return cmdScreenshot(fs, &o, args)
	case "procdump":
		return cmdProcdump(fs, &o, args)
	case "allocs":
		return cmdAllocs(fs, &o, args)
	}
	usage()
	return usagef("unknown command %q", cmd)
}

func withTimeout(o *options) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), o.timeout)
}

func cmdStatus(fs *flag.FlagSet, o *options, args []string) error {
	if _, err := parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := withTimeout(o)
	defer cancel()
	targets, err := o.targets(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Alloc\tName\tTask\tPool\tStatus\tWorkers\tCPU %\tMemory\tURL")
	for _, t := range targets {
		st, err := o.mgmt(t.MgmtURL).Status(ctx, t.AllocID, t.Task)
		if err != nil {
			return fmt.Errorf("allocation %s: %w", t.AllocID, err)
		}
		for _, p := range st.ApplicationPools {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%s\t%s\n", t.AllocID[:8], t.Name, t.Task, p.Name, p.Status,
				pids(p.WorkerProcessIDs), p.CPUPercent, bytesText(int64(p.MemoryBytes)), t.PortURL(""))
		}
	}
	return tw.Flush()
}

func pids(ps []int) string {
	if len(ps) == 0 {
		return "-"
	}
	var s []string
	for _, p := range ps {
		s = append(s, strconv.Itoa(p))
	}
	return strings.Join(s, ",")
}

func cmdPool(fs *flag.FlagSet, o *options, action string, args []string) error {
	pool := fs.String("pool", "", "only this application pool (default: all)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := withTimeout(o)
	defer cancel()
	targets, err := o.targets(ctx)
	if err != nil {
		return err
	}
	for _, t := range targets {
		st, err := o.mgmt(t.MgmtURL).PoolAction(ctx, t.AllocID, t.Task, action, *pool)
		if err != nil {
			return fmt.Errorf("allocation %s: %w", t.AllocID, err)
		}
		var parts []string
		for _, p := range st.ApplicationPools {
			parts = append(parts, p.Name+"="+p.Status)
		}
		fmt.Printf("%s %s/%s: %s done; pools: %s\n", t.AllocID[:8], t.Name, t.Task, action, strings.Join(parts, " "))
	}
	return nil
}

func cmdUpload(fs *flag.FlagSet, o *options, args []string) error {
	to := fs.String("to", "", "destination in the task dir (folder: default local; file: default local/<name>)")
	noStop := fs.Bool("no-stop", false, "keep the pools serving during the swap (PATCH instead of PUT)")
	clean := fs.Bool("clean", false, "the folder holds only the uploaded content afterwards")
	extract := fs.Bool("extract", false, "send a .zip file as a zip to extract into --to")
	quiet := fs.Bool("no-progress", false, "no progress bar")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("upload needs one source (a folder or a file)")
	}
	src := pos[0]
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(o)
	defer cancel()
	targets, err := o.targets(ctx)
	if err != nil {
		return err
	}
	payload, isZip, cleanup, err := preparePayload(src, st.IsDir(), *extract)
	if err != nil {
		return err
	}
	defer cleanup()
	dest := *to
	if dest == "" {
		dest = "local"
		if !isZip {
			dest = "local/" + filepath.Base(src)
		}
	}
	for _, t := range targets {
		f, err := os.Open(payload)
		if err != nil {
			return err
		}
		info, _ := f.Stat()
		bar := newProgress(fmt.Sprintf("upload %s → %s:%s", filepath.Base(src), t.AllocID[:8], dest), info.Size(), *quiet)
		res, err := o.mgmt(t.MgmtURL).Upload(ctx, t.AllocID, t.Task, dest, bar.reader(f), info.Size(),
			apiclient.UploadOptions{Zip: isZip, NoStop: *noStop, Clean: *clean})
		f.Close()
		bar.done(err == nil)
		if err != nil {
			return fmt.Errorf("allocation %s: %w", t.AllocID, err)
		}
		stopped := "none"
		if len(res.StoppedPools) > 0 {
			stopped = strings.Join(res.StoppedPools, ",")
		}
		fmt.Printf("%s %s/%s: uploaded %s, %d file(s) to %s (pools stopped during the swap: %s)\n",
			t.AllocID[:8], t.Name, t.Task, bytesText(int64(res.BytesReceived)), res.Files, dest, stopped)
	}
	return nil
}

func cmdDownload(fs *flag.FlagSet, o *options, args []string) error {
	out := fs.String("o", "", "output file (default: the name the plugin gives; \"-\": stdout)")
	quiet := fs.Bool("no-progress", false, "no progress bar")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("download needs one path in the task dir (\"local\", \"local/index.html\", \".\")")
	}
	return fetchToFile(o, apiPathFS(pos[0]), nil, *out, *quiet, "download")
}

// apiPathFS marks a fs path for fetchToFile.
func apiPathFS(rel string) string { return "fs:" + rel }

func cmdRemove(fs *flag.FlagSet, o *options, args []string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("rm needs one path in the task dir")
	}
	ctx, cancel := withTimeout(o)
	defer cancel()
	targets, err := o.targets(ctx)
	if err != nil {
		return err
	}
	for _, t := range targets {
		if err := o.mgmt(t.MgmtURL).Delete(ctx, t.AllocID, t.Task, pos[0]); err != nil {
			return fmt.Errorf("allocation %s: %w", t.AllocID, err)
		}
		fmt.Printf("%s %s/%s: removed %s\n", t.AllocID[:8], t.Name, t.Task, pos[0])
	}
	return nil
}

func cmdScreenshot(fs *flag.FlagSet, o *options, args []string) error {
	out := fs.String("o", "", "output file (default: the name the plugin gives)")
	path := fs.String("path", "/", "page to load")
	width := fs.Int("width", 0, "viewport width")
	height := fs.Int("height", 0, "viewport height")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	q := url.Values{"path": {*path}}
	if *width > 0 {
		q.Set("width", strconv.Itoa(*width))
	}
	if *height > 0 {
		q.Set("height", strconv.Itoa(*height))
	}
	return fetchToFile(o, "screenshot", q, *out, true, "screenshot")
}

func cmdProcdump(fs *flag.FlagSet, o *options, args []string) error {
	out := fs.String("o", "", "output file (default: the name the plugin gives)")
	pool := fs.String("pool", "", "application pool (default: default)")
	quiet := fs.Bool("no-progress", false, "no progress bar")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	q := url.Values{}
	if *pool != "" {
		q.Set("appPoolName", *pool)
	}
	return fetchToFile(o, "procdump", q, *out, *quiet, "procdump")
}

// fetchToFile GETs a route of one target into a file. route is an action
// ("screenshot") or "fs:<path>".
func fetchToFile(o *options, route string, q url.Values, out string, quiet bool, what string) error {
	ctx, cancel := withTimeout(o)
	defer cancel()
	t, err := o.one(ctx)
	if err != nil {
		return err
	}
	path := apiclient.TaskPath(t.AllocID, t.Task, route)
	if strings.HasPrefix(route, "fs:") {
		path = apiclient.FSPath(t.AllocID, t.Task, strings.TrimPrefix(route, "fs:"))
	}
	d, err := o.mgmt(t.MgmtURL).Open(ctx, path, q)
	if err != nil {
		return fmt.Errorf("allocation %s: %w", t.AllocID, err)
	}
	defer d.Body.Close()
	name := out
	if name == "" {
		name = d.Filename
		if name == "" {
			name = what + ".out"
		}
		name = filepath.Base(name)
	}
	var w io.Writer = os.Stdout
	var f *os.File
	if name != "-" {
		tmp := name + ".part"
		if f, err = os.Create(tmp); err != nil {
			return err
		}
		w = f
	} else {
		quiet = true
	}
	bar := newProgress(what+" "+name, d.Size, quiet)
	n, err := io.Copy(w, bar.reader(d.Body))
	bar.done(err == nil)
	if err == nil && d.Size >= 0 && n != d.Size {
		err = fmt.Errorf("the connection ended after %d of %d bytes", n, d.Size)
	}
	if f != nil {
		cerr := f.Close()
		if err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := os.Rename(f.Name(), name); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: wrote %s (%s)\n", what, name, bytesText(n))
	} else if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func cmdAllocs(fs *flag.FlagSet, o *options, args []string) error {
	job := fs.String("job-name", "", "only tasks of this job name")
	ns := fs.String("namespace", "", "only tasks of this namespace")
	task := fs.String("task", "", "only tasks of this name")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := withTimeout(o)
	defer cancel()
	base := o.mgmtURL
	if base == "" {
		nodes, err := localNodeMgmt(ctx, o)
		if err != nil {
			return err
		}
		base = nodes
	}
	list, err := o.mgmt(base).Allocs(ctx, *job, *ns, *task)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Alloc ID\tTask\tJob\tGroup\tNamespace")
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.AllocID, t.TaskName, t.JobName, t.TaskGroupName, t.Namespace)
	}
	return tw.Flush()
}

// localNodeMgmt finds the Management API of the (single) node the Jobs
// API knows.
func localNodeMgmt(ctx context.Context, o *options) (string, error) {
	r := o.resolver()
	var nodes []struct{ ID string }
	if err := getJSON(ctx, r.Jobs, "/v1/nodes", &nodes); err != nil {
		return "", err
	}
	if len(nodes) != 1 {
		return "", fmt.Errorf("the Jobs API lists %d nodes; pass --mgmt-url", len(nodes))
	}
	t, err := r.NodeMgmtURL(ctx, nodes[0].ID)
	if err != nil {
		return "", err
	}
	return t, nil
}

func getJSON(ctx context.Context, j *apiclient.Jobs, path string, out interface{}) error {
	return j.Get(ctx, path, out)
}
