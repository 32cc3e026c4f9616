// Command nomad-iis-loadtest load-tests nomad_iis tasks: Management API
// clients and site traffic at once, targets found through the Jobs API,
// loopback only. It prints a table (and JSON with -json) and exits 1 when
// any request failed unexpectedly.
//
//	nomad-iis-loadtest -preset steady -address http://127.0.0.1:4646 -job static-app -api-key K
//	nomad-iis-loadtest -preset kill9 -spawn -host-bin build/bin/nomad-iis-host -plugin build/bin/nomad_iis
//	nomad-iis-loadtest -preset 200tasks -spawn ...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"nomad_iis/host/loadtest"
)

func main() {
	os.Exit(run())
}

func run() int {
	presets := loadtest.Presets()
	var names []string
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	preset := flag.String("preset", "steady", "scenario: "+strings.Join(names, ", "))
	address := flag.String("address", os.Getenv("NOMAD_ADDR"), "Jobs API of a running agent (not with -spawn)")
	job := flag.String("job", "", "job whose running allocations are the targets (not with -spawn)")
	task := flag.String("task", "", "task name (default: the only task)")
	apiKey := flag.String("api-key", os.Getenv("NOMAD_IIS_API_KEY"), "Management API key")
	mgmtURL := flag.String("mgmt-url", os.Getenv("NOMAD_IIS_MGMT_ADDR"), "Management API URL (default: from the node)")
	spawn := flag.Bool("spawn", false, "start a private agent with a job of -allocs allocations, and stop it afterwards")
	hostBin := flag.String("host-bin", "build/bin/nomad-iis-host", "nomad-iis-host binary (-spawn)")
	plugin := flag.String("plugin", "build/bin/nomad_iis", "plugin binary (-spawn)")
	site := flag.String("site", "examples/static-app", "site every allocation serves (-spawn)")
	agentLog := flag.String("agent-log-level", "info", "log level of the private agent (-spawn)")
	clients := flag.Int("clients", -1, "concurrent Management API clients (default: the preset's)")
	allocs := flag.Int("allocs", -1, "allocations used / placed with -spawn (default: the preset's)")
	appClients := flag.Int("app-clients", -1, "concurrent site clients (default: the preset's)")
	duration := flag.Duration("duration", 0, "run time (default: the preset's)")
	mix := flag.String("mix", "", "operation weights, e.g. status=40,fsget=25,download=10,upload=15,recycle=10")
	killAt := flag.Duration("kill-at", -1, "SIGKILL the plugin this long after the start (kill9 preset: a third of the run)")
	marker := flag.String("marker", "served-by-nomad-iis-static-sample", "text every page must contain (\"\": any 200)")
	jsonOut := flag.String("json", "", "also write the JSON report to this file (\"-\": stdout instead of the table)")
	flag.Parse()

	cfg, ok := presets[*preset]
	if !ok {
		fmt.Fprintf(os.Stderr, "nomad-iis-loadtest: unknown preset %q (%s)\n", *preset, strings.Join(names, ", "))
		return 2
	}
	if *clients >= 0 {
		cfg.Clients = *clients
	}
	if *allocs >= 0 {
		cfg.Allocs = *allocs
	}
	if *appClients >= 0 {
		cfg.AppClients = *appClients
	}
	if *duration > 0 {
		cfg.Duration = *duration
		if *preset == "kill9" && *killAt < 0 {
			cfg.KillAt = cfg.Duration / 3
		}
	}
	if *killAt >= 0 {
		cfg.KillAt = *killAt
	}
	if *mix != "" {
		m, err := loadtest.ParseMix(*mix)
		if err != nil {
			fmt.Fprintf(os.Stderr, "nomad-iis-loadtest: %v\n", err)
			return 2
		}
		cfg.Mix = m
	}
	cfg.Address, cfg.Job, cfg.Task, cfg.APIKey, cfg.MgmtURL, cfg.Marker = *address, *job, *task, *apiKey, *mgmtURL, *marker

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "nomad-iis-loadtest: interrupted; finishing")
		cancel()
	}()

	if *spawn {
		n := cfg.Allocs
		if n <= 0 {
			n = 1
		}
		fmt.Fprintf(os.Stderr, "nomad-iis-loadtest: starting a private agent with %d allocation(s)...\n", n)
		t0 := time.Now()
		s, err := loadtest.Spawn(ctx, loadtest.SpawnOptions{HostBin: *hostBin, Plugin: *plugin, Site: *site, Allocs: n,
			LogLevel: *agentLog})
		if err != nil {
			fmt.Fprintf(os.Stderr, "nomad-iis-loadtest: %v\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "nomad-iis-loadtest: agent %s ready, %d allocation(s) running after %.1f s\n",
			s.Address, n, time.Since(t0).Seconds())
		defer func() {
			fmt.Fprintln(os.Stderr, "nomad-iis-loadtest: stopping the private agent and its tasks...")
			s.Stop()
		}()
		cfg.Address, cfg.Job, cfg.APIKey = s.Address, s.Job, s.APIKey
		code := report(ctx, cfg, *jsonOut)
		if code != 0 {
			kept := filepath.Join(os.TempDir(), fmt.Sprintf("nomad-iis-loadtest-%d.log", time.Now().Unix()))
			if err := s.KeepLog(kept); err == nil {
				fmt.Fprintf(os.Stderr, "agent log kept in %s; last lines:\n%s\n", kept, s.LogTail(15))
			}
		}
		return code
	}
	if cfg.Job == "" {
		fmt.Fprintln(os.Stderr, "nomad-iis-loadtest: give -job (with -address) or -spawn")
		return 2
	}
	return report(ctx, cfg, *jsonOut)
}

func report(ctx context.Context, cfg loadtest.Config, jsonOut string) int {
	rep, err := loadtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nomad-iis-loadtest: %v\n", err)
		return 1
	}
	if jsonOut == "-" {
		_ = rep.WriteJSON(os.Stdout)
	} else {
		_ = rep.WriteTable(os.Stdout)
		if jsonOut != "" {
			f, err := os.Create(jsonOut)
			if err != nil {
				fmt.Fprintf(os.Stderr, "nomad-iis-loadtest: %v\n", err)
				return 1
			}
			_ = rep.WriteJSON(f)
			f.Close()
		}
	}
	if !rep.Pass {
		return 1
	}
	return 0
}
