package agent

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidateNamesTheField(t *testing.T) {
	cases := []struct {
		job  string
		want string
	}{
		{`{"TaskGroups":[{"Name":"web","Tasks":[{"Name":"app","Driver":"iis"}]}]}`, "Job.ID: missing job ID"},
		{`{"ID":"a b","TaskGroups":[{"Name":"web","Tasks":[{"Name":"app","Driver":"iis"}]}]}`, "Job.ID"},
		{`{"ID":"a"}`, "Job.TaskGroups: missing job task groups"},
		{`{"ID":"a","TaskGroups":[{"Name":"web","Tasks":[{"Name":"app"}]}]}`, "Job.TaskGroups[web].Tasks[app].Driver: missing driver"},
		{`{"ID":"a","TaskGroups":[{"Name":"web","Tasks":[{"Name":"app","Driver":"docker"}]}]}`, `Tasks[app].Driver: driver "docker" is not available`},
		{`{"ID":"a","TaskGroups":[{"Name":"web","Count":-1,"Tasks":[{"Name":"app","Driver":"iis"}]}]}`, "Job.TaskGroups[web].Count"},
		{`{"ID":"a","Type":"cron","TaskGroups":[{"Name":"web","Tasks":[{"Name":"app","Driver":"iis"}]}]}`, "Job.Type"},
		{`{"ID":"a","TaskGroups":[{"Name":"web","RestartPolicy":{"Mode":"never"},"Tasks":[{"Name":"app","Driver":"iis"}]}]}`, "Job.TaskGroups[web].RestartPolicy.Mode"},
		{`{"ID":"a","TaskGroups":[{"Name":"web","Count":2,"Networks":[{"ReservedPorts":[{"Label":"http","Value":8080}]}],"Tasks":[{"Name":"app","Driver":"iis"}]}]}`, "Job.TaskGroups[web].Networks: static port 8080"},
		{`{"ID":"a","TaskGroups":[{"Name":"web","Networks":[{"DynamicPorts":[{"Label":"x"},{"Label":"x"}]}],"Tasks":[{"Name":"app","Driver":"iis"}]}]}`, `DynamicPorts[1].Label: port label "x" is used twice`},
		{`{"ID":"a","TaskGroups":[{"Name":"web","Tasks":[{"Name":"app","Driver":"iis","Artifacts":[{"GetterSource":"/x","RelativeDest":"../../etc"}]}]}]}`, "Artifacts[0].RelativeDest"},
		{`{"ID":"a","TaskGroups":[{"Name":"web","Tasks":[{"Name":"app","Driver":"iis","Config":[1]}]}]}`, "Tasks[app].Config: config must be a JSON object"},
		{`{"ID":"a","TaskGroups":[{"Name":"web","Tasks":[{"Name":"app","Driver":"iis","Resources":{"MemoryMB":5}}]}]}`, "Resources.MemoryMB"},
	}
	for _, c := range cases {
		var j Job
		if err := json.Unmarshal([]byte(c.job), &j); err != nil {
			t.Fatalf("%s: %v", c.job, err)
		}
		j.Canonicalize("global")
		_, err := j.Validate(ValidateOptions{Driver: "iis"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant %q", c.job, err, c.want)
		}
	}
}

func TestCanonicalizeDefaults(t *testing.T) {
	j := testJob("a")
	if j.Type != JobTypeService || j.Priority != 50 || j.Namespace != "default" || j.Region != "global" || j.Name != "a" {
		t.Errorf("job defaults: %+v", j)
	}
	g := j.TaskGroups[0]
	if *g.Count != 1 || *g.RestartPolicy.Attempts != 2 || *g.RestartPolicy.Mode != "fail" {
		t.Errorf("group defaults: count %d restart %+v", *g.Count, g.RestartPolicy)
	}
	task := g.Tasks[0]
	if *task.Resources.CPU != 100 || *task.Resources.MemoryMB != 300 || task.KillTimeout.Seconds() != 5 {
		t.Errorf("task defaults: %+v", task)
	}
	warnings, err := j.Validate(ValidateOptions{Driver: "iis"})
	if err != nil || len(warnings) != 0 {
		t.Errorf("valid job: %v %v", warnings, err)
	}
}

func TestUnknownFieldsRoundTripAndWarn(t *testing.T) {
	src := `{"ID":"a","Spreads":[{"Attribute":"x"}],"Update":{"MaxParallel":2},"Affinities":null,"TaskGroups":[{"Name":"web","Services":[{"Name":"s"}],"Tasks":[{"Name":"app","Driver":"iis","Templates":[]}]}]}`
	var j Job
	if err := json.Unmarshal([]byte(src), &j); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(&j)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Spreads":[{"Attribute":"x"}]`, `"Services":[{"Name":"s"}]`, `"Templates":[]`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("round trip lost %s: %s", want, out)
		}
	}
	j.Canonicalize("global")
	warnings, err := j.Validate(ValidateOptions{Driver: "iis"})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(warnings, "\n")
	if !strings.Contains(joined, "Job.Spreads") || !strings.Contains(joined, "Job.TaskGroups[web].Services") ||
		strings.Contains(joined, "Templates") || strings.Contains(joined, "Affinities") {
		t.Errorf("warnings: %q", warnings)
	}
	// The update block is modelled (deployments): merged into the group,
	// Nomad's defaults filled in, no warning.
	u := j.TaskGroups[0].Update
	if strings.Contains(joined, "Update") || u == nil || *u.MaxParallel != 2 || *u.MinHealthyTime != 10*time.Second {
		t.Errorf("update block: %+v, warnings %q", u, warnings)
	}
}

