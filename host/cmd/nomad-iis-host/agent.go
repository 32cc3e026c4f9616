package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"nomad_iis/host/agent"
	"nomad_iis/host/pluginhost"
)

type agentFlags struct {
	config       string
	dev          bool
	dataDir      string
	bind         string
	httpPort     int
	plugin       string
	pluginConfig string
	stopOnExit   bool
	keepOnExit   bool
	logLevel     string
	addrFile     string
	startup      string
}

func cmdAgent(args []string) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	var f agentFlags
	fs.StringVar(&f.config, "config", "", "agent config file (JSON, or HCL if it ends in .hcl)")
	fs.BoolVar(&f.dev, "dev", false, "development mode: a temporary data dir removed on exit, tasks stopped on exit")
	fs.StringVar(&f.dataDir, "data-dir", "", "data dir (overrides the config)")
	fs.StringVar(&f.bind, "bind", "", "HTTP API address (default 127.0.0.1)")
	fs.IntVar(&f.httpPort, "http-port", -1, "HTTP API port (default 4646; 0 picks a free port)")
	fs.StringVar(&f.plugin, "plugin", "", "plugin binary (overrides plugin_dir/<name>)")
	fs.StringVar(&f.pluginConfig, "plugin-config", "", "the plugin's config block as HCL-JSON (or @file), overrides the config's")
	fs.BoolVar(&f.stopOnExit, "stop-on-exit", false, "stop every task when the agent exits (default: leave them running)")
	fs.BoolVar(&f.keepOnExit, "keep-on-exit", false, "leave tasks running on exit even in -dev mode")
	fs.StringVar(&f.logLevel, "log-level", "", "trace|debug|info|warn|error (default info)")
	fs.StringVar(&f.addrFile, "addr-file", "", "write the HTTP API address here once it listens")
	fs.StringVar(&f.startup, "plugin-startup", "", "full (the agent's three launches) or short (one launch)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: nomad-iis-host agent [-config FILE] [flags] [-- plugin args]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	cfg, cleanup, err := f.load(fs.Args())
	if err != nil {
		return err
	}
	defer cleanup()
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	level := hclog.LevelFromString(cfg.LogLevel)
	if level == hclog.NoLevel {
		return usagef("bad log level %q", cfg.LogLevel)
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "agent", Level: level, Output: os.Stderr})
	return runAgent(cfg, f.addrFile, log)
}

// load builds the agent config from the file and the flags.
func (f *agentFlags) load(pluginArgs []string) (*agent.Config, func(), error) {
	cleanup := func() {}
	cfg := &agent.Config{}
	if f.config != "" {
		var err error
		if cfg, err = agent.LoadConfig(f.config); err != nil {
			return nil, cleanup, err
		}
	}
	if f.dev {
		dir, err := os.MkdirTemp("", "nomad-iis-host-")
		if err != nil {
			return nil, cleanup, err
		}
		_ = os.Chmod(dir, 0o755)
		cleanup = func() { os.RemoveAll(dir) }
		cfg.DataDir = dir
		cfg.StopTasksOnExit = !f.keepOnExit
	}
	if f.dataDir != "" {
		abs, err := filepath.Abs(f.dataDir)
		if err != nil {
			return nil, cleanup, err
		}
		cfg.DataDir = abs
	}
	if f.bind != "" {
		cfg.BindAddr = f.bind
	}
	if f.httpPort >= 0 {
		p := f.httpPort
		cfg.Ports.HTTP = &p
	}
	if f.plugin != "" {
		cfg.PluginPath = f.plugin
	}
	if f.stopOnExit {
		cfg.StopTasksOnExit = true
	}
	if f.keepOnExit {
		cfg.StopTasksOnExit = false
	}
	if f.logLevel != "" {
		cfg.LogLevel = f.logLevel
	}
	if f.startup != "" {
		cfg.PluginStartup = f.startup
	}
	if f.pluginConfig != "" || len(pluginArgs) > 0 {
		if cfg.Plugins == nil {
			cfg.Plugins = map[string]*agent.PluginConfig{}
		}
		name := cfg.PluginName()
		if name == "" {
			return nil, cleanup, usagef("-plugin-config and plugin args need a plugin block or -plugin")
		}
		p := cfg.Plugins[name]
		if p == nil {
			p = &agent.PluginConfig{}
			cfg.Plugins[name] = p
		}
		if f.pluginConfig != "" {
			b, err := jsonArg("plugin-config", f.pluginConfig)
			if err != nil {
				return nil, cleanup, err
			}
			p.Config = json.RawMessage(b)
		}
		if len(pluginArgs) > 0 {
			p.Args = pluginArgs
		}
	}
	return cfg, cleanup, nil
}

// runAgent starts the agent and runs it until SIGINT/SIGTERM. A second
// SIGINT during shutdown kills the plugin and exits at once.
func runAgent(cfg *agent.Config, addrFile string, log hclog.Logger) error {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	a, err := agent.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	err = a.Start(ctx)
	cancel()
	if err != nil {
		return err
	}
	addr := "http://" + a.HTTPAddr()
	onExit := "leaves tasks running (recovered on the next start)"
	if cfg.StopTasksOnExit {
		onExit = "stops all tasks"
	}
	fmt.Printf("==> nomad-iis-host agent started\n    HTTP API:  %s\n    node:      %s\n    data dir:  %s\n    plugin:    %s (pid %d)\n    on exit:   %s\n",
		addr, a.NodeID(), cfg.DataDir, cfg.PluginPath, a.Host().Driver().Pid(), onExit)
	if addrFile != "" {
		if err := os.WriteFile(addrFile, []byte(addr+"\n"), 0o644); err != nil {
			log.Error("writing -addr-file", "error", err)
		}
	}
	sig := <-sigs
	fmt.Printf("==> %v: shutting down (%s); press Ctrl-C again to force\n", sig, onExit)
	done := make(chan error, 1)
	go func() { done <- a.Shutdown(cfg.StopTasksOnExit) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				return err
			}
			fmt.Println("==> agent stopped")
			return nil
		case sig := <-sigs:
			// Only a second Ctrl-C forces: a supervisor's SIGTERM that
			// arrives while a Ctrl-C shutdown runs must not cut it short.
			if sig != syscall.SIGINT {
				fmt.Printf("==> %v: already shutting down\n", sig)
				continue
			}
			fmt.Printf("==> %v again: killing the plugin and exiting now\n", sig)
			if drv := a.Host().Driver(); drv != nil {
				pluginhost.KillPids([]int{drv.Pid()})
			}
			os.Exit(1)
		}
	}
}
