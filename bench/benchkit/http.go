package benchkit

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

var pollClient = &http.Client{Timeout: 2 * time.Second}

// FirstOK polls url every millisecond until it answers 200, for at most
// deadline.
func FirstOK(url string, deadline time.Duration) error {
	end := time.Now().Add(deadline)
	var last string
	for time.Now().Before(end) {
		resp, err := pollClient.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("%s never answered 200 within %v (last: %s)", url, deadline, last)
}

// Get fetches url and returns its body, failing on anything but 200.
func Get(url string) (string, error) {
	resp, err := pollClient.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}
