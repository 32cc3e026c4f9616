package pluginhost

import (
	"fmt"
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

// FreePort asks the kernel for a currently free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
