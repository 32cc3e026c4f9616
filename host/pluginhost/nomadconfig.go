package pluginhost

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"

	"nomad_iis/gen/basepb"
)

// DefaultNomadConfig is the agent-side config the long-lived instance gets
// in SetConfig: the default client port range and this machine's topology.
func DefaultNomadConfig() *basepb.NomadConfig {
	return &basepb.NomadConfig{Driver: &basepb.NomadDriverConfig{
		ClientMinPort: DefaultClientMinPort,
		ClientMaxPort: DefaultClientMaxPort,
		Topology:      LocalTopology(),
	}}
}

// LocalTopology describes this machine as one NUMA node with every online
// CPU as a performance core, with speeds from /proc/cpuinfo.
func LocalTopology() *basepb.ClientTopology {
	mhz := cpuMHz()
	n := runtime.NumCPU()
	cores := make([]*basepb.ClientTopologyCore, 0, n)
	for i := 0; i < n; i++ {
		cores = append(cores, &basepb.ClientTopologyCore{
			SocketId:   0,
			NodeId:     0,
			CoreId:     uint32(i),
			CoreGrade:  basepb.CoreGrade_Performance,
			BaseSpeed:  mhz,
			MaxSpeed:   mhz,
			GuessSpeed: mhz,
		})
	}
	return &basepb.ClientTopology{
		NodeIds:   []uint32{0},
		Distances: &basepb.ClientTopologySLIT{Dimension: 1, Values: []uint32{10}},
		Cores:     cores,
	}
}

// cpuMHz reads the first "cpu MHz" line of /proc/cpuinfo (0 if unknown).
func cpuMHz() uint64 {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "cpu MHz" {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return uint64(f)
			}
		}
	}
	return 0
}
