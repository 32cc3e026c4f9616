package loadtest

import (
	"sort"
	"sync"
	"time"
)

// recorder collects the results of one operation.
type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration
	errors    int
	expected  int
	firstErrs []string
}

func (r *recorder) ok(d time.Duration) {
	r.mu.Lock()
	r.latencies = append(r.latencies, d)
	r.mu.Unlock()
}

func (r *recorder) fail(msg string, expected bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if expected {
		r.expected++
		return
	}
	r.errors++
	if len(r.firstErrs) < 5 {
		r.firstErrs = append(r.firstErrs, msg)
	}
}

// OpReport is one operation's line of the report.
type OpReport struct {
	Requests       int      `json:"requests"`
	OK             int      `json:"ok"`
	Errors         int      `json:"errors"`
	ExpectedErrors int      `json:"expected_errors"`
	PerSecond      float64  `json:"req_per_s"`
	P50Ms          float64  `json:"p50_ms"`
	P95Ms          float64  `json:"p95_ms"`
	P99Ms          float64  `json:"p99_ms"`
	MaxMs          float64  `json:"max_ms"`
	FirstErrors    []string `json:"first_errors,omitempty"`
}

func (r *recorder) report(elapsed time.Duration) OpReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	lat := append([]time.Duration(nil), r.latencies...)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	out := OpReport{OK: len(lat), Errors: r.errors, ExpectedErrors: r.expected, FirstErrors: r.firstErrs}
	out.Requests = out.OK + out.Errors + out.ExpectedErrors
	if elapsed > 0 {
		out.PerSecond = float64(out.Requests) / elapsed.Seconds()
	}
	if len(lat) > 0 {
		out.P50Ms = ms(percentile(lat, 0.50))
		out.P95Ms = ms(percentile(lat, 0.95))
		out.P99Ms = ms(percentile(lat, 0.99))
		out.MaxMs = ms(lat[len(lat)-1])
	}
	return out
}

// percentile is the nearest-rank percentile of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
