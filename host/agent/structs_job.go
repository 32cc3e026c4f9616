package agent

import (
	"encoding/json"
	"reflect"
	"time"
)

// Job types and statuses as Nomad spells them.
const (
	JobTypeService  = "service"
	JobTypeBatch    = "batch"
	JobTypeSystem   = "system"
	JobTypeSysBatch = "sysbatch"

	JobStatusPending = "pending"
	JobStatusRunning = "running"
	JobStatusDead    = "dead"
)

// Restart modes of a restart policy.
const (
	RestartModeFail  = "fail"
	RestartModeDelay = "delay"
)

// Job is a Nomad job in the JSON form of Nomad's HTTP API (what
// `nomad job run -output` prints inside {"Job": ...}). Fields this host does
// not use are kept in Extra and returned unchanged.
type Job struct {
	Region      string
	Namespace   string
	ID          string
	Name        string
	Type        string
	Priority    int
	AllAtOnce   bool
	Datacenters []string
	NodePool    string
	TaskGroups  []*TaskGroup
	Meta        map[string]string
	// Periodic, ParameterizedJob: a job that runs nothing itself; its
	// children (periodic launches, dispatches) run.
	Periodic         *PeriodicConfig
	ParameterizedJob *ParameterizedJobConfig
	// Update is the job-level update block, merged into each group's.
	Update *UpdateStrategy
	// Payload is a dispatched child's payload (plain, not snappy as Nomad
	// stores it).
	Payload                  []byte
	DispatchIdempotencyToken string `json:",omitempty"`

	// Set by the server.
	Stop              bool
	ParentID          string
	Dispatched        bool
	Status            string
	StatusDescription string
	Stable            bool
	Version           uint64
	SubmitTime        int64
	CreateIndex       uint64
	ModifyIndex       uint64
	JobModifyIndex    uint64
	VersionTag        *JobVersionTag

	// Extra holds members this host does not model.
	Extra Extra `json:"-"`
}

type plainJob Job

// UnmarshalJSON decodes a job and keeps unknown members in Extra.
func (j *Job) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*plainJob)(j)); err != nil {
		return wrapJSONError("Job", err)
	}
	extra, err := captureExtra(b, reflect.TypeOf(plainJob{}))
	j.Extra = extra
	return err
}

// MarshalJSON encodes a job with its Extra members.
func (j Job) MarshalJSON() ([]byte, error) { return marshalWithExtra(plainJob(j), j.Extra) }

// TaskGroup is a job's group: Count copies of its tasks, placed together.
type TaskGroup struct {
	Name          string
	Count         *int
	Tasks         []*Task
	RestartPolicy *RestartPolicy
	Networks      []*NetworkResource
	Meta          map[string]string
	// Update makes a service job's updates deployments (rolling by
	// max_parallel, health from the task states).
	Update        *UpdateStrategy
	ShutdownDelay *time.Duration

	// Extra holds members this host does not model.
	Extra Extra `json:"-"`
}

type plainTaskGroup TaskGroup

// UnmarshalJSON decodes a group and keeps unknown members in Extra.
func (g *TaskGroup) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*plainTaskGroup)(g)); err != nil {
		return wrapJSONError("TaskGroups", err)
	}
	extra, err := captureExtra(b, reflect.TypeOf(plainTaskGroup{}))
	g.Extra = extra
	return err
}

// MarshalJSON encodes a group with its Extra members.
func (g TaskGroup) MarshalJSON() ([]byte, error) {
	return marshalWithExtra(plainTaskGroup(g), g.Extra)
}

// Task is one task of a group, run by a driver.
type Task struct {
	Name          string
	Driver        string
	User          string
	Config        json.RawMessage
	Env           map[string]string
	Resources     *Resources
	RestartPolicy *RestartPolicy
	Meta          map[string]string
	KillTimeout   *time.Duration
	KillSignal    string
	LogConfig     *LogConfig
	Artifacts     []*TaskArtifact
	// DispatchPayload names the file in local/ that gets a dispatch's payload.
	DispatchPayload *DispatchPayloadConfig
	Leader          bool
	ShutdownDelay   time.Duration
	// Actions are the task's named commands (`action "name" { command, args }`).
	Actions []*Action `json:",omitempty"`

	// Extra holds members this host does not model.
	Extra Extra `json:"-"`
}

type plainTask Task

// UnmarshalJSON decodes a task and keeps unknown members in Extra.
func (t *Task) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*plainTask)(t)); err != nil {
		return wrapJSONError("Tasks", err)
	}
	extra, err := captureExtra(b, reflect.TypeOf(plainTask{}))
	t.Extra = extra
	return err
}

// MarshalJSON encodes a task with its Extra members.
func (t Task) MarshalJSON() ([]byte, error) { return marshalWithExtra(plainTask(t), t.Extra) }

// Action is a command a task declares for `nomad action` to run in it.
type Action struct {
	Name    string
	Command string
	Args    []string
}

