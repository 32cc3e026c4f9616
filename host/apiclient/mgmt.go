package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Mgmt is a client of the plugin's Management API.
type Mgmt struct {
	// BaseURL is http(s)://host:port of the API.
	BaseURL string
	// APIKey is sent as X-Api-Key; Token (a JWT) as a bearer token.
	APIKey string
	Token  string
	// HTTP is the client used (default: no overall timeout; requests are
	// bounded by their context).
	HTTP *http.Client
}

// NewMgmt returns a client.
func NewMgmt(baseURL, apiKey string) *Mgmt {
	return &Mgmt{BaseURL: strings.TrimSuffix(baseURL, "/"), APIKey: apiKey, HTTP: &http.Client{}}
}

// MgmtError is a Management API error answer ({"error","message"}).
type MgmtError struct {
	Method  string
	Path    string
	Status  int
	Code    string
	Message string
}

func (e *MgmtError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	where := e.Method + " " + e.Path
	switch e.Status {
	case http.StatusUnauthorized:
		return fmt.Sprintf("the Management API refused the credentials (401 %s): %s; pass the plugin's key with --api-key or NOMAD_IIS_API_KEY", e.Code, msg)
	case http.StatusForbidden:
		return fmt.Sprintf("not allowed (403 %s): %s", e.Code, msg)
	case http.StatusNotFound:
		return fmt.Sprintf("not found (404 %s, %s): %s", e.Code, where, msg)
	case http.StatusMethodNotAllowed:
		return fmt.Sprintf("%s is not allowed here (405): %s", e.Method, msg)
	case http.StatusConflict:
		return fmt.Sprintf("conflict (409 %s): %s", e.Code, msg)
	case http.StatusLengthRequired:
		return fmt.Sprintf("length required (411): %s", msg)
	case http.StatusRequestEntityTooLarge:
		return fmt.Sprintf("upload too large (413): %s; the plugin's upload_max_bytes/zip limits apply", msg)
	case http.StatusServiceUnavailable:
		return fmt.Sprintf("the plugin is busy (503 %s): %s; try again later", e.Code, msg)
	case http.StatusInsufficientStorage:
		return fmt.Sprintf("the node could not store the upload (507 %s): %s", e.Code, msg)
	case http.StatusBadRequest:
		return fmt.Sprintf("bad request (400 %s): %s", e.Code, msg)
	}
	if e.Status >= 500 {
		return fmt.Sprintf("the plugin failed (%d %s, %s): %s", e.Status, e.Code, where, msg)
	}
	return fmt.Sprintf("%s: HTTP %d %s: %s", where, e.Status, e.Code, msg)
}

// IsStatus reports whether err is a Management API error with a status.
func IsStatus(err error, status int) bool {
	var me *MgmtError
	return errors.As(err, &me) && me.Status == status
}

// TaskPath is /api/v1/allocs/{alloc}/{task}/{action}.
func TaskPath(alloc, task, action string) string {
	return "/api/v1/allocs/" + url.PathEscape(alloc) + "/" + url.PathEscape(task) + "/" + action
}

// FSPath is the fs route of a path inside the task dir ("local/a b.txt").
func FSPath(alloc, task, rel string) string {
	var segs []string
	for _, s := range strings.Split(strings.Trim(rel, "/"), "/") {
		if s != "" {
			segs = append(segs, url.PathEscape(s))
		}
	}
	p := TaskPath(alloc, task, "fs")
	if len(segs) > 0 {
		p += "/" + strings.Join(segs, "/")
	}
	if strings.HasSuffix(rel, "/") && len(segs) > 0 {
		p += "/"
	}
	return p
}

// Request sends a request and returns the response for status < 400;
// otherwise the error answer as *MgmtError. The caller closes the body.
func (m *Mgmt) Request(ctx context.Context, method, path string, query url.Values, body io.Reader, size int64, contentType string) (*http.Response, error) {
	u := m.BaseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
		if size < 0 {
			req.ContentLength = -1
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
	}
	if m.APIKey != "" {
		req.Header.Set("X-Api-Key", m.APIKey)
	}
	if m.Token != "" {
		req.Header.Set("Authorization", "Bearer "+m.Token)
	}
	resp, err := m.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		return nil, fmt.Errorf("cannot reach the Management API at %s (is the plugin running with --management-api-port? pass --mgmt-url to override): %w", m.BaseURL, err)
	}
	if resp.StatusCode < 400 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	me := &MgmtError{Method: method, Path: path, Status: resp.StatusCode}
	var body2 struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &body2) == nil && (body2.Error != "" || body2.Message != "") {
		me.Code, me.Message = body2.Error, body2.Message
	} else {
		me.Message = strings.TrimSpace(string(data))
	}
	return nil, me
}

func (m *Mgmt) getJSON(ctx context.Context, method, path string, query url.Values, out interface{}) error {
	resp, err := m.Request(ctx, method, path, query, nil, 0, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, path, err)
	}
	return nil
}

