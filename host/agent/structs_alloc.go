package agent

import "time"

// Allocation desired and client statuses as Nomad spells them.
const (
	AllocDesiredRun  = "run"
	AllocDesiredStop = "stop"

	AllocClientPending  = "pending"
	AllocClientRunning  = "running"
	AllocClientComplete = "complete"
	AllocClientFailed   = "failed"
	AllocClientLost     = "lost"
)

// Task states.
const (
	TaskStatePending = "pending"
	TaskStateRunning = "running"
	TaskStateDead    = "dead"
)

// Task event types (Nomad's structs.Task* constants).
const (
	EventReceived          = "Received"
	EventSetup             = "Task Setup"
	EventStarted           = "Started"
	EventTerminated        = "Terminated"
	EventKilling           = "Killing"
	EventKilled            = "Killed"
	EventRestarting        = "Restarting"
	EventNotRestarting     = "Not Restarting"
	EventDriverFailure     = "Driver Failure"
	EventDriverMessage     = "Driver"
	EventFailedValidation  = "Failed Validation"
	EventDownloading       = "Downloading Artifacts"
	EventArtifactFailed    = "Failed Artifact Download"
	EventRestoreFailed     = "Failed Restoring Task"
	EventSetupFailure      = "Setup Failure"
	EventPluginRedispensed = "Plugin Restarted"
)

// maxTaskEvents is how many events a TaskState keeps (Nomad keeps 10).
const maxTaskEvents = 10

// Allocation is one placement of a task group on this node.
type Allocation struct {
	ID                 string
	Namespace          string
	EvalID             string
	Name               string
	NodeID             string
	NodeName           string
	JobID              string
	Job                *Job
	TaskGroup          string
	AllocatedResources *AllocatedResources
	DesiredStatus      string
	DesiredDescription string
	ClientStatus       string
	ClientDescription  string
	TaskStates         map[string]*TaskState
	PreviousAllocation string
	NextAllocation     string
	DesiredTransition  DesiredTransition
	DeploymentID       string
	DeploymentStatus   *AllocDeploymentStatus
	CreateIndex        uint64
	ModifyIndex        uint64
	AllocModifyIndex   uint64
	CreateTime         int64
	ModifyTime         int64
}

// DesiredTransition is Nomad's: what the scheduler is asked to do with an
// allocation (ForceReschedule: replace a failed one on the next pass).
type DesiredTransition struct {
	Migrate         *bool `json:",omitempty"`
	Reschedule      *bool `json:",omitempty"`
	ForceReschedule *bool `json:",omitempty"`
	NoShutdownDelay *bool `json:",omitempty"`
}

// AllocListStub is an allocation as listed by GET /v1/job/:id/allocations
// and GET /v1/allocations.
type AllocListStub struct {
	ID                 string
	EvalID             string
	Name               string
	Namespace          string
	NodeID             string
	NodeName           string
	JobID              string
	JobType            string
	JobVersion         uint64
	TaskGroup          string
	AllocatedResources *AllocatedResources `json:",omitempty"`
	DesiredStatus      string
	DesiredDescription string
	ClientStatus       string
	ClientDescription  string
	TaskStates         map[string]*TaskState
	FollowupEvalID     string
	NextAllocation     string
	PreviousAllocation string
	DeploymentStatus   *AllocDeploymentStatus
	CreateIndex        uint64
	ModifyIndex        uint64
	CreateTime         int64
	ModifyTime         int64
}

// AllocatedResources is what the scheduler gave an allocation.
type AllocatedResources struct {
	Tasks  map[string]*AllocatedTaskResources
	Shared AllocatedSharedResources
}

// AllocatedTaskResources is one task's share.
type AllocatedTaskResources struct {
	Cpu      AllocatedCpuResources
	Memory   AllocatedMemoryResources
	Networks []*NetworkResource
}

// AllocatedCpuResources is a task's CPU share in MHz.
type AllocatedCpuResources struct {
	CpuShares int64
}

// AllocatedMemoryResources is a task's memory.
type AllocatedMemoryResources struct {
	MemoryMB    int64
	MemoryMaxMB int64
}

// AllocatedSharedResources are the group-level resources; Ports are the
// group network's ports with their assigned host ports.
type AllocatedSharedResources struct {
	DiskMB   int64
	Networks []*NetworkResource
	Ports    []PortMapping
}

// PortMapping is an assigned group port.
type PortMapping struct {
	Label  string
	Value  int
	To     int
	HostIP string
}

// TaskState is the client's view of one task of an allocation.
type TaskState struct {
	State       string
	Failed      bool
	Restarts    uint64
	LastRestart time.Time
	StartedAt   time.Time
	FinishedAt  time.Time
	Events      []*TaskEvent
}

// TaskEvent is one entry of a task's event history.
type TaskEvent struct {
	Type           string
	Time           int64
	DisplayMessage string
	Details        map[string]string
	Message        string

	// Deprecated fields Nomad still fills.
	FailsTask       bool
	RestartReason   string
	SetupError      string
	DriverError     string
	DriverMessage   string
	ExitCode        int
	Signal          int
	KillReason      string
	KillTimeout     time.Duration
	KillError       string
	StartDelay      int64
	DownloadError   string
	ValidationError string
}

// Node is this host as GET /v1/node/:id shows it.
type Node struct {
	ID                    string
	Name                  string
	Datacenter            string
	NodePool              string
	NodeClass             string
	HTTPAddr              string
	TLSEnabled            bool
	Attributes            map[string]string
	Drivers               map[string]*DriverInfo
	Meta                  map[string]string
	Status                string
	StatusDescription     string
	SchedulingEligibility string
	Drain                 bool
	CreateIndex           uint64
	ModifyIndex           uint64
}

// DriverInfo is a driver's fingerprint on a node.
type DriverInfo struct {
	Attributes        map[string]string
	Detected          bool
	Healthy           bool
	HealthDescription string
	UpdateTime        time.Time
}

// NodeListStub is an entry of GET /v1/nodes.
type NodeListStub struct {
	Address               string
	ID                    string
	Datacenter            string
	Name                  string
	NodeClass             string
	NodePool              string
	Version               string
	Drain                 bool
	SchedulingEligibility string
	Status                string
	StatusDescription     string
	Drivers               map[string]*DriverInfo
	CreateIndex           uint64
	ModifyIndex           uint64
}
