package loadtest

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"nomad_iis/host/apiclient"
)

// worker is one Management API client.
type worker struct {
	id     int
	mgmt   map[string]*apiclient.Mgmt // by base URL
	upload []byte
	marker string
}

// smallZip is the payload of a client's uploads: two small files.
func smallZip(client int) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, body := range []string{
		fmt.Sprintf("<p>load test client %d</p>\n", client),
		strings.Repeat(fmt.Sprintf("client %d line\n", client), 40),
	} {
		w, _ := zw.Create(fmt.Sprintf("file%d.txt", i))
		_, _ = w.Write([]byte(body))
	}
	_ = zw.Close()
	return buf.Bytes()
}

// do runs one operation against one target.
func (w *worker) do(ctx context.Context, op string, t apiclient.Target) error {
	m := w.mgmt[t.MgmtURL]
	switch op {
	case OpStatus:
		st, err := m.Status(ctx, t.AllocID, t.Task)
		if err != nil {
			return err
		}
		if st.AllocID != t.AllocID {
			return fmt.Errorf("status names allocation %q, want %q", st.AllocID, t.AllocID)
		}
		return nil
	case OpRecycle:
		_, err := m.PoolAction(ctx, t.AllocID, t.Task, "recycle", "")
		return err
	case OpUpload:
		res, err := m.Upload(ctx, t.AllocID, t.Task, fmt.Sprintf("local/lt-c%d", w.id), bytes.NewReader(w.upload),
			int64(len(w.upload)), apiclient.UploadOptions{Zip: true, NoStop: true})
		if err != nil {
			return err
		}
		if res.Files != 2 {
			return fmt.Errorf("upload extracted %d files, want 2", res.Files)
		}
		return nil
	case OpDownload:
		return w.fetch(ctx, m, apiclient.FSPath(t.AllocID, t.Task, "local"), func(b []byte) error {
			if !bytes.HasPrefix(b, []byte("PK")) {
				return fmt.Errorf("folder download is not a zip")
			}
			return nil
		})
	case OpFSGet:
		return w.fetch(ctx, m, apiclient.FSPath(t.AllocID, t.Task, "local/index.html"), func(b []byte) error {
			if w.marker != "" && !bytes.Contains(b, []byte(w.marker)) {
				return fmt.Errorf("local/index.html lacks the marker %q", w.marker)
			}
			return nil
		})
	}
	return fmt.Errorf("unknown operation %q", op)
}

func (w *worker) fetch(ctx context.Context, m *apiclient.Mgmt, path string, check func([]byte) error) error {
	d, err := m.Open(ctx, path, nil)
	if err != nil {
		return err
	}
	defer d.Body.Close()
	b, err := io.ReadAll(d.Body)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if d.Size >= 0 && int64(len(b)) != d.Size {
		return fmt.Errorf("%s: got %d of %d bytes", path, len(b), d.Size)
	}
	return check(b)
}

// appGet is one request of site traffic.
func appGet(ctx context.Context, client *http.Client, url, marker string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("GET %s: reading the body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if marker != "" && !bytes.Contains(b, []byte(marker)) {
		return fmt.Errorf("GET %s: the page lacks the marker %q", url, marker)
	}
	return nil
}

// newHTTPClient is a keep-alive client for many concurrent requests.
func newHTTPClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			MaxIdleConns:        conns * 4,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}
