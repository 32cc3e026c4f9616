package agent

import "time"

// Deployment states and descriptions (Nomad's).
const (
	DeploymentStatusRunning    = "running"
	DeploymentStatusPaused     = "paused"
	DeploymentStatusFailed     = "failed"
	DeploymentStatusSuccessful = "successful"
	DeploymentStatusCancelled  = "cancelled"

	descRunning           = "Deployment is running"
	descNeedsPromotion    = "Deployment is running but requires manual promotion"
	descAutoPromotion     = "Deployment is running pending automatic promotion"
	descPaused            = "Deployment is paused"
	descSuccessful        = "Deployment completed successfully"
	descStoppedJob        = "Cancelled because job is stopped"
	descNewerJob          = "Cancelled due to newer version of job"
	descFailedAllocations = "Failed due to unhealthy allocations"
	descProgressDeadline  = "Failed due to progress deadline"
	descFailedByUser      = "Deployment marked as failed"

	// descTaskStates is added while a deployment runs: this host has no
	// service checks, health comes from the task states.
	descTaskStates = " (health from task states: this host runs no service checks)"
)

// UpdateStrategy is a job's or group's `update` block.
type UpdateStrategy struct {
	Stagger          *time.Duration
	MaxParallel      *int
	HealthCheck      *string
	MinHealthyTime   *time.Duration
	HealthyDeadline  *time.Duration
	ProgressDeadline *time.Duration
	Canary           *int
	AutoRevert       *bool
	AutoPromote      *bool
}

// defaultUpdate is Nomad's DefaultUpdateStrategy.
func defaultUpdate() UpdateStrategy {
	return UpdateStrategy{Stagger: durPtr(30 * time.Second), MaxParallel: intPtr(1), HealthCheck: strPtr("checks"),
		MinHealthyTime: durPtr(10 * time.Second), HealthyDeadline: durPtr(5 * time.Minute),
		ProgressDeadline: durPtr(10 * time.Minute), Canary: intPtr(0), AutoRevert: boolPtr(false), AutoPromote: boolPtr(false)}
}

// merged fills the unset fields of u from def.
func (u *UpdateStrategy) merged(def UpdateStrategy) *UpdateStrategy {
	out := def
	if u == nil {
		return &out
	}
	if u.Stagger != nil {
		out.Stagger = u.Stagger
	}
	if u.MaxParallel != nil {
		out.MaxParallel = u.MaxParallel
	}
	if u.HealthCheck != nil {
		out.HealthCheck = u.HealthCheck
	}
	if u.MinHealthyTime != nil {
		out.MinHealthyTime = u.MinHealthyTime
	}
	if u.HealthyDeadline != nil {
		out.HealthyDeadline = u.HealthyDeadline
	}
	if u.ProgressDeadline != nil {
		out.ProgressDeadline = u.ProgressDeadline
	}
	if u.Canary != nil {
		out.Canary = u.Canary
	}
	if u.AutoRevert != nil {
		out.AutoRevert = u.AutoRevert
	}
	if u.AutoPromote != nil {
		out.AutoPromote = u.AutoPromote
	}
	return &out
}

// rolling reports whether the strategy makes deployments (max_parallel > 0).
func (u *UpdateStrategy) rolling() bool {
	return u != nil && u.MaxParallel != nil && *u.MaxParallel > 0
}

// Deployment is Nomad's deployment of one job version.
type Deployment struct {
	ID                 string
	Namespace          string
	JobID              string
	JobVersion         uint64
	JobModifyIndex     uint64
	JobSpecModifyIndex uint64
	JobCreateIndex     uint64
	IsMultiregion      bool
	TaskGroups         map[string]*DeploymentState
	Status             string
	StatusDescription  string
	EvalPriority       int
	CreateIndex        uint64
	ModifyIndex        uint64
	CreateTime         int64
	ModifyTime         int64
}

// active: the deployment still governs its job's updates.
func (d *Deployment) active() bool {
	return d.Status == DeploymentStatusRunning || d.Status == DeploymentStatusPaused
}

// requiresPromotion: a running deployment with canaries not yet promoted.
func (d *Deployment) requiresPromotion() bool {
	if d.Status != DeploymentStatusRunning {
		return false
	}
	for _, g := range d.TaskGroups {
		if g.DesiredCanaries > 0 && !g.Promoted {
			return true
		}
	}
	return false
}

// allAutoPromote: a running deployment whose canary groups all auto-promote.
func (d *Deployment) allAutoPromote() bool {
	if d.Status != DeploymentStatusRunning || len(d.TaskGroups) == 0 {
		return false
	}
	for _, g := range d.TaskGroups {
		if g.DesiredCanaries > 0 && !g.AutoPromote {
			return false
		}
	}
	return true
}

// DeploymentState is one group's part of a deployment.
type DeploymentState struct {
	PlacedCanaries    []string
	AutoRevert        bool
	AutoPromote       bool
	ProgressDeadline  time.Duration
	RequireProgressBy time.Time
	Promoted          bool
	DesiredCanaries   int
	DesiredTotal      int
	PlacedAllocs      int
	HealthyAllocs     int
	UnhealthyAllocs   int
}

// AllocDeploymentStatus is an allocation's health in its deployment.
type AllocDeploymentStatus struct {
	Healthy     *bool
	Timestamp   time.Time
	Canary      bool
	ModifyIndex uint64
}

// DeploymentUpdateResponse answers fail, pause, promote, allocation-health.
type DeploymentUpdateResponse struct {
	EvalID                string
	EvalCreateIndex       uint64
	DeploymentModifyIndex uint64
	RevertedJobVersion    *uint64
	Index                 uint64
}

// DeploymentPromoteRequest is POST /v1/deployment/promote/:id.
type DeploymentPromoteRequest struct {
	DeploymentID string
	All          bool
	Groups       []string
}

// DeploymentPauseRequest is POST /v1/deployment/pause/:id.
type DeploymentPauseRequest struct {
	DeploymentID string
	Pause        bool
}

// DeploymentAllocHealthRequest is POST /v1/deployment/allocation-health/:id.
type DeploymentAllocHealthRequest struct {
	DeploymentID           string
	HealthyAllocationIDs   []string
	UnhealthyAllocationIDs []string
}
