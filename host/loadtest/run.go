package loadtest

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"net/url"
	"sort"
	"sync"
	"syscall"
	"time"

	"nomad_iis/host/apiclient"
)

// KillReport describes the plugin kill of the kill9 scenario.
type KillReport struct {
	AtSeconds        float64 `json:"at_s"`
	OldPid           int     `json:"old_pid"`
	NewPid           int     `json:"new_pid"`
	Recovered        bool    `json:"recovered"`
	RecoveredAfterMs float64 `json:"recovered_after_ms"`
}

// Report is the result of a run.
type Report struct {
	Preset     string              `json:"preset"`
	Address    string              `json:"address"`
	Job        string              `json:"job"`
	Targets    int                 `json:"targets"`
	Clients    int                 `json:"clients"`
	AppClients int                 `json:"app_clients"`
	Mix        string              `json:"mix"`
	DurationS  float64             `json:"duration_s"`
	Ops        map[string]OpReport `json:"ops"`
	Plugin     PluginStats         `json:"plugin"`
	Kill       *KillReport         `json:"kill,omitempty"`
	Failures   []string            `json:"failures,omitempty"`
	Pass       bool                `json:"pass"`
}

// chaos tracks the plugin kill so errors inside its window count as
// expected (Management API calls while the plugin is down).
type chaos struct {
	mu          sync.Mutex
	killedAt    time.Time
	recoveredAt time.Time
}

// expected reports whether a failed call overlapped the outage (with a
// grace period after recovery).
func (c *chaos) expected(start, end time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killedAt.IsZero() || end.Before(c.killedAt) {
		return false
	}
	return c.recoveredAt.IsZero() || start.Before(c.recoveredAt.Add(2*time.Second))
}

// IsLoopback reports whether a host (name or IP) is a loopback address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// Run performs a load test and returns its report; the error is for runs
// that could not be carried out at all.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	jobs := apiclient.NewJobs(cfg.Address)
	if !IsLoopback(urlHost(jobs.Address)) {
		return nil, fmt.Errorf("the Jobs API %s is not a loopback address; this harness only targets loopback", jobs.Address)
	}
	res := &apiclient.Resolver{Jobs: jobs, MgmtURL: cfg.MgmtURL}
	targets, err := res.JobTargets(ctx, cfg.Job, cfg.Task)
	if err != nil {
		return nil, err
	}
	if cfg.Allocs > 0 && len(targets) > cfg.Allocs {
		targets = targets[:cfg.Allocs]
	}
	for _, t := range targets {
		if !IsLoopback(urlHost(t.MgmtURL)) {
			return nil, fmt.Errorf("the Management API %s is not a loopback address", t.MgmtURL)
		}
		for _, p := range t.Ports {
			if !IsLoopback(p.HostIP) {
				return nil, fmt.Errorf("allocation %s serves on %s, not a loopback address", t.AllocID, p.HostIP)
			}
		}
	}
	rep := &Report{Preset: cfg.Preset, Address: jobs.Address, Job: cfg.Job, Targets: len(targets),
		Clients: cfg.Clients, AppClients: cfg.AppClients, Mix: MixString(cfg.Mix), Ops: map[string]OpReport{}}

	pidCache := &pluginPid{jobs: jobs}
	pidCache.refresh(ctx)
	samp := startSampler(func() int { return pidCache.refresh(ctx) }, 500*time.Millisecond)

	recs := map[string]*recorder{OpApp: {}}
	var ops []string
	var weights []int
	for _, op := range []string{OpStatus, OpRecycle, OpUpload, OpDownload, OpFSGet} {
		if w := cfg.Mix[op]; w > 0 {
			recs[op] = &recorder{}
			ops, weights = append(ops, op), append(weights, w)
		}
	}
	mgmtHTTP := newHTTPClient(cfg.Clients+1, 0)
	mgmts := map[string]*apiclient.Mgmt{}
	for _, t := range targets {
		if mgmts[t.MgmtURL] == nil {
			m := apiclient.NewMgmt(t.MgmtURL, cfg.APIKey)
			m.HTTP = mgmtHTTP
			mgmts[t.MgmtURL] = m
		}
	}
	ch := &chaos{}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < cfg.Clients; c++ {
		wg.Add(1)
		w := &worker{id: c, mgmt: mgmts, upload: smallZip(c), marker: cfg.Marker}
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(time.Now().UnixNano() + int64(c)))
			for i := c; runCtx.Err() == nil; i++ {
				op := pick(rng, ops, weights)
				t := targets[rng.Intn(len(targets))]
				// In-flight requests finish after the run's end (a request cut
				// by the deadline would look like a failure of the target).
				rctx, rcancel := context.WithTimeout(ctx, cfg.RequestTimeout)
				t0 := time.Now()
				err := w.do(rctx, op, t)
				rcancel()
				t1 := time.Now()
				if err == nil {
					recs[op].ok(t1.Sub(t0))
					continue
				}
				if ctx.Err() != nil {
					return // interrupted: not counted
				}
				recs[op].fail(fmt.Sprintf("%s %s: %v", op, t.AllocID[:8], err), ch.expected(t0, t1))
				time.Sleep(50 * time.Millisecond)
			}
		}(c)
	}
	appHTTP := newHTTPClient(cfg.AppClients+1, cfg.RequestTimeout)
	for c := 0; c < cfg.AppClients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := c; runCtx.Err() == nil; i++ {
				t := targets[i%len(targets)]
				u := t.PortURL("")
				t0 := time.Now()
				err := appGet(ctx, appHTTP, u, cfg.Marker)
				if err == nil {
					recs[OpApp].ok(time.Since(t0))
					continue
				}
				if ctx.Err() != nil {
					return
				}
				recs[OpApp].fail(fmt.Sprintf("%s: %v", t.AllocID[:8], err), false)
				time.Sleep(20 * time.Millisecond)
			}
		}(c)
	}
	if cfg.KillAt > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.Kill = killPlugin(runCtx, cfg, jobs, mgmts, ch, start)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	rep.DurationS = elapsed.Seconds()
	rep.Plugin = samp.finish()
	for op, r := range recs {
		rep.Ops[op] = r.report(elapsed)
	}
	rep.judge(cfg)
	return rep, nil
}

