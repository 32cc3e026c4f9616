package pluginhost

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Log rotation defaults of a Nomad task's `logs` block.
const (
	defaultLogMaxFiles = 10
	defaultLogFileMB   = 10
)

// LogMon plays Nomad's log collector for one task start: it creates the
// stdout/stderr FIFOs before StartTask, reads them and writes
// <logdir>/<task>.stdout.N and <task>.stderr.N.
type LogMon struct {
	Stdout *FifoReader
	Stderr *FifoReader
}

// StartLogMon creates <logdir>/.<task>.stdout.fifo and .stderr.fifo
// (mode 0600) and starts reading them.
func StartLogMon(logDir, task string) (*LogMon, error) {
	return startLogMon(logDir, task, false)
}

// ReopenLogMon is logmon after an agent restart: it reads the FIFOs a
// running task still writes to (creating them only if they are missing),
// so the task's open write ends keep working.
func ReopenLogMon(logDir, task string) (*LogMon, error) {
	return startLogMon(logDir, task, true)
}

func startLogMon(logDir, task string, reuse bool) (*LogMon, error) {
	out, err := startFifoReader(logDir, task, "stdout", reuse)
	if err != nil {
		return nil, err
	}
	errR, err := startFifoReader(logDir, task, "stderr", reuse)
	if err != nil {
		out.Stop()
		return nil, err
	}
	return &LogMon{Stdout: out, Stderr: errR}, nil
}

// Stop stops both readers.
func (l *LogMon) Stop() {
	l.Stdout.Stop()
	l.Stderr.Stop()
}

// FifoReader copies one FIFO into rotated files until the write side is
// closed by every writer (EOF) or Stop is called.
type FifoReader struct {
	// Path is the FIFO (TaskConfig.stdout_path / stderr_path).
	Path string
	// LogFile is the first log file, <logdir>/<task>.<stream>.0.
	LogFile string

	rot      *fileRotator
	mu       sync.Mutex
	file     *os.File
	opened   chan struct{}
	done     chan struct{}
	stopping bool
	eof      bool
	err      error
}

func startFifoReader(logDir, task, stream string, reuse bool) (*FifoReader, error) {
	path := filepath.Join(logDir, "."+task+"."+stream+".fifo")
	if st, err := os.Lstat(path); !reuse || err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		_ = os.Remove(path)
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			return nil, &os.PathError{Op: "mkfifo", Path: path, Err: err}
		}
	}
	rot, err := newFileRotator(logDir, task+"."+stream, defaultLogFileMB<<20, defaultLogMaxFiles)
	if err != nil {
		return nil, err
	}
	r := &FifoReader{
		Path:    path,
		LogFile: rot.path(0),
		rot:     rot,
		opened:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	go r.run()
	return r, nil
}

func (r *FifoReader) run() {
	defer close(r.done)
	defer r.rot.Close()
	// Like logmon: a blocking open of the read end, which completes when the
	// driver opens the write end.
	f, err := os.OpenFile(r.Path, os.O_RDONLY, 0)
	r.mu.Lock()
	if err != nil {
		r.err = err
		r.mu.Unlock()
		return
	}
	r.file = f
	stopping := r.stopping
	r.mu.Unlock()
	close(r.opened)
	if stopping {
		f.Close()
		return
	}
	_, err = io.Copy(r.rot, f)
	r.mu.Lock()
	if err == nil {
		r.eof = true
	} else if !r.stopping {
		r.err = err
	}
	r.mu.Unlock()
	f.Close()
}

// Opened reports whether a writer has opened the FIFO.
func (r *FifoReader) Opened() bool {
	select {
	case <-r.opened:
		return true
	default:
		return false
	}
}

// WaitEOF waits until every writer has closed the FIFO. It returns false
// if the timeout passed first (someone still holds a write end).
func (r *FifoReader) WaitEOF(timeout time.Duration) bool {
	select {
	case <-r.done:
	case <-time.After(timeout):
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.eof
}

// Stop ends the reader: it unblocks a pending open and interrupts the copy.
func (r *FifoReader) Stop() {
	deadline := time.Now().Add(2 * time.Second)
	for {
		r.mu.Lock()
		r.stopping = true
		f := r.file
		r.mu.Unlock()
		if f != nil {
			f.Close() // interrupts io.Copy (FIFOs use Go's poller)
		} else if w, err := os.OpenFile(r.Path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			// The reader is blocked in open(O_RDONLY): a non-blocking
			// writer that closes at once lets it through to EOF.
			w.Close()
		}
		select {
		case <-r.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return
		}
	}
}
