package loadtest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Operation names of the mix.
const (
	OpStatus   = "status"
	OpRecycle  = "recycle"
	OpUpload   = "upload"
	OpDownload = "download"
	OpFSGet    = "fsget"
	// OpApp is a GET of a site (not part of the mix; run by app clients).
	OpApp = "app"
)

// Config is one load-test run.
type Config struct {
	// Preset names the scenario (steady, kill9, 200tasks, custom).
	Preset string
	// Address is the Jobs API; Job and Task select the targets.
	Address string
	Job     string
	Task    string
	// APIKey authenticates Management API calls; MgmtURL overrides the
	// address found in the node's fingerprint.
	APIKey  string
	MgmtURL string
	// Clients is the number of concurrent Management API clients.
	Clients int
	// Allocs is how many of the job's allocations are used (0: all).
	Allocs int
	// AppClients is the number of concurrent site clients.
	AppClients int
	// Duration bounds the run.
	Duration time.Duration
	// Mix weights the Management API operations.
	Mix map[string]int
	// KillAt, when positive, SIGKILLs the plugin that long after the start.
	KillAt time.Duration
	// Marker is text every site page must contain ("" accepts any 200).
	Marker string
	// RequestTimeout bounds one request.
	RequestTimeout time.Duration
}

// DefaultMix is the steady mix of Management API operations.
func DefaultMix() map[string]int {
	return map[string]int{OpStatus: 40, OpFSGet: 25, OpDownload: 10, OpUpload: 15, OpRecycle: 10}
}

// Presets are the named scenarios.
func Presets() map[string]Config {
	return map[string]Config{
		"steady": {Preset: "steady", Clients: 8, Allocs: 3, AppClients: 4, Duration: 20 * time.Second, Mix: DefaultMix()},
		"kill9": {Preset: "kill9", Clients: 8, Allocs: 3, AppClients: 4, Duration: 30 * time.Second, Mix: DefaultMix(),
			KillAt: 10 * time.Second},
		"200tasks": {Preset: "200tasks", Clients: 16, Allocs: 200, AppClients: 8, Duration: 30 * time.Second,
			Mix: map[string]int{OpStatus: 50, OpFSGet: 20, OpDownload: 10, OpUpload: 10, OpRecycle: 10}},
	}
}

// ParseMix reads "status=40,fsget=25,...".
func ParseMix(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("mix entry %q: want op=weight", part)
		}
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("mix entry %q: weight must be a number >= 0", part)
		}
		switch name {
		case OpStatus, OpRecycle, OpUpload, OpDownload, OpFSGet:
		default:
			return nil, fmt.Errorf("mix entry %q: unknown operation (status, recycle, upload, download, fsget)", part)
		}
		out[name] = n
	}
	return out, nil
}

// MixString renders a mix in a stable order.
func MixString(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, ",")
}

// check validates a config.
func (c *Config) check() error {
	switch {
	case c.Address == "":
		return fmt.Errorf("no Jobs API address")
	case c.Job == "":
		return fmt.Errorf("no job")
	case c.Clients < 0 || c.AppClients < 0:
		return fmt.Errorf("client counts must not be negative")
	case c.Clients == 0 && c.AppClients == 0:
		return fmt.Errorf("nothing to do: no clients")
	case c.Duration <= 0:
		return fmt.Errorf("duration must be positive")
	}
	total := 0
	for _, w := range c.Mix {
		total += w
	}
	if c.Clients > 0 && total == 0 {
		return fmt.Errorf("the mix has no weight")
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	return nil
}
