package pluginhost

import (
	"fmt"
	"math/rand"
	"net"
	"strconv"
	"strings"
)

// Port is a group network port in host mode, as the scheduler assigns it
// (`network { port "label" {} }`).
type Port struct {
	// Label is the port label as written in the job.
	Label string
	// Value is the host port.
	Value int
	// To is the job's `to`, 0 when unset.
	To int
	// HostIP is the address the port was assigned on.
	HostIP string
}

// ParsePort reads "label=port[@ip]" (ip defaults to 127.0.0.1).
func ParsePort(s string) (Port, error) {
	label, rest, ok := strings.Cut(s, "=")
	if !ok || label == "" {
		return Port{}, fmt.Errorf("port %q: want label=port[@ip]", s)
	}
	portText, ip, hasIP := strings.Cut(rest, "@")
	if !hasIP {
		ip = "127.0.0.1"
	}
	if net.ParseIP(ip) == nil {
		return Port{}, fmt.Errorf("port %q: bad ip %q", s, ip)
	}
	n, err := strconv.Atoi(portText)
	if err != nil || n <= 0 || n > 65535 {
		return Port{}, fmt.Errorf("port %q: bad port number %q", s, portText)
	}
	return Port{Label: label, Value: n, HostIP: ip}, nil
}

// Ports FreePort hands out: Nomad's default dynamic port range, which lies
// below Linux's ephemeral range (32768-60999). A port the kernel picked from
// the ephemeral range could be taken by any outgoing connection between
// FreePort and the bind that follows (seen as "address already in use").
const (
	freePortMin = 20000
	freePortMax = 32000
)

// FreePort returns a TCP port in Nomad's dynamic range that is free on all
// addresses now, starting at a random place so parallel callers differ.
func FreePort() (int, error) {
	start := rand.Intn(freePortMax - freePortMin)
	for i := 0; i < freePortMax-freePortMin; i++ {
		port := freePortMin + (start+i)%(freePortMax-freePortMin)
		l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port in %d-%d", freePortMin, freePortMax)
}

// Addr is host_ip:value, bracketed for IPv6 as net.JoinHostPort does.
func (p Port) Addr() string {
	return net.JoinHostPort(p.HostIP, strconv.Itoa(p.Value))
}

// taskPort is NOMAD_PORT_<label>: `to` if set, else the host port.
func (p Port) taskPort() int {
	if p.To > 0 {
		return p.To
	}
	return p.Value
}
