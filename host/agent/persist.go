package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// stateFormat is the version of the state file layout.
const stateFormat = 1

// stateFile is what the agent writes to <data_dir>/state.json.
type stateFile struct {
	Format      int
	NodeID      string
	Index       uint64
	Tables      map[string]uint64
	Jobs        []*Job
	Versions    map[string][]*Job
	Summaries   map[string]*summaryMeta
	Allocs      []*allocRecord
	Evals       []*Evaluation      `json:",omitempty"`
	Launches    []periodicLaunch   `json:",omitempty"`
	Deployments []*Deployment      `json:",omitempty"`
	Submissions []submissionRecord `json:",omitempty"`
}

// submissionRecord is one stored job source.
type submissionRecord struct {
	Namespace  string
	ID         string
	Version    uint64
	Submission *JobSubmission
}

// snapshot renders the store (and the node id) as a state file.
func (s *Store) snapshot(nodeID string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := stateFile{Format: stateFormat, NodeID: nodeID, Index: s.index, Tables: s.tables,
		Versions: map[string][]*Job{}, Summaries: map[string]*summaryMeta{}}
	for k, j := range s.jobs {
		f.Jobs = append(f.Jobs, j)
		f.Versions[k.String()] = s.versions[k]
		f.Summaries[k.String()] = s.summary[k]
	}
	for _, r := range s.allocs {
		f.Allocs = append(f.Allocs, r)
	}
	for _, e := range s.evals {
		f.Evals = append(f.Evals, e)
	}
	f.Launches = s.launchList()
	for _, d := range s.deployments {
		f.Deployments = append(f.Deployments, d)
	}
	for k, m := range s.submissions {
		for v, sub := range m {
			f.Submissions = append(f.Submissions, submissionRecord{Namespace: k.Namespace, ID: k.ID, Version: v, Submission: sub})
		}
	}
	return json.Marshal(&f)
}

// restore loads a state file into an empty store and returns its node id.
func (s *Store) restore(b []byte) (string, error) {
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return "", err
	}
	if f.Format != stateFormat {
		return "", fmt.Errorf("state format %d, want %d", f.Format, stateFormat)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index = f.Index
	for k, v := range f.Tables {
		s.tables[k] = v
	}
	for _, j := range f.Jobs {
		key := JobKey{j.Namespace, j.ID}
		s.jobs[key] = j
		s.versions[key] = f.Versions[key.String()]
		meta := f.Summaries[key.String()]
		if meta == nil {
			meta = &summaryMeta{CreateIndex: j.CreateIndex, ModifyIndex: j.ModifyIndex}
		}
		if meta.Queued == nil {
			meta.Queued = map[string]int{}
		}
		s.summary[key] = meta
		// The scheduler looks at every job again after a restart.
		s.evalPending[key] = true
	}
	for _, r := range f.Allocs {
		if r.Alloc == nil {
			continue
		}
		if r.Tasks == nil {
			r.Tasks = map[string]*taskRecord{}
		}
		if r.Alloc.TaskStates == nil {
			r.Alloc.TaskStates = map[string]*TaskState{}
		}
		s.allocs[r.Alloc.ID] = r
	}
	for _, e := range f.Evals {
		// A pending evaluation of a purged job has nothing left to look at.
		if e.Status == EvalStatusPending && s.jobs[JobKey{e.Namespace, e.JobID}] == nil {
			e.Status = EvalStatusComplete
		}
		s.evals[e.ID] = e
	}
	for _, d := range f.Deployments {
		s.deployments[d.ID] = d
	}
	for _, r := range f.Submissions {
		k := JobKey{r.Namespace, r.ID}
		if s.submissions[k] == nil {
			s.submissions[k] = map[uint64]*JobSubmission{}
		}
		s.submissions[k][r.Version] = r.Submission
	}
	for _, l := range f.Launches {
		s.launches[JobKey{l.Namespace, l.ID}] = l.Launch
	}
	return f.NodeID, nil
}

// persister writes the state file in the background, coalescing bursts of
// writes; Sync waits until everything written so far is on disk.
type persister struct {
	path string
	snap func() ([]byte, error)

	mu      sync.Mutex
	cond    *sync.Cond
	want    uint64
	done    uint64
	lastErr error
	urgent  chan struct{}
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

func newPersister(path string, snap func() ([]byte, error)) *persister {
	p := &persister{path: path, snap: snap, kick: make(chan struct{}, 1), urgent: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	go p.loop()
	return p
}

// Dirty records that the state changed and returns the change's number.
func (p *persister) Dirty() uint64 {
	p.mu.Lock()
	p.want++
	seq := p.want
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
	return seq
}

// Sync writes the current state (if anything changed) and waits for it.
func (p *persister) Sync() error {
	select {
	case <-p.stopped:
		p.writeOnce()
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.lastErr
	default:
	}
	seq := p.Dirty()
	select {
	case p.urgent <- struct{}{}:
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.done < seq {
		p.cond.Wait()
	}
	return p.lastErr
}

func (p *persister) loop() {
	defer close(p.stopped)
	for {
		urgent := false
		select {
		case <-p.kick:
		case <-p.urgent:
			urgent = true
		case <-p.stop:
			p.writeOnce()
			return
		}
		// Let a burst of changes settle into one file write: a short pause
		// when someone waits for the write (Sync), a longer one otherwise.
		if !urgent {
			select {
			case <-p.urgent:
				urgent = true
			case <-time.After(200 * time.Millisecond):
			case <-p.stop:
			}
		}
		if urgent {
			time.Sleep(5 * time.Millisecond)
		}
		p.writeOnce()
	}
}

func (p *persister) writeOnce() {
	p.mu.Lock()
	seq := p.want
	if seq == p.done {
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	data, err := p.snap()
	if err == nil {
		err = writeFileAtomic(p.path, data, 0o600)
	}
	p.mu.Lock()
	p.done, p.lastErr = seq, err
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Close writes pending changes and stops the writer.
func (p *persister) Close() error {
	close(p.stop)
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// writeFileAtomic writes data to a temp file beside path, fsyncs it and
// renames it over path, then fsyncs the directory: a reader sees the old or
// the new file, never a torn one.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
