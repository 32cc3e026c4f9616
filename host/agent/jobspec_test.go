package agent

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"
)

func TestHCLJobMatchesJSONJob(t *testing.T) {
	src, err := os.ReadFile("../../examples/jobs/static-app.hcl")
	if err != nil {
		t.Fatal(err)
	}
	fromHCL, err := ParseJobHCL(src, "static-app.hcl")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../examples/jobs/static-app.json")
	if err != nil {
		t.Fatal(err)
	}
	var wrapped struct{ Job *Job }
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		t.Fatal(err)
	}
	fromJSON := wrapped.Job
	for _, j := range []*Job{fromHCL, fromJSON} {
		j.Canonicalize("global")
	}
	var a, b interface{}
	ja, _ := json.Marshal(fromHCL)
	jb, _ := json.Marshal(fromJSON)
	_ = json.Unmarshal(ja, &a)
	_ = json.Unmarshal(jb, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("HCL and JSON sample jobs differ:\nHCL:  %s\nJSON: %s", ja, jb)
	}
}

func TestHCLKeepsRuntimeInterpolation(t *testing.T) {
	src := `job "x" {
  group "g" {
    network {
      port "http" { to = 8080 }
      port "admin" { static = 9000 }
    }
    task "t" {
      driver = "iis"
      kill_timeout = "10s"
      config {
        application { path = "${NOMAD_TASK_DIR}/site" }
        note = "port ${NOMAD_PORT_http} of ${env["HOME"]}"
        size = 2 * 3
      }
    }
  }
}`
	j, err := ParseJobHCL([]byte(src), "x.hcl")
	if err != nil {
		t.Fatal(err)
	}
	task := j.TaskGroups[0].Tasks[0]
	var cfg map[string]interface{}
	if err := json.Unmarshal(task.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["note"] != `port ${NOMAD_PORT_http} of ${env["HOME"]}` || cfg["size"] != float64(6) {
		t.Errorf("config: %v", cfg)
	}
	app := cfg["application"].([]interface{})[0].(map[string]interface{})
	if app["path"] != "${NOMAD_TASK_DIR}/site" {
		t.Errorf("application: %v", app)
	}
	if *task.KillTimeout != 10*time.Second {
		t.Errorf("kill timeout %v", *task.KillTimeout)
	}
	n := j.TaskGroups[0].Networks[0]
	if len(n.DynamicPorts) != 1 || n.DynamicPorts[0].Label != "http" || n.DynamicPorts[0].To != 8080 ||
		len(n.ReservedPorts) != 1 || n.ReservedPorts[0].Value != 9000 {
		t.Errorf("network: %+v", n)
	}
}
