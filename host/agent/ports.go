package agent

import (
	"fmt"
	"math/rand"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// portAllocator hands out host ports for group networks: dynamic ports from
// [min, max] and static ports as requested, never one that the agent config
// reserves, another allocation holds, or some other process listens on.
type portAllocator struct {
	min, max int
	reserved map[int]bool
	hostIP   string

	mu  sync.Mutex
	rng *rand.Rand
}

func newPortAllocator(min, max int, reserved map[int]bool, hostIP string) *portAllocator {
	return &portAllocator{min: min, max: max, reserved: reserved, hostIP: hostIP,
		rng: rand.New(rand.NewSource(time.Now().UnixNano()))}
}

// ParsePortSpec reads Nomad's reserved_ports syntax: "22,80,8000-8100".
func ParsePortSpec(spec string) (map[int]bool, error) {
	out := map[int]bool{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("bad port %q", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
				return nil, fmt.Errorf("bad port range %q", part)
			}
		}
		if a < 1 || b > 65535 || a > b {
			return nil, fmt.Errorf("bad port range %q", part)
		}
		if b-a > 65535 {
			return nil, fmt.Errorf("port range %q too large", part)
		}
		for p := a; p <= b; p++ {
			out[p] = true
		}
	}
	return out, nil
}

// PortInUseError says why a port could not be given.
type PortInUseError struct {
	Label string
	Port  int
	By    string
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %q: %d is %s", e.Label, e.Port, e.By)
}

// assign gives every port a host port. used maps host ports held by live
// allocations to the allocation's name.
func (p *portAllocator) assign(ports []Port, used map[int]string) ([]PortMapping, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	taken := map[int]bool{}
	var out []PortMapping
	for _, port := range ports {
		if port.Value > 0 {
			if by, ok := used[port.Value]; ok && !port.IgnoreCollision {
				return nil, &PortInUseError{port.Label, port.Value, "held by allocation " + by}
			}
			if p.reserved[port.Value] && !port.IgnoreCollision {
				return nil, &PortInUseError{port.Label, port.Value, "reserved in the agent config"}
			}
			if taken[port.Value] {
				return nil, &PortInUseError{port.Label, port.Value, "requested twice"}
			}
			taken[port.Value] = true
			out = append(out, PortMapping{Label: port.Label, Value: port.Value, To: port.To, HostIP: p.hostIP})
		}
	}
	for _, port := range ports {
		if port.Value > 0 {
			continue
		}
		n, err := p.pickDynamic(used, taken)
		if err != nil {
			return nil, fmt.Errorf("port %q: %w", port.Label, err)
		}
		taken[n] = true
		to := port.To
		if to == -1 {
			to = n
		}
		out = append(out, PortMapping{Label: port.Label, Value: n, To: to, HostIP: p.hostIP})
	}
	// Keep the job's order.
	ordered := make([]PortMapping, 0, len(out))
	for _, port := range ports {
		for _, m := range out {
			if m.Label == port.Label {
				ordered = append(ordered, m)
			}
		}
	}
	return ordered, nil
}

// pickDynamic tries random ports first (as Nomad does), then scans.
func (p *portAllocator) pickDynamic(used map[int]string, taken map[int]bool) (int, error) {
	free := func(n int) bool {
		if p.reserved[n] || taken[n] {
			return false
		}
		if _, ok := used[n]; ok {
			return false
		}
		return listenable(p.hostIP, n)
	}
	span := p.max - p.min + 1
	for i := 0; i < 20; i++ {
		n := p.min + p.rng.Intn(span)
		if free(n) {
			return n, nil
		}
	}
	start := p.rng.Intn(span)
	for i := 0; i < span; i++ {
		n := p.min + (start+i)%span
		if free(n) {
			return n, nil
		}
	}
	return 0, fmt.Errorf("no free dynamic port in %d-%d", p.min, p.max)
}

// listenable reports whether nothing listens on ip:port right now.
func listenable(ip string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
