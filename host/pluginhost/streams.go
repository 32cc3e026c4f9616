package pluginhost

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"nomad_iis/gen/driverpb"
)

// streamState is the bookkeeping shared by the agent's long-lived streams:
// keep one open, and re-open it whenever it ends, counting the ends.
type streamState struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	opens   int
	ends    int
	lastErr error
	cancel  context.CancelFunc
	done    chan struct{}
}

func newStreamState() *streamState {
	return &streamState{changed: make(chan struct{}), done: make(chan struct{})}
}

func (s *streamState) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// run keeps calling open+recv until ctx is cancelled. Like the agent it
// re-opens a stream that ended; unlike the agent it waits a little between
// attempts so a broken plugin cannot make the host spin.
func (s *streamState) run(ctx context.Context, session func(ctx context.Context) error) {
	defer close(s.done)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		s.mu.Lock()
		s.opens++
		s.mu.Unlock()
		err := session(ctx)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.ends++
		s.lastErr = err
		s.notifyLocked()
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < time.Second {
			backoff *= 2
		}
	}
}

// Ends reports how often the stream ended while the host wanted it open,
// and the last error it ended with (ErrStreamEOF for a normal end).
func (s *streamState) Ends() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ends, s.lastErr
}

// Stop cancels the stream and waits for its goroutine.
func (s *streamState) Stop() {
	s.cancel()
	<-s.done
}

// FingerprintWatcher holds the Fingerprint stream open, as the driver
// manager does, and keeps every message.
type FingerprintWatcher struct {
	*streamState
	msgs []*driverpb.FingerprintResponse
}

// WatchFingerprints opens Driver/Fingerprint and keeps it open.
func WatchFingerprints(d *DriverClient) *FingerprintWatcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &FingerprintWatcher{streamState: newStreamState()}
	w.cancel = cancel
	go w.run(ctx, func(ctx context.Context) error {
		stream, err := d.Driver.Fingerprint(ctx, &driverpb.FingerprintRequest{})
		if err != nil {
			return err
		}
		for {
			msg, err := stream.Recv()
			if err != nil {
				return streamEnd(err)
			}
			w.mu.Lock()
			w.msgs = append(w.msgs, msg)
			w.notifyLocked()
			w.mu.Unlock()
		}
	})
	return w
}

// Next waits until more than n fingerprints have arrived and returns the
// (n+1)th. Next(ctx, 0) is the first fingerprint.
func (w *FingerprintWatcher) Next(ctx context.Context, n int) (*driverpb.FingerprintResponse, error) {
	for {
		w.mu.Lock()
		if len(w.msgs) > n {
			msg := w.msgs[n]
			w.mu.Unlock()
			return msg, nil
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// Latest returns the newest fingerprint (nil if none) and the count so far.
func (w *FingerprintWatcher) Latest() (*driverpb.FingerprintResponse, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.msgs) == 0 {
		return nil, 0
	}
	return w.msgs[len(w.msgs)-1], len(w.msgs)
}

// EventWatcher holds the TaskEvents stream open and keeps every event.
type EventWatcher struct {
	*streamState
	events []*driverpb.DriverTaskEvent
}

// WatchEvents opens Driver/TaskEvents and keeps it open.
func WatchEvents(d *DriverClient) *EventWatcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &EventWatcher{streamState: newStreamState()}
	w.cancel = cancel
	go w.run(ctx, func(ctx context.Context) error {
		stream, err := d.Driver.TaskEvents(ctx, &driverpb.TaskEventsRequest{})
		if err != nil {
			return err
		}
		for {
			ev, err := stream.Recv()
			if err != nil {
				return streamEnd(err)
			}
			w.mu.Lock()
			w.events = append(w.events, ev)
			w.notifyLocked()
			w.mu.Unlock()
		}
	})
	return w
}

// Events returns the events received so far.
func (w *EventWatcher) Events() []*driverpb.DriverTaskEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*driverpb.DriverTaskEvent(nil), w.events...)
}

// Since returns the events after the first n, and a channel that is closed
// when the watcher changes next (a new event, or the stream ending).
func (w *EventWatcher) Since(n int) ([]*driverpb.DriverTaskEvent, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*driverpb.DriverTaskEvent
	if n < len(w.events) {
		out = append(out, w.events[n:]...)
	}
	return out, w.changed
}

// WaitFor waits for an event that satisfies match.
func (w *EventWatcher) WaitFor(ctx context.Context, match func(*driverpb.DriverTaskEvent) bool) (*driverpb.DriverTaskEvent, error) {
	seen := 0
	for {
		w.mu.Lock()
		for ; seen < len(w.events); seen++ {
			if match(w.events[seen]) {
				ev := w.events[seen]
				w.mu.Unlock()
				return ev, nil
			}
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// ErrStreamEOF is recorded when the plugin ended a stream normally.
var ErrStreamEOF = errors.New("stream ended by the plugin (EOF)")

func streamEnd(err error) error {
	if errors.Is(err, io.EOF) {
		return ErrStreamEOF
	}
	return err
}
