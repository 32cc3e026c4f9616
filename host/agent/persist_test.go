package agent

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestPersisterCoalescesAndSyncs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	var writes int32
	p := newPersister(path, func() ([]byte, error) {
		atomic.AddInt32(&writes, 1)
		return []byte(`{"n":1}`), nil
	})
	for i := 0; i < 50; i++ {
		p.Dirty()
	}
	start := time.Now()
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 150*time.Millisecond {
		t.Errorf("Sync took %v", el)
	}
	if n := atomic.LoadInt32(&writes); n < 1 || n > 2 {
		t.Errorf("%d writes for 50 changes and a sync", n)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != `{"n":1}` {
		t.Errorf("file: %q %v", b, err)
	}
	p.Dirty()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := atomic.LoadInt32(&writes); n < 2 {
		t.Errorf("Close did not write the pending change (%d writes)", n)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temp files left: %v", entries)
	}
}
