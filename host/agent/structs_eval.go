package agent

import "time"

// Evaluation states and triggers (Nomad's structs.Eval*).
const (
	EvalStatusPending  = "pending"
	EvalStatusComplete = "complete"
	EvalStatusFailed   = "failed"
	EvalStatusBlocked  = "blocked"
	EvalStatusCanceled = "canceled"

	EvalTriggerJobRegister   = "job-register"
	EvalTriggerJobDeregister = "job-deregister"
	EvalTriggerPeriodicJob   = "periodic-job"
	EvalTriggerQueuedAllocs  = "queued-allocs"
	EvalTriggerDeployment    = "deployment-watcher"
	EvalTriggerRollingUpdate = "rolling-update"
)

// Evaluation is Nomad's evaluation: why the scheduler looked at a job, and
// what came of it.
type Evaluation struct {
	ID                string
	Priority          int
	Type              string
	TriggeredBy       string
	Namespace         string
	JobID             string
	JobModifyIndex    uint64
	NodeID            string
	NodeModifyIndex   uint64
	DeploymentID      string
	Status            string
	StatusDescription string
	Wait              time.Duration
	WaitUntil         time.Time
	NextEval          string
	PreviousEval      string
	BlockedEval       string
	FailedTGAllocs    map[string]*AllocMetric
	ClassEligibility  map[string]bool
	QueuedAllocations map[string]int
	SnapshotIndex     uint64
	CreateIndex       uint64
	ModifyIndex       uint64
	CreateTime        int64
	ModifyTime        int64
}

// terminal reports whether the scheduler is done with the evaluation.
func (e *Evaluation) terminal() bool {
	switch e.Status {
	case EvalStatusComplete, EvalStatusFailed, EvalStatusCanceled:
		return true
	}
	return false
}

// AllocMetric is Nomad's AllocMetric: why allocations of a group could not
// be placed (this node is the only one evaluated).
type AllocMetric struct {
	NodesEvaluated     int
	NodesFiltered      int
	NodesInPool        int
	NodePool           string
	NodesAvailable     map[string]int
	ClassFiltered      map[string]int
	ConstraintFiltered map[string]int
	NodesExhausted     int
	ClassExhausted     map[string]int
	DimensionExhausted map[string]int
	QuotaExhausted     []string
	AllocationTime     time.Duration
	CoalescedFailures  int
}

// EvalCountResponse is GET /v1/evaluations/count.
type EvalCountResponse struct {
	Count int
	QueryMeta
}