func TestJSONTypeErrorsNameTheField(t *testing.T) {
	for src, want := range map[string]string{
		`{"Job":{"ID":"x","TaskGroups":[{"Name":"w","Count":"three"}]}}`:                                 "Job.TaskGroups.Count: cannot use a JSON string as int",
		`{"Job":{"ID":"x","TaskGroups":[{"Name":"w","Tasks":[{"Name":"t","KillTimeout":"5s"}]}]}}`:       "Job.TaskGroups.Tasks.KillTimeout",
		`{"Job":{"ID":"x","TaskGroups":[{"Name":"w","Tasks":[{"Name":"t","Resources":{"CPU":true}}]}]}}`: "Job.TaskGroups.Tasks.Resources.CPU",
		`{"Job":{"ID":"x","Priority":"high"}}`:                                                           "Job.Priority",
	} {
		var req JobRegisterRequest
		err := json.Unmarshal([]byte(src), &req)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v (want %q)", src, err, want)
		}
	}
}

// TestUpdateBlockIsValidatedAsNomadDoes: the merged update block of each
// group, Nomad's rules and messages, stagger included.
func TestUpdateBlockIsValidatedAsNomadDoes(t *testing.T) {
	check := func(typ, update string) string {
		var j Job
		src := `{"ID":"u","Type":"` + typ + `","Update":` + update +
			`,"TaskGroups":[{"Name":"web","Tasks":[{"Name":"app","Driver":"iis"}]}]}`
		if err := json.Unmarshal([]byte(src), &j); err != nil {
			t.Fatal(err)
		}
		j.Canonicalize("global")
		_, err := j.Validate(ValidateOptions{Driver: "iis"})
		if err == nil {
			return ""
		}
		return err.Error()
	}
	if msg := check("service", `{"MaxParallel":2,"Stagger":5000000000}`); msg != "" {
		t.Errorf("valid update block: %s", msg)
	}
	for update, want := range map[string]string{
		`{"Stagger":-1}`:           "Job.TaskGroups[web].Update.Stagger: Stagger must be greater than zero: -1ns",
		`{"HealthCheck":"consul"}`: `Job.TaskGroups[web].Update.HealthCheck: Invalid health check given: "consul"`,
		`{"AutoPromote":true}`:     "Auto Promote requires a Canary count greater than zero",
		`{"MinHealthyTime":60000000000,"HealthyDeadline":30000000000}`: "Minimum healthy time must be less than healthy deadline: 1m0s > 30s",
		`{"HealthyDeadline":900000000000}`:                             "Healthy deadline must be less than progress deadline: 15m0s > 10m0s",
		`{"MaxParallel":-1}`:                                           "Max parallel can not be less than zero: -1 < 0",
	} {
		if msg := check("service", update); !strings.Contains(msg, want) {
			t.Errorf("%s: %q, want %q", update, msg, want)
		}
	}
	if msg := check("batch", `{"MaxParallel":1}`); !strings.Contains(msg, `Job type "batch" does not allow update block`) {
		t.Errorf("batch with update: %q", msg)
	}
}
