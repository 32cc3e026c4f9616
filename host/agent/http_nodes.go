package agent

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

// Version is reported as the agent's version.
const Version = "nomad-iis-host 0.1.0"

// node describes this host as a Nomad node with the driver's fingerprint.
func (a *Agent) node() *Node {
	attrs := map[string]string{
		"unique.network.ip-address": a.cfg.Client.HostIP,
		"unique.hostname":           a.cfg.Name,
		"kernel.name":               runtime.GOOS,
		"cpu.arch":                  runtime.GOARCH,
		"cpu.numcores":              strconv.Itoa(runtime.NumCPU()),
		"nomad.version":             Version,
	}
	drivers := map[string]*DriverInfo{}
	name := a.DriverName()
	info := &DriverInfo{Attributes: map[string]string{}, UpdateTime: a.started.UTC()}
	if drv := a.host.Driver(); drv != nil {
		if fp, _ := drv.Fingerprints.Latest(); fp != nil {
			info.Attributes = pluginhost.FormatAttributes(fp.GetAttributes())
			info.Detected = fp.GetHealth() != driverpb.FingerprintResponse_UNDETECTED
			info.Healthy = fp.GetHealth() == driverpb.FingerprintResponse_HEALTHY
			info.HealthDescription = fp.GetHealthDescription()
		}
	}
	if !a.mon.isHealthy() {
		info.Healthy, info.HealthDescription = false, "the plugin is being restarted"
	}
	drivers[name] = info
	if info.Detected {
		attrs["driver."+name] = "1"
	}
	for k, v := range info.Attributes {
		attrs[k] = v
	}
	idx := a.store.TableIndex(tableNodes)
	return &Node{
		ID: a.nodeID, Name: a.cfg.Name, Datacenter: a.cfg.Datacenter, NodePool: defaultNodePool,
		HTTPAddr: a.HTTPAddr(), Attributes: attrs, Drivers: drivers, Meta: map[string]string{},
		Status: "ready", SchedulingEligibility: "eligible", CreateIndex: idx, ModifyIndex: idx,
	}
}

func (m *pluginMonitor) isHealthy() bool {
	_, healthy, _ := m.snapshot()
	return healthy
}

func (a *Agent) nodesList(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if r.Method != http.MethodGet {
		return nil, errMethod
	}
	n := a.node()
	if !strings.HasPrefix(n.ID, r.URL.Query().Get("prefix")) {
		setIndex(w, n.ModifyIndex)
		return []*NodeListStub{}, nil
	}
	host, _, _ := net.SplitHostPort(n.HTTPAddr)
	setIndex(w, n.ModifyIndex)
	return []*NodeListStub{{Address: host, ID: n.ID, Datacenter: n.Datacenter, Name: n.Name, NodePool: n.NodePool,
		Version: Version, SchedulingEligibility: n.SchedulingEligibility, Status: n.Status, Drivers: n.Drivers,
		CreateIndex: n.CreateIndex, ModifyIndex: n.ModifyIndex}}, nil
}

func (a *Agent) nodeSpecific(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if r.Method != http.MethodGet {
		return nil, errMethod
	}
	id := strings.TrimPrefix(r.URL.Path, "/v1/node/")
	n := a.node()
	setIndex(w, n.ModifyIndex)
	if id == "" || !strings.HasPrefix(n.ID, id) {
		return nil, coded(http.StatusNotFound, "node not found")
	}
	return n, nil
}

