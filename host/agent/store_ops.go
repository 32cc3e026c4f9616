package agent

import (
	"net/http"
)

// RevertTarget returns the tracked version to revert a job to, checking
// Nomad's conditions (EnforcePriorVersion, not the current version), and
// the current job for a check-and-set register of it.
func (s *Store) RevertTarget(key JobKey, version uint64, enforcePrior *uint64) (target, current *Job, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.jobs[key]
	if cur == nil {
		return nil, nil, ErrJobNotFound
	}
	if enforcePrior != nil && *enforcePrior != cur.Version {
		return nil, nil, coded(http.StatusBadRequest, "current job has version %d; enforcing version %d", cur.Version, *enforcePrior)
	}
	if version == cur.Version {
		return nil, nil, coded(http.StatusBadRequest, "can't revert to current version")
	}
	for _, v := range s.versions[key] {
		if v.Version == version {
			return v, cur, nil
		}
	}
	return nil, nil, coded(http.StatusNotFound, "job %q in namespace %q at version %d not found", key.ID, key.Namespace, version)
}

// SetStable marks one tracked version of a job stable (or not).
func (s *Store) SetStable(key JobKey, version uint64, stable bool) (uint64, error) {
	var err error
	idx := s.write(func(index uint64) []string {
		cur := s.jobs[key]
		if cur == nil {
			err = ErrJobNotFound
			return nil
		}
		vs := s.versions[key]
		for i, v := range vs {
			if v.Version != version {
				continue
			}
			c := *v
			c.Stable, c.ModifyIndex = stable, index
			vs[i] = &c
			if cur.Version == version {
				j := *cur
				j.Stable, j.ModifyIndex = stable, index
				s.jobs[key] = &j
			}
			return []string{tableJobs}
		}
		err = coded(http.StatusNotFound, "job %q in namespace %q at version %d not found", key.ID, key.Namespace, version)
		return nil
	})
	return idx, err
}

// ForceReschedule marks a job's failed allocations for replacement on the
// next scheduler pass (evaluate with ForceReschedule) and returns how many.
func (s *Store) ForceReschedule(key JobKey) int {
	n := 0
	s.write(func(index uint64) []string {
		for _, r := range s.allocs {
			a := r.Alloc
			if a.JobID != key.ID || a.Namespace != key.Namespace || a.ClientStatus != AllocClientFailed ||
				a.DesiredStatus != AllocDesiredRun || a.NextAllocation != "" {
				continue
			}
			yes := true
			a.DesiredTransition.ForceReschedule = &yes
			a.ModifyIndex, a.AllocModifyIndex = index, index
			n++
		}
		if n == 0 {
			return nil
		}
		return []string{tableAllocs}
	})
	return n
}

// jobInstanceAllocs filters a job's allocations to those of its current
// instance (Nomad's AllocsByJob without `all`): a job purged and registered
// again does not list the allocations of the one before.
func jobInstanceAllocs(list []*AllocListStub, recs map[string]uint64, job *Job) []*AllocListStub {
	if job == nil {
		return list
	}
	out := []*AllocListStub{}
	for _, a := range list {
		if recs[a.ID] == job.CreateIndex {
			out = append(out, a)
		}
	}
	return out
}

// allocJobCreateIndexes maps allocation IDs to the CreateIndex of the job
// they were placed for.
func (s *Store) allocJobCreateIndexes(key JobKey) map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]uint64{}
	for id, r := range s.allocs {
		if r.Alloc.JobID == key.ID && r.Alloc.Namespace == key.Namespace && r.Alloc.Job != nil {
			out[id] = r.Alloc.Job.CreateIndex
		}
	}
	return out
}
