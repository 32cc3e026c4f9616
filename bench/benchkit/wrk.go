package benchkit

import (
	"bufio"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// WrkResult is what one wrk run reported.
type WrkResult struct {
	RPS   float64
	P99Ms float64
	// Errors are non-2xx/3xx responses plus socket errors (connect, read,
	// write, timeout).
	Errors int64
	// Output is wrk's own text, for error messages.
	Output string
}

// Wrk runs `wrk -t threads -c conns -d d --latency url` and parses its
// report.
func Wrk(url string, threads, conns int, d time.Duration) (WrkResult, error) {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	out, err := exec.Command("wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns),
		"-d"+strconv.Itoa(secs)+"s", "--latency", url).CombinedOutput()
	if err != nil {
		return WrkResult{}, fmt.Errorf("wrk %s: %w: %s", url, err, out)
	}
	return ParseWrk(string(out))
}

var (
	socketErrors = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	non2xx       = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// ParseWrk reads req/s, the 99th percentile and the errors from wrk's
// report (run with --latency).
func ParseWrk(out string) (WrkResult, error) {
	r := WrkResult{Output: out, RPS: -1, P99Ms: -1}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			r.RPS, _ = strconv.ParseFloat(f[1], 64)
		case len(f) == 2 && f[0] == "99%":
			r.P99Ms = durationMs(f[1])
		}
	}
	if m := socketErrors.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.Errors += n
		}
	}
	if m := non2xx.FindStringSubmatch(out); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		r.Errors += n
	}
	if r.RPS < 0 || r.P99Ms < 0 {
		return r, fmt.Errorf("wrk's report lacks Requests/sec or the 99%% latency:\n%s", out)
	}
	return r, nil
}

// durationMs converts wrk's "850.00us", "1.23ms", "1.02s" or "2.00m" to ms.
func durationMs(s string) float64 {
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"us", 0.001}, {"ms", 1}, {"s", 1000}, {"m", 60000}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				return x * u.ms
			}
		}
	}
	return -1
}
