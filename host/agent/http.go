package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Blocking query limits (Nomad's defaults).
const (
	defaultQueryWait = 5 * time.Minute
	maxQueryWait     = 10 * time.Minute
)

// codedError is an error with an HTTP status.
type codedError struct {
	code int
	msg  string
}

func (e *codedError) Error() string { return e.msg }

func coded(code int, format string, args ...interface{}) error {
	return &codedError{code: code, msg: fmt.Sprintf(format, args...)}
}

// errMethod is Nomad's answer to an unsupported method.
var errMethod = coded(http.StatusMethodNotAllowed, "Invalid method")

type handlerFunc func(w http.ResponseWriter, r *http.Request) (interface{}, error)

func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(path string, h handlerFunc) { mux.HandleFunc(path, a.wrap(h)) }
	handle("/v1/jobs", a.jobsRequest)
	handle("/v1/jobs/parse", a.jobsParse)
	handle("/v1/jobs/statuses", a.jobsStatuses)
	handle("/v1/job/", a.jobSpecific)
	handle("/v1/validate/job", a.validateJob)
	handle("/v1/evaluations", a.evalsList)
	handle("/v1/evaluations/count", a.evalsList)
	handle("/v1/evaluation/", a.evalSpecific)
	handle("/v1/deployments", a.deploymentsList)
	handle("/v1/deployment/", a.deploymentSpecific)
	handle("/v1/allocations", a.allocsList)
	handle("/v1/allocation/", a.allocSpecific)
	handle("/v1/nodes", a.nodesList)
	handle("/v1/node/", a.nodeSpecific)
	handle("/v1/agent/self", a.agentSelf)
	handle("/v1/agent/health", a.agentHealth)
	handle("/v1/status/leader", a.statusLeader)
	handle("/v1/client/fs/logs/", a.allocLogs)
	handle("/v1/client/allocation/", a.allocClientRequest)
	handle("/", func(http.ResponseWriter, *http.Request) (interface{}, error) {
		return nil, coded(http.StatusNotFound, "Invalid URL path")
	})
	return mux
}

// wrap turns a handler's result into Nomad's responses: JSON (indented
// with ?pretty) or a plain-text error with its status code.
func (a *Agent) wrap(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		obj, err := h(w, r)
		if err != nil {
			code, msg := errorCode(err)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(msg))
			a.log.Debug("request failed", "method", r.Method, "path", r.URL.String(), "code", code, "error", msg)
			return
		}
		if raw, ok := obj.(rawResponse); ok {
			raw(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		if _, pretty := r.URL.Query()["pretty"]; pretty {
			enc.SetIndent("", "    ")
		}
		_ = enc.Encode(obj)
		a.log.Trace("request complete", "method", r.Method, "path", r.URL.String(), "duration", time.Since(start))
	}
}

// rawResponse writes its own response (logs, plain text).
type rawResponse func(w http.ResponseWriter)

func errorCode(err error) (int, string) {
	var ce *codedError
	var ve *ValidationError
	var ee *EnforceIndexError
	switch {
	case errors.As(err, &ce):
		return ce.code, ce.msg
	case errors.Is(err, ErrJobNotFound):
		return http.StatusNotFound, ErrJobNotFound.Error()
	case errors.Is(err, ErrAllocNotFound):
		return http.StatusNotFound, ErrAllocNotFound.Error()
	case errors.Is(err, ErrEvalNotFound):
		return http.StatusNotFound, ErrEvalNotFound.Error()
	case errors.Is(err, ErrDeploymentNotFound):
		return http.StatusNotFound, ErrDeploymentNotFound.Error()
	case errors.As(err, &ve):
		return http.StatusBadRequest, ve.Error()
	case errors.As(err, &ee):
		return http.StatusConflict, ee.Error()
	}
	return http.StatusInternalServerError, err.Error()
}

// setIndex sets the query meta headers Nomad sends with every read.
func setIndex(w http.ResponseWriter, index uint64) {
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(index, 10))
	w.Header().Set("X-Nomad-KnownLeader", "true")
	w.Header().Set("X-Nomad-LastContact", "0")
}

// parseBlocking reads ?index= and ?wait=.
func parseBlocking(r *http.Request) (uint64, time.Duration, error) {
	q := r.URL.Query()
	var min uint64
	if s := q.Get("index"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, coded(http.StatusBadRequest, "Invalid index: %v", err)
		}
		min = v
	}
	wait := defaultQueryWait
	if s := q.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			n, nerr := strconv.Atoi(s)
			if nerr != nil {
				return 0, 0, coded(http.StatusBadRequest, "Invalid wait time: %v", err)
			}
			d = time.Duration(n) * time.Second
		}
		if d <= 0 {
			return 0, 0, coded(http.StatusBadRequest, "Invalid wait time: %v must be positive", s)
		}
		wait = d
	}
	if wait > maxQueryWait {
		wait = maxQueryWait
	}
	return min, wait, nil
}

// blockingQuery runs a read; with ?index=N it waits (up to ?wait plus a
// little jitter, as Nomad adds) until the read's index passes N.
func (a *Agent) blockingQuery(w http.ResponseWriter, r *http.Request, read func() (interface{}, uint64, error)) (interface{}, error) {
	min, wait, err := parseBlocking(r)
	if err != nil {
		return nil, err
	}
	wait += time.Duration(rand.Int63n(int64(wait)/16 + 1))
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	for {
		changed := a.store.Changed()
		out, index, err := read()
		if min == 0 || index > min || ctx.Err() != nil {
			setIndex(w, index)
			return out, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
		}
	}
}

// decodeBody reads a JSON request body.
func decodeBody(r *http.Request, out interface{}) error {
	if r.Body == nil {
		return coded(http.StatusBadRequest, "Request body is empty")
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<20))
	if err := dec.Decode(out); err != nil {
		return coded(http.StatusBadRequest, "Failed to parse the request body as JSON: %v", err)
	}
	return nil
}

// decodeJSON decodes a body already read.
func decodeJSON(b []byte, out interface{}) error {
	if err := json.Unmarshal(b, out); err != nil {
		return coded(http.StatusBadRequest, "Failed to parse the request body as JSON: %v", err)
	}
	return nil
}

// namespaceOf is the request's ?namespace (default "default").
func namespaceOf(r *http.Request) string {
	if ns := r.URL.Query().Get("namespace"); ns != "" {
		return ns
	}
	return defaultNamespace
}

// queryBool reads a boolean query parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, coded(http.StatusBadRequest, "Failed to parse value of %q (%v) as a bool: %v", name, s, err)
	}
	return v, nil
}

// splitSuffix splits "<id>/<suffix>" for the known suffixes.
func splitSuffix(path string, suffixes ...string) (string, string) {
	for _, s := range suffixes {
		if strings.HasSuffix(path, "/"+s) {
			return strings.TrimSuffix(path, "/"+s), s
		}
	}
	return path, ""
}
