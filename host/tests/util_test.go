package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
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
	resp, err := httpClient.Get(url)
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

// prober GETs a URL in a loop and counts failures (non-2xx/3xx, transport
// errors, timeouts).
type prober struct {
	url  string
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	ok, fail int
	errs     []string
}

func startProber(url string, interval time.Duration) *prober {
	p := &prober{url: url, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			code, _, err := get(url)
			p.mu.Lock()
			switch {
			case err != nil:
				p.fail++
				p.note(err.Error())
			case code >= 200 && code < 400:
				p.ok++
			default:
				p.fail++
				p.note(fmt.Sprintf("HTTP %d", code))
			}
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-time.After(interval):
			}
		}
	}()
	return p
}

func (p *prober) note(e string) {
	if len(p.errs) < 5 {
		p.errs = append(p.errs, time.Now().Format("15:04:05.000")+" "+e)
	}
}

// finish stops the loop and returns successes, failures and the first errors.
func (p *prober) finish() (int, int, []string) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ok, p.fail, p.errs
}
