package pluginhost

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// fileRotator writes <dir>/<base>.<n> files like Nomad's logmon: a new
// index once a file reaches maxBytes, at most maxFiles kept.
type fileRotator struct {
	mu       sync.Mutex
	dir      string
	base     string
	maxBytes int64
	maxFiles int
	index    int
	size     int64
	file     *os.File
}

func newFileRotator(dir, base string, maxBytes int64, maxFiles int) (*fileRotator, error) {
	r := &fileRotator{dir: dir, base: base, maxBytes: maxBytes, maxFiles: maxFiles}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *fileRotator) path(i int) string {
	return filepath.Join(r.dir, fmt.Sprintf("%s.%d", r.base, i))
}

func (r *fileRotator) open() error {
	f, err := os.OpenFile(r.path(r.index), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.file, r.size = f, st.Size()
	return nil
}

// Write appends p, starting a new file when the current one is full.
func (r *fileRotator) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	written := 0
	for len(p) > 0 {
		if r.size >= r.maxBytes {
			if err := r.rotate(); err != nil {
				return written, err
			}
		}
		chunk := p
		if room := r.maxBytes - r.size; int64(len(chunk)) > room {
			chunk = chunk[:room]
		}
		n, err := r.file.Write(chunk)
		written += n
		r.size += int64(n)
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

func (r *fileRotator) rotate() error {
	if err := r.file.Close(); err != nil {
		return err
	}
	r.index++
	if old := r.index - r.maxFiles; old >= 0 {
		_ = os.Remove(r.path(old))
	}
	return r.open()
}

// Close closes the current file.
func (r *fileRotator) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.file.Close()
}
