package pluginhost

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// HandshakeLine is the first stdout line of a go-plugin server:
// CORE|APP|NETWORK|ADDR|PROTOCOL|CERT.
type HandshakeLine struct {
	Core     int
	App      int
	Network  string
	Addr     string
	Protocol string
	// Cert is the sixth field; it must stay empty for Nomad (no AutoMTLS).
	Cert string
	// Extra holds any fields after the sixth.
	Extra []string
}

// ParseHandshakeLine splits a handshake line the way go-plugin 1.8 does
// (trim, split on every "|") and checks the field syntax. It does not judge
// the values; see Check.
func ParseHandshakeLine(line string) (HandshakeLine, error) {
	var h HandshakeLine
	parts := strings.Split(strings.TrimSpace(line), "|")
	if len(parts) < 4 {
		return h, fmt.Errorf("unrecognized remote plugin message %q: want CORE|APP|NETWORK|ADDR|PROTOCOL|CERT", line)
	}
	var err error
	if h.Core, err = strconv.Atoi(parts[0]); err != nil {
		return h, fmt.Errorf("core protocol %q is not a number", parts[0])
	}
	if h.App, err = strconv.Atoi(parts[1]); err != nil {
		return h, fmt.Errorf("app protocol %q is not a number", parts[1])
	}
	h.Network, h.Addr = parts[2], parts[3]
	if len(parts) > 4 {
		h.Protocol = parts[4]
	}
	if len(parts) > 5 {
		h.Cert = parts[5]
	}
	if len(parts) > 6 {
		h.Extra = parts[6:]
	}
	return h, nil
}

// Check applies what a Nomad agent needs from the line: core 1, app 2, a
// unix socket path (absolute, existing socket) or a 127.0.0.1 TCP address
// with its port in [minPort, maxPort], protocol grpc, and no certificate.
func (h HandshakeLine) Check(minPort, maxPort int) error {
	if h.Core != 1 {
		return fmt.Errorf("core protocol %d, want 1", h.Core)
	}
	if h.App != AppProtocolVersion {
		return fmt.Errorf("app protocol %d, want %d", h.App, AppProtocolVersion)
	}
	switch h.Network {
	case "unix":
		if strings.HasPrefix(h.Addr, "unix:") || !filepath.IsAbs(h.Addr) {
			return fmt.Errorf("unix address %q must be a plain absolute socket path", h.Addr)
		}
		st, err := os.Stat(h.Addr)
		if err != nil {
			return fmt.Errorf("unix socket %s: %w", h.Addr, err)
		}
		if st.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("%s is not a socket (mode %v)", h.Addr, st.Mode())
		}
	case "tcp":
		host, portText, err := net.SplitHostPort(h.Addr)
		if err != nil {
			return fmt.Errorf("tcp address %q: %w", h.Addr, err)
		}
		if host != "127.0.0.1" {
			return fmt.Errorf("tcp address %q must bind 127.0.0.1", h.Addr)
		}
		port, err := strconv.Atoi(portText)
		if err != nil || port < minPort || port > maxPort {
			return fmt.Errorf("tcp port %q outside PLUGIN_MIN_PORT..PLUGIN_MAX_PORT (%d..%d)", portText, minPort, maxPort)
		}
	default:
		return fmt.Errorf("network %q, want unix or tcp", h.Network)
	}
	if h.Protocol != "grpc" {
		return fmt.Errorf("protocol %q, want grpc (a missing field means netrpc)", h.Protocol)
	}
	if h.Cert != "" {
		return fmt.Errorf("certificate field is set (%d chars); Nomad does not use AutoMTLS", len(h.Cert))
	}
	if len(h.Extra) > 0 {
		return fmt.Errorf("unexpected fields after the sixth: %q", h.Extra)
	}
	return nil
}
