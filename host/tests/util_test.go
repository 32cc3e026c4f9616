package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

func mustJSON(t *testing.T, v interface{}) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hcldecImpliedType(spec hcldec.Spec) cty.Type { return hcldec.ImpliedType(spec) }

// testdata returns the path of a file under host/testdata.
func testdata(parts ...string) string {
	return filepath.Join(append([]string{"..", "testdata"}, parts...)...)
}

func readTestdata(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(testdata(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// httpClient makes one request per connection, never follows redirects and
// gives up after a second, like the harness's availability probe.
var httpClient = &http.Client{
	Timeout:   time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// get fetches url and returns status and body.
func get(url string) (int, string, error) {
	return getWith(httpClient, url)
}

func getWith(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), err
}

// getEventually retries a GET until it answers 200 or the timeout passes.
func getEventually(url string, timeout time.Duration) (int, string, error) {
	deadline := time.Now().Add(timeout)
	for {
		code, body, err := get(url)
		if (err == nil && code == http.StatusOK) || time.Now().After(deadline) {
			return code, body, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probe says how a prober asks: with which client, from how many loops at
// once, how long each waits between its requests, and what it takes as ok.
type probe struct {
	client   *http.Client
	clients  int
	interval time.Duration
	want     string // "": any 2xx or 3xx; else a 200 whose trimmed body is want
}

// prober GETs a URL in loops and counts failures (transport errors,
// timeouts, answers the probe does not take).
type prober struct {
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	ok, fail int
	errs     []string
}

// startProber GETs url every interval, one request per connection.
func startProber(url string, interval time.Duration) *prober {
	return probe{client: httpClient, clients: 1, interval: interval}.start(url)
}

func (pr probe) start(url string) *prober {
	p := &prober{stop: make(chan struct{})}
	for i := 0; i < pr.clients; i++ {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				code, body, err := getWith(pr.client, url)
				p.count(pr.problem(code, body, err))
				select {
				case <-p.stop:
					return
				case <-time.After(pr.interval):
				}
			}
		}()
	}
	return p
}

// problem is what is wrong with one answer, "" when it is ok.
func (pr probe) problem(code int, body string, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case pr.want == "" && code >= 200 && code < 400:
		return ""
	case pr.want == "":
		return fmt.Sprintf("HTTP %d", code)
	case code == http.StatusOK && strings.TrimSpace(body) == pr.want:
		return ""
	default:
		return fmt.Sprintf("HTTP %d %q", code, body)
	}
}

func (p *prober) count(problem string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if problem == "" {
		p.ok++
		return
	}
	p.fail++
	if len(p.errs) < 5 {
		p.errs = append(p.errs, time.Now().Format("15:04:05.000")+" "+problem)
	}
}

// finish stops the loops and returns successes, failures and the first errors.
func (p *prober) finish() (int, int, []string) {
	close(p.stop)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ok, p.fail, p.errs
}
