package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress draws a one-line progress bar on stderr while bytes flow (only
// when stderr is a terminal, unless quiet).
type progress struct {
	label   string
	total   int64
	enabled bool

	mu    sync.Mutex
	sent  int64
	start time.Time
	last  time.Time
}

func newProgress(label string, total int64, quiet bool) *progress {
	enabled := !quiet && isTerminal(os.Stderr)
	return &progress{label: label, total: total, enabled: enabled, start: time.Now()}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// reader counts what passes through r.
func (p *progress) reader(r io.Reader) io.Reader { return &countingReader{r: r, p: p} }

type countingReader struct {
	r io.Reader
	p *progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.add(int64(n))
	return n, err
}

func (p *progress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent += n
	if p.enabled && time.Since(p.last) > 100*time.Millisecond {
		p.last = time.Now()
		p.draw()
	}
}

func (p *progress) draw() {
	const width = 30
	rate := float64(p.sent) / time.Since(p.start).Seconds()
	if p.total > 0 {
		frac := float64(p.sent) / float64(p.total)
		if frac > 1 {
			frac = 1
		}
		n := int(frac * width)
		fmt.Fprintf(os.Stderr, "\r%s [%s%s] %3.0f%% %s/%s %s/s   ", p.label, strings.Repeat("#", n),
			strings.Repeat(" ", width-n), frac*100, bytesText(p.sent), bytesText(p.total), bytesText(int64(rate)))
		return
	}
	fmt.Fprintf(os.Stderr, "\r%s %s %s/s   ", p.label, bytesText(p.sent), bytesText(int64(rate)))
}

// done finishes the line.
func (p *progress) done(ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.enabled {
		return
	}
	p.draw()
	if ok {
		fmt.Fprintln(os.Stderr)
	} else {
		fmt.Fprintln(os.Stderr, " failed")
	}
}

// bytesText renders a byte count with a binary unit.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
