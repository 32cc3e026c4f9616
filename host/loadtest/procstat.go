package loadtest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// PluginStats is the plugin's resource use during the run.
type PluginStats struct {
	Pids         []int   `json:"pids"`
	RSSStartMB   float64 `json:"rss_start_mb"`
	RSSMaxMB     float64 `json:"rss_max_mb"`
	RSSEndMB     float64 `json:"rss_end_mb"`
	CPUAvgPct    float64 `json:"cpu_avg_pct"`
	CPUMaxPct    float64 `json:"cpu_max_pct"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	Samples      int     `json:"samples"`
	SampleErrors int     `json:"sample_errors"`
}

// sampler reads the plugin's VmRSS and CPU time from /proc periodically;
// pid is asked for again on every sample (it changes when the plugin is
// re-dispensed).
type sampler struct {
	pid func() int

	mu       sync.Mutex
	stats    PluginStats
	lastPid  int
	lastTick uint64
	lastAt   time.Time
	started  time.Time
	ticks    uint64
	stop     chan struct{}
	done     chan struct{}
}

func startSampler(pid func() int, every time.Duration) *sampler {
	s := &sampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{}), started: time.Now()}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	pid := s.pid()
	rss, rerr := readRSS(pid)
	ticks, terr := readTicks(pid)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if pid <= 0 || rerr != nil || terr != nil {
		s.stats.SampleErrors++
		return
	}
	st := &s.stats
	if len(st.Pids) == 0 || st.Pids[len(st.Pids)-1] != pid {
		st.Pids = append(st.Pids, pid)
	}
	mb := float64(rss) / (1 << 20)
	if st.Samples == 0 {
		st.RSSStartMB = mb
	}
	if mb > st.RSSMaxMB {
		st.RSSMaxMB = mb
	}
	st.RSSEndMB = mb
	st.Samples++
	if pid == s.lastPid && ticks >= s.lastTick {
		d := ticks - s.lastTick
		s.ticks += d
		// Ticks are 10 ms: only windows of some length give a usable rate.
		if dt := now.Sub(s.lastAt).Seconds(); dt >= 0.4 {
			pct := float64(d) / clockTicks / dt * 100
			if pct > st.CPUMaxPct {
				st.CPUMaxPct = pct
			}
		}
	}
	s.lastPid, s.lastTick, s.lastAt = pid, ticks, now
}

func (s *sampler) finish() PluginStats {
	close(s.stop)
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stats
	out.CPUSeconds = float64(s.ticks) / clockTicks
	if el := time.Since(s.started).Seconds(); el > 0 {
		out.CPUAvgPct = out.CPUSeconds / el * 100
	}
	return out
}

func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, err := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

func readTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad stat for pid %d", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("bad stat for pid %d", pid)
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad stat for pid %d", pid)
	}
	return u + s, nil
}
