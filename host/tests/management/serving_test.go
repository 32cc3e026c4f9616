package management

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBindFailureIsRetried: a taken port does not kill the plugin; the API
// comes up once the port is free and the fingerprint reports it.
func TestBindFailureIsRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	e := startEnv(t, envOptions{port: port, noWait: true,
		args: []string{"--management-api-key=" + apiKey, "--management-api-bind=127.0.0.1"}})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.log.String(), "cannot listen") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(e.log.String(), "cannot listen") {
		t.Error("no log line about the failed bind")
	}
	l.Close()
	e.waitListening(20 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n := 0; ; n++ {
		fp, err := e.host.Driver().Fingerprints.Next(ctx, n)
		if err != nil {
			t.Fatalf("no fingerprint with the Management API: %v", err)
		}
		attrs := fp.GetAttributes()
		if attrs["driver.iis.management_api_enabled"].GetBoolVal() &&
			attrs["driver.iis.management_api_port"].GetIntVal() == int64(port) {
			break
		}
	}
}

// Test64KeepAliveClients: 64 concurrent keep-alive clients are all served
// (a thread-per-connection server with too few threads starves some).
func Test64KeepAliveClients(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	var wg sync.WaitGroup
	var failures, served int64
	perClient := make([]int64, 64)
	stop := time.Now().Add(3 * time.Second)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for time.Now().Before(stop) {
				req, _ := http.NewRequest("GET", a.api+"/status", nil)
				req.Header.Set("X-Api-Key", apiKey)
				resp, err := c.Do(req)
				if err != nil || resp.StatusCode != 200 {
					atomic.AddInt64(&failures, 1)
					if resp != nil {
						resp.Body.Close()
					}
					continue
				}
				buf := make([]byte, 4096)
				for {
					if _, err := resp.Body.Read(buf); err != nil {
						break
					}
				}
				resp.Body.Close()
				atomic.AddInt64(&served, 1)
				perClient[i]++
			}
		}(i)
	}
	wg.Wait()
	starved := 0
	for _, n := range perClient {
		if n == 0 {
			starved++
		}
	}
	t.Logf("served %d requests in 3 s, %d failures", served, failures)
	if failures > 0 || starved > 0 {
		t.Errorf("%d failures, %d of 64 clients starved", failures, starved)
	}
}
