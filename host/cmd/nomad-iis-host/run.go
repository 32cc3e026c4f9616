package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

type runFlags struct {
	common
	pluginConfig string
	taskConfig   string
	ports        portsFlag
	freePorts    stringList
	local        string
	task         string
	job          string
	allocRoot    string
	killTimeout  time.Duration
	killSignal   string
}

// stringList collects a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	fs.StringVar(&f.pluginConfig, "plugin-config", "", "agent-side plugin config block as HCL-JSON (or @file)")
	fs.StringVar(&f.taskConfig, "task-config", "", "the task's config block as HCL-JSON (or @file) (required)")
	fs.Var(&f.ports, "port", "group port label=N[@ip] (repeatable)")
	fs.Var(&f.freePorts, "free-port", "group port with a free port on 127.0.0.1 (repeatable label)")
	fs.StringVar(&f.local, "local", "", "directory copied into the task's local/ dir before start (like an artifact)")
	fs.StringVar(&f.task, "task", "app", "task name")
	fs.StringVar(&f.job, "job", "example", "job id and name")
	fs.StringVar(&f.allocRoot, "alloc-root", "", "where the alloc dir is created (default: a new temp dir)")
	fs.DurationVar(&f.killTimeout, "kill-timeout", 5*time.Second, "task kill_timeout for StopTask")
	fs.StringVar(&f.killSignal, "kill-signal", "", "task kill_signal for StopTask (empty, as Nomad sends it when unset)")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	opts, err := f.launchOptions(fs)
	if err != nil {
		return err
	}
	pluginConfig, err := jsonArg("plugin-config", f.pluginConfig)
	if err != nil {
		return err
	}
	taskConfig, err := jsonArg("task-config", f.taskConfig)
	if err != nil {
		return err
	}
	if taskConfig == nil {
		return usagef("--task-config is required")
	}
	for _, label := range f.freePorts {
		n, err := pluginhost.FreePort()
		if err != nil {
			return err
		}
		f.ports = append(f.ports, pluginhost.Port{Label: label, Value: n, HostIP: "127.0.0.1"})
	}
	if f.allocRoot == "" {
		if f.allocRoot, err = os.MkdirTemp("", "nomad-iis-host-"); err != nil {
			return err
		}
	}
	return runTask(f, opts, pluginConfig, taskConfig)
}

func runTask(f runFlags, opts pluginhost.LaunchOptions, pluginConfig, taskConfig []byte) error {
	// Catch Ctrl-C from the start. The plugin gets the same SIGINT from the
	// terminal (it shares our process group, as under an agent) and must
	// ignore it.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	ctx := context.Background()
	h, err := pluginhost.Start(ctx, pluginhost.Config{Launch: opts, PluginConfig: pluginConfig})
	if err != nil {
		return err
	}
	defer h.Shutdown()

	alloc, err := h.NewAlloc(pluginhost.AllocOptions{JobID: f.job, Ports: f.ports, Root: f.allocRoot})
	if err != nil {
		return err
	}
	defer alloc.Close()
	task, err := alloc.NewTask(pluginhost.TaskSpec{
		Name: f.task, Config: taskConfig, KillTimeout: f.killTimeout, KillSignal: f.killSignal,
	})
	if err != nil {
		return err
	}
	if f.local != "" {
		if err := pluginhost.CopyDir(f.local, task.Dir().LocalDir); err != nil {
			return fmt.Errorf("--local: %w", err)
		}
	}
	if _, err := task.Start(ctx); err != nil {
		return fmt.Errorf("StartTask: %w", err)
	}
	printStarted(task, alloc)

	waitCh := make(chan *driverpb.WaitTaskResponse, 1)
	waitErr := make(chan error, 1)
	go func() {
		res, err := task.Wait(ctx)
		if err != nil {
			waitErr <- err
			return
		}
		waitCh <- res
	}()

	select {
	case res := <-waitCh:
		fmt.Printf("task exited by itself: %s\n", exitText(res))
	case err := <-waitErr:
		fmt.Fprintf(os.Stderr, "WaitTask failed: %v\n", err)
	case sig := <-sigs:
		fmt.Printf("%v: stopping task (timeout %v, signal %q)\n", sig, f.killTimeout, f.killSignal)
		if err := task.Stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "StopTask: %v\n", err)
		}
		select {
		case res := <-waitCh:
			fmt.Printf("task exited: %s\n", exitText(res))
		case err := <-waitErr:
			fmt.Fprintf(os.Stderr, "WaitTask failed: %v\n", err)
		case <-time.After(f.killTimeout + 10*time.Second):
			fmt.Fprintln(os.Stderr, "WaitTask did not return after StopTask")
		}
	}
	if err := task.Destroy(ctx, true); err != nil {
		fmt.Fprintf(os.Stderr, "DestroyTask: %v\n", err)
	}
	return nil
}

func printStarted(task *pluginhost.TaskRunner, alloc *pluginhost.Alloc) {
	fmt.Printf("task started: %s\n", task.TaskID())
	fmt.Printf("  alloc dir: %s\n", alloc.Dir().Root)
	fmt.Printf("  logs:      %s, %s\n", task.Logs().Stdout.LogFile, task.Logs().Stderr.LogFile)
	for _, p := range alloc.Options().Ports {
		fmt.Printf("  port %-10s %s  http://%s/\n", p.Label, p.Addr(), p.Addr())
	}
	fmt.Println("press Ctrl-C to stop")
}

func exitText(res *driverpb.WaitTaskResponse) string {
	r := res.GetResult()
	s := fmt.Sprintf("exit code %d, signal %d", r.GetExitCode(), r.GetSignal())
	if r.GetOomKilled() {
		s += ", OOM killed"
	}
	if res.GetErr() != "" {
		s += ", error: " + res.GetErr()
	}
	return s
}