// JobAction is an action as GET /v1/job/:id/actions lists it.
type JobAction struct {
	Action
	TaskName      string
	TaskGroupName string
}

// Resources is a task's resources block.
type Resources struct {
	CPU         *int
	Cores       *int `json:",omitempty"`
	MemoryMB    *int
	MemoryMaxMB *int               `json:",omitempty"`
	DiskMB      *int               `json:",omitempty"`
	Networks    []*NetworkResource `json:",omitempty"`
}

// NetworkResource is a network block (group level, or the deprecated task
// level); only host-mode ports are used.
type NetworkResource struct {
	Mode          string
	Device        string `json:",omitempty"`
	CIDR          string `json:",omitempty"`
	IP            string `json:",omitempty"`
	Hostname      string `json:",omitempty"`
	ReservedPorts []Port
	DynamicPorts  []Port
	MBits         *int `json:",omitempty"`
}

// Port is a port label: Value is the static port (ReservedPorts) or the
// assigned one; To is the port inside the task's network namespace.
type Port struct {
	Label           string
	Value           int
	To              int
	HostNetwork     string
	IgnoreCollision bool `json:",omitempty"`
}

// RestartPolicy is a restart block.
type RestartPolicy struct {
	Interval        *time.Duration
	Attempts        *int
	Delay           *time.Duration
	Mode            *string
	RenderTemplates *bool `json:",omitempty"`
}

// LogConfig is a task's logs block.
type LogConfig struct {
	MaxFiles      *int
	MaxFileSizeMB *int
	Disabled      *bool `json:",omitempty"`
}

// TaskArtifact is an artifact block. This host fetches local paths (plain
// or file://) and unpacks zip and tar archives.
type TaskArtifact struct {
	GetterSource   *string
	GetterOptions  map[string]string
	GetterHeaders  map[string]string `json:",omitempty"`
	GetterMode     *string
	GetterInsecure *bool `json:",omitempty"`
	RelativeDest   *string
	Chown          bool `json:",omitempty"`
}

// JobRegisterRequest is the body of POST /v1/jobs and POST /v1/job/:id.
type JobRegisterRequest struct {
	Job            *Job
	EnforceIndex   bool   `json:",omitempty"`
	JobModifyIndex uint64 `json:",omitempty"`
	PolicyOverride bool   `json:",omitempty"`
	PreserveCounts bool   `json:",omitempty"`
	// Submission is the job's source, kept per version.
	Submission *JobSubmission `json:",omitempty"`
}

// QueryMeta are the query fields Nomad adds to some responses.
type QueryMeta struct {
	Index       uint64
	LastContact int64
	KnownLeader bool
	NextToken   string
}

// JobRegisterResponse answers a register or update.
type JobRegisterResponse struct {
	EvalID          string
	EvalCreateIndex uint64
	JobModifyIndex  uint64
	Warnings        string
	QueryMeta
}

// JobDeregisterResponse answers DELETE /v1/job/:id.
type JobDeregisterResponse struct {
	EvalID          string
	EvalCreateIndex uint64
	JobModifyIndex  uint64
	QueryMeta
}

// JobVersionsResponse answers GET /v1/job/:id/versions (newest first).
type JobVersionsResponse struct {
	Versions []*Job
	Diffs    []*JobDiff
	QueryMeta
}

// JobListStub is an entry of GET /v1/jobs.
type JobListStub struct {
	ID                string
	ParentID          string
	Name              string
	Namespace         string
	Datacenters       []string
	NodePool          string
	Type              string
	Priority          int
	Periodic          bool
	ParameterizedJob  bool
	Stop              bool
	Status            string
	StatusDescription string
	JobSummary        *JobSummary
	CreateIndex       uint64
	ModifyIndex       uint64
	JobModifyIndex    uint64
	SubmitTime        int64
	Meta              map[string]string `json:",omitempty"`
}

// JobSummary counts a job's allocations per group and client status.
type JobSummary struct {
	JobID       string
	Namespace   string
	Summary     map[string]TaskGroupSummary
	Children    *JobChildrenSummary
	CreateIndex uint64
	ModifyIndex uint64
}

// TaskGroupSummary is one group's line of a JobSummary.
type TaskGroupSummary struct {
	Queued   int
	Complete int
	Failed   int
	Running  int
	Starting int
	Lost     int
	Unknown  int
}

// JobChildrenSummary counts child jobs (always zero here).
type JobChildrenSummary struct {
	Pending int64
	Running int64
	Dead    int64
}

// JobParseRequest is the body of POST /v1/jobs/parse.
type JobParseRequest struct {
	JobHCL       string
	Canonicalize bool
}

// JobValidateResponse answers POST /v1/validate/job.
type JobValidateResponse struct {
	DriverConfigValidated bool
	ValidationErrors      []string
	Error                 string
	Warnings              string
}