func pick(rng *rand.Rand, ops []string, weights []int) string {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := rng.Intn(total)
	for i, w := range weights {
		if n < w {
			return ops[i]
		}
		n -= w
	}
	return ops[len(ops)-1]
}

// pluginPid caches the plugin's pid as the agent reports it.
type pluginPid struct {
	jobs *apiclient.Jobs
	mu   sync.Mutex
	pid  int
}

func (p *pluginPid) refresh(ctx context.Context) int {
	cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pid, err := p.jobs.PluginPid(cctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.pid = pid
	}
	return p.pid
}

// killPlugin SIGKILLs the plugin at KillAt and waits until the agent has
// re-dispensed it and the Management API answers again.
func killPlugin(ctx context.Context, cfg Config, jobs *apiclient.Jobs, mgmts map[string]*apiclient.Mgmt, ch *chaos, start time.Time) *KillReport {
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(time.Until(start.Add(cfg.KillAt))):
	}
	kr := &KillReport{}
	pid, err := jobs.PluginPid(ctx)
	if err != nil {
		return kr
	}
	kr.OldPid = pid
	ch.mu.Lock()
	ch.killedAt = time.Now()
	ch.mu.Unlock()
	kr.AtSeconds = time.Since(start).Seconds()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return kr
	}
	killed := time.Now()
	// Wait for the new plugin (a new pid, reported healthy) and its API.
	for time.Since(killed) < 2*time.Minute {
		self, err := jobs.Self(context.Background())
		if err == nil && self.Stats["plugin"]["healthy"] == "true" && self.Stats["plugin"]["pid"] != fmt.Sprint(pid) {
			fmt.Sscan(self.Stats["plugin"]["pid"], &kr.NewPid)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if kr.NewPid == 0 {
		return kr
	}
	for _, m := range mgmts {
		if err := m.Ready(context.Background(), time.Minute); err != nil {
			return kr
		}
	}
	ch.mu.Lock()
	ch.recoveredAt = time.Now()
	ch.mu.Unlock()
	kr.Recovered = true
	kr.RecoveredAfterMs = ms(time.Since(killed))
	return kr
}

// judge fills Failures and Pass.
func (r *Report) judge(cfg Config) {
	var names []string
	for op := range r.Ops {
		names = append(names, op)
	}
	sort.Strings(names)
	for _, op := range names {
		o := r.Ops[op]
		if o.Errors > 0 {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: %d unexpected error(s), first: %v", op, o.Errors, o.FirstErrors))
		}
		if o.Requests == 0 && (op == OpApp && cfg.AppClients > 0 || op != OpApp && cfg.Clients > 0) {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: no request completed", op))
		}
	}
	wantPids := 1
	if cfg.KillAt > 0 {
		wantPids = 2
	}
	if len(r.Plugin.Pids) > wantPids {
		r.Failures = append(r.Failures, fmt.Sprintf("the plugin died on its own during the run (pids %v); see the agent's log", r.Plugin.Pids))
	}
	if cfg.KillAt > 0 {
		switch {
		case r.Kill == nil:
			r.Failures = append(r.Failures, "the plugin was not killed (the run ended first?)")
		case !r.Kill.Recovered:
			r.Failures = append(r.Failures, fmt.Sprintf("the plugin (pid %d) did not come back after SIGKILL", r.Kill.OldPid))
		}
	}
	r.Pass = len(r.Failures) == 0
}
