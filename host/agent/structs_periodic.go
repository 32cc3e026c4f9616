package agent

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/cronexpr"
)

// Dispatch payload modes and limits (Nomad's).
const (
	DispatchPayloadForbidden = "forbidden"
	DispatchPayloadOptional  = "optional"
	DispatchPayloadRequired  = "required"

	// DispatchPayloadSizeLimit is Nomad's limit on a dispatch payload.
	DispatchPayloadSizeLimit = 16 * 1024

	periodicSpecCron     = "cron"
	periodicLaunchSuffix = "/periodic-"
	dispatchLaunchSuffix = "/dispatch-"
)

// PeriodicConfig is a job's `periodic` block (the API's form: unset
// fields are nil until Canonicalize).
type PeriodicConfig struct {
	Enabled         *bool
	Spec            *string
	Specs           []string
	SpecType        *string
	ProhibitOverlap *bool
	TimeZone        *string
}

// ParameterizedJobConfig is a job's `parameterized` block.
type ParameterizedJobConfig struct {
	Payload      string
	MetaRequired []string
	MetaOptional []string
}

// DispatchPayloadConfig is a task's `dispatch_payload` block: the file
// under the task's local/ dir that receives a dispatch's payload.
type DispatchPayloadConfig struct {
	File string
}

// JobDispatchRequest is POST /v1/job/:id/dispatch.
type JobDispatchRequest struct {
	JobID            string
	Payload          []byte
	Meta             map[string]string
	IdPrefixTemplate string
	Priority         int
	IdempotencyToken string
}

// JobDispatchResponse is its answer.
type JobDispatchResponse struct {
	DispatchedJobID string
	EvalID          string
	EvalCreateIndex uint64
	JobCreateIndex  uint64
	Index           uint64
}

// PeriodicForceResponse is POST /v1/job/:id/periodic/force's answer.
type PeriodicForceResponse struct {
	EvalID          string
	EvalCreateIndex uint64
	Index           uint64
}

// IsPeriodic is Nomad's Job.IsPeriodic.
func (j *Job) IsPeriodic() bool { return j.Periodic != nil }

// IsPeriodicActive: a periodic job whose launches run.
func (j *Job) IsPeriodicActive() bool {
	return j.IsPeriodic() && j.Periodic.enabled() && !j.Stop && !j.IsParameterized()
}

// IsParameterized is Nomad's: a parameterized job that is not a dispatch.
func (j *Job) IsParameterized() bool { return j.ParameterizedJob != nil && !j.Dispatched }

// isTemplate: a job that runs nothing itself (periodic or parameterized
// parent); its children run.
func (j *Job) isTemplate() bool { return j.IsPeriodic() || j.IsParameterized() }

func (p *PeriodicConfig) enabled() bool { return p.Enabled == nil || *p.Enabled }

func (p *PeriodicConfig) canonicalize() {
	if p.Enabled == nil {
		p.Enabled = boolPtr(true)
	}
	if p.Spec == nil {
		p.Spec = strPtr("")
	}
	if p.Specs == nil {
		p.Specs = []string{}
	}
	if p.SpecType == nil {
		p.SpecType = strPtr(periodicSpecCron)
	}
	if p.ProhibitOverlap == nil {
		p.ProhibitOverlap = boolPtr(false)
	}
	if p.TimeZone == nil || *p.TimeZone == "" {
		p.TimeZone = strPtr("UTC")
	}
}

func boolPtr(b bool) *bool { return &b }

// specs lists the cron expressions (spec, or specs).
func (p *PeriodicConfig) specs() []string {
	if p.Spec != nil && *p.Spec != "" {
		return []string{*p.Spec}
	}
	return p.Specs
}

// location is the time zone the specs are read in.
func (p *PeriodicConfig) location() (*time.Location, error) {
	if p.TimeZone == nil || *p.TimeZone == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(*p.TimeZone)
}

// next is the first launch strictly after from (zero if none), as Nomad's
// PeriodicConfig.Next: the earliest of the specs, in the job's time zone.
func (p *PeriodicConfig) next(from time.Time) (time.Time, error) {
	loc, err := p.location()
	if err != nil {
		return time.Time{}, err
	}
	var out time.Time
	for _, spec := range p.specs() {
		t, err := cronNext(from.In(loc), spec)
		if err != nil {
			return time.Time{}, err
		}
		if !t.IsZero() && (out.IsZero() || t.Before(out)) {
			out = t
		}
	}
	return out, nil
}