// agentSelf is GET /v1/agent/self with this host's config and stats
// (stats.plugin has the plugin's pid and re-dispense count).
func (a *Agent) agentSelf(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if r.Method != http.MethodGet {
		return nil, errMethod
	}
	a.mu.Lock()
	runners := len(a.runners)
	a.mu.Unlock()
	pid := 0
	if drv := a.host.Driver(); drv != nil {
		pid = drv.Pid()
	}
	return map[string]interface{}{
		"config": map[string]interface{}{
			"Region": a.cfg.Region, "Datacenter": a.cfg.Datacenter, "NodeName": a.cfg.Name,
			"DataDir": a.cfg.DataDir, "BindAddr": a.cfg.BindAddr, "Version": Version,
			"Client": map[string]interface{}{"Enabled": true, "NodeID": a.nodeID},
			"Server": map[string]interface{}{"Enabled": false},
			"Plugins": []map[string]interface{}{{"Name": a.DriverName(), "Path": a.cfg.PluginPath,
				"Args": redactArgs(a.cfg.Plugin().Args)}},
			"StopTasksOnExit": a.cfg.StopTasksOnExit,
		},
		"member": map[string]interface{}{"Name": a.cfg.Name, "Addr": a.cfg.BindAddr, "Status": "alive"},
		"stats": map[string]map[string]string{
			"client": {"node_id": a.nodeID, "allocation_runners": strconv.Itoa(runners)},
			"plugin": {"name": a.DriverName(), "pid": strconv.Itoa(pid),
				"restarts": strconv.Itoa(a.mon.Restarts()), "healthy": strconv.FormatBool(a.mon.isHealthy())},
			"raft": {"applied_index": strconv.FormatUint(a.store.Index(), 10)},
			"runtime": {"goroutines": strconv.Itoa(runtime.NumGoroutine()),
				"uptime": time.Since(a.started).Round(time.Second).String()},
		},
	}, nil
}

// redactArgs hides secrets in plugin arguments (--x-key=..., --x-secret=...).
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, arg := range args {
		k, _, hasValue := strings.Cut(arg, "=")
		lower := strings.ToLower(k)
		if hasValue && (strings.Contains(lower, "key") || strings.Contains(lower, "secret") || strings.Contains(lower, "password")) {
			arg = k + "=<redacted>"
		}
		out[i] = arg
	}
	return out
}

func (a *Agent) agentHealth(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ok := a.mon.isHealthy()
	resp := map[string]interface{}{"client": map[string]interface{}{"ok": ok, "message": "ok"}}
	if !ok {
		return nil, coded(http.StatusInternalServerError, "{\"client\":{\"ok\":false,\"message\":\"the plugin is being restarted\"}}")
	}
	return resp, nil
}

func (a *Agent) statusLeader(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	return net.JoinHostPort(a.cfg.BindAddr, "4647"), nil
}

// allocLogs is GET /v1/client/fs/logs/:alloc_id?task=T&type=stdout|stderr
// (always plain text; ?origin=end&offset=N returns the last N bytes).
func (a *Agent) allocLogs(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if r.Method != http.MethodGet {
		return nil, errMethod
	}
	id, err := a.resolveAllocID(strings.TrimPrefix(r.URL.Path, "/v1/client/fs/logs/"))
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	task, kind := q.Get("task"), q.Get("type")
	if kind != "stdout" && kind != "stderr" {
		return nil, coded(http.StatusBadRequest, "must provide log type (stdout or stderr)")
	}
	al, _ := a.store.Alloc(id)
	if _, ok := al.TaskStates[task]; !ok {
		return nil, coded(http.StatusBadRequest, "unknown task name %q", task)
	}
	dir := filepath.Join(a.allocDir(id), "alloc", "logs")
	files, _ := filepath.Glob(filepath.Join(dir, task+"."+kind+".*"))
	sort.Slice(files, func(i, j int) bool { return logIndex(files[i]) < logIndex(files[j]) })
	var tail int64 = -1
	if q.Get("origin") == "end" {
		if n, err := strconv.ParseInt(q.Get("offset"), 10, 64); err == nil && n >= 0 {
			tail = n
		}
	}
	return rawResponse(func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		var readers []io.Reader
		var total int64
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				continue
			}
			defer fh.Close()
			if st, err := fh.Stat(); err == nil {
				total += st.Size()
			}
			readers = append(readers, fh)
		}
		all := io.MultiReader(readers...)
		if tail >= 0 && total > tail {
			_, _ = io.CopyN(io.Discard, all, total-tail)
		}
		_, _ = io.Copy(w, all)
	}), nil
}

func logIndex(path string) int {
	n, err := strconv.Atoi(path[strings.LastIndexByte(path, '.')+1:])
	if err != nil {
		return 1 << 30
	}
	return n
}