// MgmtTask is an entry of GET /api/v1/allocs.
type MgmtTask struct {
	AllocID       string `json:"allocId"`
	TaskName      string `json:"taskName"`
	Namespace     string `json:"namespace"`
	JobName       string `json:"jobName"`
	TaskGroupName string `json:"taskGroupName"`
	TaskID        string `json:"taskId"`
}

// Pool is an application pool in a status answer.
type Pool struct {
	Name                   string  `json:"name"`
	Status                 string  `json:"status"`
	IsWorkerProcessRunning bool    `json:"isWorkerProcessRunning"`
	WorkerProcessIDs       []int   `json:"workerProcessIds"`
	CPUPercent             float64 `json:"cpuPercent"`
	MemoryBytes            uint64  `json:"memoryBytes"`
}

// Status is the answer of the status and pool routes.
type Status struct {
	AllocID                string `json:"allocId"`
	TaskName               string `json:"taskName"`
	Namespace              string `json:"namespace"`
	JobName                string `json:"jobName"`
	TaskGroupName          string `json:"taskGroupName"`
	DefaultApplicationPool *Pool  `json:"defaultApplicationPool"`
	ApplicationPools       []Pool `json:"applicationPools"`
}

// UploadResult is the answer of an upload.
type UploadResult struct {
	BytesReceived uint64   `json:"bytesReceived"`
	Files         uint64   `json:"files"`
	StoppedPools  []string `json:"stoppedPools"`
}

// Allocs lists the tasks the plugin runs (filters may be "").
func (m *Mgmt) Allocs(ctx context.Context, job, namespace, task string) ([]MgmtTask, error) {
	q := url.Values{}
	for k, v := range map[string]string{"job": job, "namespace": namespace, "task": task} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out []MgmtTask
	return out, m.getJSON(ctx, http.MethodGet, "/api/v1/allocs", q, &out)
}

// Status reads a task's site status.
func (m *Mgmt) Status(ctx context.Context, alloc, task string) (*Status, error) {
	var out Status
	return &out, m.getJSON(ctx, http.MethodGet, TaskPath(alloc, task, "status"), nil, &out)
}

// PoolAction is start, stop or recycle of all pools, or of one (pool != "").
func (m *Mgmt) PoolAction(ctx context.Context, alloc, task, action, pool string) (*Status, error) {
	switch action {
	case "start", "stop", "recycle":
	default:
		return nil, fmt.Errorf("unknown pool action %q (start, stop or recycle)", action)
	}
	q := url.Values{}
	if pool != "" {
		q.Set("appPoolName", pool)
	}
	var out Status
	return &out, m.getJSON(ctx, http.MethodPut, TaskPath(alloc, task, action), q, &out)
}

// UploadOptions are the options of an upload.
type UploadOptions struct {
	// Zip sends the body as application/zip (extracted into the folder).
	Zip bool
	// NoStop uses PATCH, which leaves the pools serving; PUT (default)
	// stops the pools serving the path while the files are swapped.
	NoStop bool
	// Clean makes the folder hold only the archive's content.
	Clean bool
}

// Upload sends body (size bytes) to a path in the task dir.
func (m *Mgmt) Upload(ctx context.Context, alloc, task, rel string, body io.Reader, size int64, o UploadOptions) (*UploadResult, error) {
	method := http.MethodPut
	if o.NoStop {
		method = http.MethodPatch
	}
	ctype := "application/octet-stream"
	if o.Zip {
		ctype = "application/zip"
	}
	q := url.Values{}
	if o.Clean {
		q.Set("clean", "true")
	}
	resp, err := m.Request(ctx, method, FSPath(alloc, task, rel), q, body, size, ctype)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out UploadResult
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("upload: the answer is not the expected JSON: %w", err)
	}
	return &out, nil
}

// Download is an open download: a file, or a folder as a zip.
type Download struct {
	Body        io.ReadCloser
	Filename    string
	Size        int64
	ContentType string
}

// Open starts a GET of a route that answers with a file (fs, screenshot,
// procdump).
func (m *Mgmt) Open(ctx context.Context, path string, query url.Values) (*Download, error) {
	resp, err := m.Request(ctx, http.MethodGet, path, query, nil, 0, "")
	if err != nil {
		return nil, err
	}
	d := &Download{Body: resp.Body, Size: resp.ContentLength, ContentType: resp.Header.Get("Content-Type")}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		d.Filename = params["filename"]
	}
	return d, nil
}

// Delete removes a path in the task dir (a trailing "/*" empties a folder).
func (m *Mgmt) Delete(ctx context.Context, alloc, task, rel string) error {
	return m.getJSON(ctx, http.MethodDelete, FSPath(alloc, task, rel), nil, nil)
}

// Debug reads GET /api/v1/debug.
func (m *Mgmt) Debug(ctx context.Context) (map[string]interface{}, error) {
	var out map[string]interface{}
	return out, m.getJSON(ctx, http.MethodGet, "/api/v1/debug", nil, &out)
}

// Ready waits until the Management API answers (any authenticated route).
func (m *Mgmt) Ready(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, last = m.Allocs(cctx, "", "", "")
		cancel()
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the Management API at %s did not answer within %v: %w", m.BaseURL, timeout, last)
}