func cronNext(from time.Time, spec string) (t time.Time, err error) {
	defer func() {
		if recover() != nil {
			t, err = time.Time{}, fmt.Errorf("failed parsing cron expression: %q", spec)
		}
	}()
	e, err := cronexpr.Parse(spec)
	if err != nil {
		return time.Time{}, fmt.Errorf("failed parsing cron expression: %s: %v", spec, err)
	}
	return e.Next(from), nil
}

// validatePeriodic checks a periodic block (Nomad's PeriodicConfig.Validate
// and the job-type rule).
func (j *Job) validatePeriodic(p *problems) {
	if j.Periodic == nil {
		return
	}
	pc := j.Periodic
	if j.Type != JobTypeBatch && j.Type != JobTypeSysBatch && pc.enabled() {
		p.add("Job.Periodic", "Periodic can only be used with %q or %q scheduler", JobTypeBatch, JobTypeSysBatch)
	}
	if pc.SpecType != nil && *pc.SpecType != periodicSpecCron {
		p.add("Job.Periodic.SpecType", "Unknown periodic specification type %q", *pc.SpecType)
	}
	hasSpec := pc.Spec != nil && *pc.Spec != ""
	switch {
	case hasSpec && len(pc.Specs) > 0:
		p.add("Job.Periodic", "Only cron or crons may be used")
	case !hasSpec && len(pc.Specs) == 0:
		p.add("Job.Periodic", "Must specify a spec")
	}
	if _, err := pc.location(); err != nil {
		p.add("Job.Periodic.TimeZone", "Invalid time zone %q: %v", *pc.TimeZone, err)
	}
	for _, spec := range pc.specs() {
		if _, err := cronexpr.Parse(spec); err != nil {
			p.add("Job.Periodic.Spec", "Invalid cron spec %q: %v", spec, err)
		}
	}
}

// validateParameterized checks a parameterized block and the tasks'
// dispatch_payload files.
func (j *Job) validateParameterized(p *problems) {
	if pj := j.ParameterizedJob; pj != nil {
		if j.Type != JobTypeBatch && j.Type != JobTypeSysBatch {
			p.add("Job.ParameterizedJob", "Parameterized job can only be used with %q or %q scheduler", JobTypeBatch, JobTypeSysBatch)
		}
		switch pj.Payload {
		case DispatchPayloadOptional, DispatchPayloadRequired, DispatchPayloadForbidden:
		default:
			p.add("Job.ParameterizedJob.Payload", "Unknown payload requirement: %q", pj.Payload)
		}
		required := map[string]bool{}
		for _, k := range pj.MetaRequired {
			required[k] = true
		}
		for _, k := range pj.MetaOptional {
			if required[k] {
				p.add("Job.ParameterizedJob", "%q is both required and optional meta", k)
			}
		}
	}
	for _, g := range j.TaskGroups {
		if g == nil {
			continue
		}
		for _, t := range g.Tasks {
			if t == nil || t.DispatchPayload == nil {
				continue
			}
			path := fmt.Sprintf("Job.TaskGroups[%s].Tasks[%s].DispatchPayload.File", g.Name, t.Name)
			f := t.DispatchPayload.File
			if f == "" || strings.Contains(f, "\x00") || escapesTaskDir(f) {
				p.add(path, "dispatch payload file %q escapes the task's local dir or is empty", f)
			}
		}
	}
}

// validateDispatch is Nomad's validateDispatchRequest, messages included.
func validateDispatch(req *JobDispatchRequest, job *Job) error {
	pj := job.ParameterizedJob
	has := len(req.Payload) != 0
	switch {
	case pj.Payload == DispatchPayloadRequired && !has:
		return fmt.Errorf("Payload is not provided but required by parameterized job")
	case pj.Payload == DispatchPayloadForbidden && has:
		return fmt.Errorf("Payload provided but forbidden by parameterized job")
	case len(req.Payload) > DispatchPayloadSizeLimit:
		return fmt.Errorf("Payload exceeds maximum size; %d > %d", len(req.Payload), DispatchPayloadSizeLimit)
	}
	allowed := map[string]bool{}
	for _, k := range append(append([]string(nil), pj.MetaRequired...), pj.MetaOptional...) {
		allowed[k] = true
	}
	var unpermitted, missing []string
	for k := range req.Meta {
		if !allowed[k] {
			unpermitted = append(unpermitted, k)
		}
	}
	if len(unpermitted) > 0 {
		return fmt.Errorf("Dispatch request included unpermitted metadata keys: %v", sortedStrings(unpermitted))
	}
	for _, k := range pj.MetaRequired {
		if _, ok := req.Meta[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("Dispatch did not provide required meta keys: %v", sortedStrings(missing))
	}
	return nil
}
