package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"nomad_iis/host/agent"
)

// DefaultAddress is Nomad's default HTTP API address.
const DefaultAddress = "http://127.0.0.1:4646"

// Jobs is a client of Nomad's Jobs HTTP API.
type Jobs struct {
	// Address is the API's base URL (NOMAD_ADDR).
	Address string
	// HTTP is the client used (default: 30 s timeout, plus the wait of
	// blocking queries).
	HTTP *http.Client
}

// NewJobs returns a client for address ("" means $NOMAD_ADDR or the
// default).
func NewJobs(address string) *Jobs {
	if address == "" {
		address = DefaultAddress
	}
	if !strings.Contains(address, "://") {
		address = "http://" + address
	}
	return &Jobs{Address: strings.TrimSuffix(address, "/"), HTTP: &http.Client{}}
}

// APIError is a failed Jobs API call.
type APIError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *APIError) Error() string {
	msg := strings.TrimSpace(e.Body)
	switch e.Status {
	case http.StatusNotFound:
		return fmt.Sprintf("not found (%s %s): %s", e.Method, e.URL, msg)
	case http.StatusBadRequest:
		return fmt.Sprintf("the host refused the request (400): %s", msg)
	case http.StatusConflict:
		return fmt.Sprintf("check-and-set failed (409): %s", msg)
	case http.StatusMethodNotAllowed:
		return fmt.Sprintf("%s is not allowed on %s", e.Method, e.URL)
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.Status, msg)
}

// IsNotFound reports a 404 from the Jobs API.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// QueryOptions are the blocking-query parameters.
type QueryOptions struct {
	WaitIndex uint64
	WaitTime  time.Duration
	Params    url.Values
}

func (j *Jobs) do(ctx context.Context, method, path string, q *QueryOptions, in, out interface{}) (uint64, error) {
	u := j.Address + path
	params := url.Values{}
	if q != nil {
		for k, v := range q.Params {
			params[k] = v
		}
		if q.WaitIndex > 0 {
			params.Set("index", strconv.FormatUint(q.WaitIndex, 10))
		}
		if q.WaitTime > 0 {
			params.Set("wait", q.WaitTime.String())
		}
	}
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := j.HTTP
	if client.Timeout == 0 {
		timeout := 30 * time.Second
		if q != nil {
			timeout += q.WaitTime
		}
		c := *client
		c.Timeout = timeout
		client = &c
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach the host's HTTP API at %s (is `nomad-iis-host agent` running? set NOMAD_ADDR or -address): %w", j.Address, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, fmt.Errorf("%s %s: reading the answer: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		return 0, &APIError{Method: method, URL: u, Status: resp.StatusCode, Body: string(data)}
	}
	index, _ := strconv.ParseUint(resp.Header.Get("X-Nomad-Index"), 10, 64)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return index, fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, u, err)
		}
	}
	return index, nil
}

func jobPath(id string, suffix string) string {
	p := "/v1/job/" + url.PathEscape(id)
	if suffix != "" {
		p += "/" + suffix
	}
	return p
}

// List lists jobs whose ID starts with prefix.
func (j *Jobs) List(ctx context.Context, prefix string, q *QueryOptions) ([]*agent.JobListStub, uint64, error) {
	if q == nil {
		q = &QueryOptions{}
	}
	if prefix != "" {
		q.Params = url.Values{"prefix": {prefix}}
	}
	var out []*agent.JobListStub
	idx, err := j.do(ctx, http.MethodGet, "/v1/jobs", q, nil, &out)
	return out, idx, err
}

