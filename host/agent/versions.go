package agent

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// JobVersionTag names a job version (kept beyond the tracked versions).
type JobVersionTag struct {
	Name        string
	Description string
	TaggedTime  int64
}

// TagVersionRequest is PUT /v1/job/:id/versions/:name/tag.
type TagVersionRequest struct {
	Version     uint64
	Latest      bool
	Description string
}

// JobSubmission is the source a job version was registered from (sent
// along with a register by `nomad job run`).
type JobSubmission struct {
	Source        string
	Format        string
	VariableFlags map[string]string
	Variables     string
}

// TagVersion tags one version of a job (the latest with latest, or when
// version is 0 and latest is set), Nomad's rules: a name is on one version.
func (s *Store) TagVersion(key JobKey, name string, req *TagVersionRequest) (uint64, error) {
	var err error
	idx := s.write(func(index uint64) []string {
		cur := s.jobs[key]
		if cur == nil {
			err = ErrJobNotFound
			return nil
		}
		version := req.Version
		if req.Latest && version == 0 {
			version = cur.Version
		}
		vs := s.versions[key]
		target := -1
		for i, v := range vs {
			if v.VersionTag != nil && v.VersionTag.Name == name && v.Version != version {
				err = coded(http.StatusBadRequest, "tag %q already exists on a different version of job %q", name, key.ID)
				return nil
			}
			if v.Version == version {
				target = i
			}
		}
		if target < 0 {
			err = coded(http.StatusNotFound, "job %q in namespace %q at version %d not found", key.ID, key.Namespace, version)
			return nil
		}
		s.setTagLocked(key, target, &JobVersionTag{Name: name, Description: req.Description, TaggedTime: time.Now().UnixNano()}, index)
		return []string{tableJobs}
	})
	return idx, err
}

// UntagVersion removes a tag from the version that has it.
func (s *Store) UntagVersion(key JobKey, name string) (uint64, error) {
	var err error
	idx := s.write(func(index uint64) []string {
		if s.jobs[key] == nil {
			err = ErrJobNotFound
			return nil
		}
		for i, v := range s.versions[key] {
			if v.VersionTag != nil && v.VersionTag.Name == name {
				s.setTagLocked(key, i, nil, index)
				return []string{tableJobs}
			}
		}
		err = coded(http.StatusNotFound, "tag %q not found on job %q", name, key.ID)
		return nil
	})
	return idx, err
}

// setTagLocked replaces version i with a copy carrying tag (and the
// current job, when it is that version).
func (s *Store) setTagLocked(key JobKey, i int, tag *JobVersionTag, index uint64) {
	c := *s.versions[key][i]
	c.VersionTag, c.ModifyIndex = tag, index
	s.versions[key][i] = &c
	if cur := s.jobs[key]; cur.Version == c.Version {
		j := *cur
		j.VersionTag, j.ModifyIndex = tag, index
		s.jobs[key] = &j
	}
}

// trimVersions keeps the newest tracked versions and every tagged one.
func trimVersions(vs []*Job) []*Job {
	out := vs[:0:0]
	untagged := 0
	for _, v := range vs {
		if v.VersionTag == nil {
			untagged++
			if untagged > maxTrackedVersions {
				continue
			}
		}
		out = append(out, v)
	}
	return out
}

// SetSubmission stores the source of one job version.
func (s *Store) SetSubmission(key JobKey, version uint64, sub *JobSubmission) {
	s.write(func(index uint64) []string {
		if s.submissions[key] == nil {
			s.submissions[key] = map[uint64]*JobSubmission{}
		}
		s.submissions[key][version] = sub
		// Sources of versions no longer tracked go.
		kept := map[uint64]bool{}
		for _, v := range s.versions[key] {
			kept[v.Version] = true
		}
		for v := range s.submissions[key] {
			if !kept[v] {
				delete(s.submissions[key], v)
			}
		}
		return []string{tableJobs}
	})
}

// Submission returns the source of a job version (nil if none was sent).
func (s *Store) Submission(key JobKey, version uint64) *JobSubmission {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.submissions[key][version]
}

// jobSubmission is GET /v1/job/:id/submission?version=N.
func (a *Agent) jobSubmission(w http.ResponseWriter, r *http.Request, key JobKey) (interface{}, error) {
	version, err := strconv.ParseUint(r.URL.Query().Get("version"), 10, 64)
	if err != nil {
		return nil, coded(http.StatusBadRequest, "Unable to parse job submission version parameter")
	}
	return a.blockingQuery(w, r, func() (interface{}, uint64, error) {
		j, idx := a.store.Job(key)
		if j == nil {
			return nil, idx, ErrJobNotFound
		}
		sub := a.store.Submission(key, version)
		if sub == nil {
			return nil, idx, coded(http.StatusNotFound, "job source not found")
		}
		return sub, idx, nil
	})
}

// jobVersionTag is PUT/POST (tag) and DELETE (untag) on
// /v1/job/:id/versions/:name/tag.
func (a *Agent) jobVersionTag(w http.ResponseWriter, r *http.Request, key JobKey, name string) (interface{}, error) {
	var idx uint64
	var err error
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		var req TagVersionRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		idx, err = a.store.TagVersion(key, name, &req)
	case http.MethodDelete:
		idx, err = a.store.UntagVersion(key, name)
	default:
		return nil, errMethod
	}
	if err != nil {
		return nil, err
	}
	setIndex(w, idx)
	return nil, nil
}

// versionDiffs is versions?diffs=true: Diffs[i] goes from Versions[i+1] to
// Versions[i] (Nomad's order), or, with diff_tag or diff_version, from
// that version to each Versions[i].
func versionDiffs(vs []*Job, tag, version string) ([]*JobDiff, error) {
	var base *Job
	switch {
	case tag != "":
		for _, v := range vs {
			if v.VersionTag != nil && v.VersionTag.Name == tag {
				base = v
			}
		}
		if base == nil {
			return nil, coded(http.StatusNotFound, "tag %q not found", tag)
		}
	case version != "":
		n, err := strconv.ParseUint(version, 10, 64)
		if err != nil {
			// Nomad answers this with a 500.
			return nil, fmt.Errorf("Failed to parse value of %q (%v) as a uint64: %v", "diff_version", version, err)
		}
		for _, v := range vs {
			if v.Version == n {
				base = v
			}
		}
		if base == nil {
			return nil, coded(http.StatusNotFound, "version %d not found", n)
		}
	}
	out := []*JobDiff{}
	for i := range vs {
		old := base
		if old == nil {
			if i == len(vs)-1 {
				break
			}
			old = vs[i+1]
		}
		d, err := diffJobs(old, vs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