// Register registers a job; with enforce, modifyIndex is the check-and-set
// index (0: only if the job is new).
func (j *Jobs) Register(ctx context.Context, job *agent.Job, enforce bool, modifyIndex uint64) (*agent.JobRegisterResponse, error) {
	var out agent.JobRegisterResponse
	_, err := j.do(ctx, http.MethodPost, "/v1/jobs", nil,
		&agent.JobRegisterRequest{Job: job, EnforceIndex: enforce, JobModifyIndex: modifyIndex}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Info reads a job.
func (j *Jobs) Info(ctx context.Context, id string, q *QueryOptions) (*agent.Job, uint64, error) {
	var out agent.Job
	idx, err := j.do(ctx, http.MethodGet, jobPath(id, ""), q, nil, &out)
	if err != nil {
		return nil, idx, err
	}
	return &out, idx, nil
}

// Allocations lists a job's allocations.
func (j *Jobs) Allocations(ctx context.Context, id string, q *QueryOptions) ([]*agent.AllocListStub, uint64, error) {
	var out []*agent.AllocListStub
	idx, err := j.do(ctx, http.MethodGet, jobPath(id, "allocations"), q, nil, &out)
	return out, idx, err
}

// Summary reads a job's summary.
func (j *Jobs) Summary(ctx context.Context, id string) (*agent.JobSummary, error) {
	var out agent.JobSummary
	if _, err := j.do(ctx, http.MethodGet, jobPath(id, "summary"), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Versions lists a job's versions, newest first.
func (j *Jobs) Versions(ctx context.Context, id string) ([]*agent.Job, error) {
	var out agent.JobVersionsResponse
	if _, err := j.do(ctx, http.MethodGet, jobPath(id, "versions"), nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Versions, nil
}

// Deregister stops a job (purge: removes it).
func (j *Jobs) Deregister(ctx context.Context, id string, purge bool) (*agent.JobDeregisterResponse, error) {
	var out agent.JobDeregisterResponse
	q := &QueryOptions{Params: url.Values{}}
	if purge {
		q.Params.Set("purge", "true")
	}
	if _, err := j.do(ctx, http.MethodDelete, jobPath(id, ""), q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Allocation reads one allocation (a unique ID prefix works).
func (j *Jobs) Allocation(ctx context.Context, id string) (*agent.Allocation, error) {
	var out agent.Allocation
	if _, err := j.do(ctx, http.MethodGet, "/v1/allocation/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Node reads a node.
func (j *Jobs) Node(ctx context.Context, id string) (*agent.Node, error) {
	var out agent.Node
	if _, err := j.do(ctx, http.MethodGet, "/v1/node/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AgentSelf is the part of GET /v1/agent/self tools use.
type AgentSelf struct {
	Stats map[string]map[string]string `json:"stats"`
}

// Self reads GET /v1/agent/self.
func (j *Jobs) Self(ctx context.Context) (*AgentSelf, error) {
	var out AgentSelf
	if _, err := j.do(ctx, http.MethodGet, "/v1/agent/self", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PluginPid is the driver plugin's pid as the agent reports it.
func (j *Jobs) PluginPid(ctx context.Context) (int, error) {
	self, err := j.Self(ctx)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(self.Stats["plugin"]["pid"])
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("the agent reports no plugin pid")
	}
	return pid, nil
}

// ParseHCL converts an HCL job file with POST /v1/jobs/parse.
func (j *Jobs) ParseHCL(ctx context.Context, src string) (*agent.Job, error) {
	var out agent.Job
	if _, err := j.do(ctx, http.MethodPost, "/v1/jobs/parse", nil, &agent.JobParseRequest{JobHCL: src}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Post sends a JSON body to a path of the Jobs API and decodes the answer.
func (j *Jobs) Post(ctx context.Context, path string, in, out interface{}) error {
	_, err := j.do(ctx, http.MethodPost, path, nil, in, out)
	return err
}

// Get reads a path of the Jobs API into out.
func (j *Jobs) Get(ctx context.Context, path string, out interface{}) error {
	_, err := j.do(ctx, http.MethodGet, path, nil, nil, out)
	return err
}

// Query reads a path with query options (a blocking query with
// WaitIndex) and returns the answer's index.
func (j *Jobs) Query(ctx context.Context, path string, q *QueryOptions, out interface{}) (uint64, error) {
	return j.do(ctx, http.MethodGet, path, q, nil, out)
}
