package agent

import (
	"encoding/json"
	"testing"
	"time"
)

// TestGroupUpdateDecidesLikeNomad: the changes Nomad's scheduler treats as
// destructive replace allocations; the others are applied in place.
func TestGroupUpdateDecidesLikeNomad(t *testing.T) {
	cases := []struct {
		name   string
		change func(j *Job)
		want   string // "" = in place
	}{
		{"nothing", func(*Job) {}, ""},
		{"count", func(j *Job) { n := 3; j.TaskGroups[0].Count = &n }, ""},
		{"priority", func(j *Job) { j.Priority = 70 }, ""},
		{"restart attempts", func(j *Job) { n := 9; j.TaskGroups[0].RestartPolicy.Attempts = &n }, ""},
		{"kill timeout", func(j *Job) { d := time.Minute; j.TaskGroups[0].Tasks[0].KillTimeout = &d }, ""},
		{"update block (unmodelled)", func(j *Job) { j.TaskGroups[0].Extra = Extra{"Update": json.RawMessage(`{"MaxParallel":2}`)} }, ""},
		{"config order only", func(j *Job) {
			j.TaskGroups[0].Tasks[0].Config = json.RawMessage(` { "application" : [ {"path":"local"} ] }`)
		}, ""},
		{"job meta", func(j *Job) { j.Meta = map[string]string{"release": "2"} }, "task meta"},
		{"group meta", func(j *Job) { j.TaskGroups[0].Meta = map[string]string{"a": "b"} }, "task meta"},
		{"task meta", func(j *Job) { j.TaskGroups[0].Tasks[0].Meta = map[string]string{"a": "b"} }, "task meta"},
		{"config", func(j *Job) {
			j.TaskGroups[0].Tasks[0].Config = json.RawMessage(`{"application":[{"path":"local/x"}]}`)
		}, "task config"},
		{"env", func(j *Job) { j.TaskGroups[0].Tasks[0].Env = map[string]string{"A": "1"} }, "task env"},
		{"artifacts", func(j *Job) {
			src := "file:///srv/site.zip"
			j.TaskGroups[0].Tasks[0].Artifacts = []*TaskArtifact{{GetterSource: &src}}
		}, "task artifacts"},
		{"memory", func(j *Job) { n := 512; j.TaskGroups[0].Tasks[0].Resources.MemoryMB = &n }, "task resources"},
		{"driver", func(j *Job) { j.TaskGroups[0].Tasks[0].Driver = "raw_exec" }, "task driver"},
		{"user", func(j *Job) { j.TaskGroups[0].Tasks[0].User = "www-data" }, "task user"},
		{"network", func(j *Job) {
			j.TaskGroups[0].Networks = []*NetworkResource{{Mode: "host", DynamicPorts: []Port{{Label: "http"}}}}
		}, "network resources"},
		{"template", func(j *Job) {
			j.TaskGroups[0].Tasks[0].Extra = Extra{"Templates": json.RawMessage(`[{"EmbeddedTmpl":"x"}]`)}
		}, "task Templates"},
		{"second task", func(j *Job) {
			c := *j.TaskGroups[0].Tasks[0]
			c.Name = "side"
			j.TaskGroups[0].Tasks = append(j.TaskGroups[0].Tasks, &c)
		}, "number of tasks"},
	}
	for _, c := range cases {
		old := testJob("a")
		updated := testJob("a")
		c.change(updated)
		if got := groupUpdate(old, updated, "web"); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// Job meta overridden by the task's own value changes nothing it sees.
	old, updated := testJob("a"), testJob("a")
	old.TaskGroups[0].Tasks[0].Meta = map[string]string{"k": "task"}
	updated.TaskGroups[0].Tasks[0].Meta = map[string]string{"k": "task"}
	updated.Meta = map[string]string{"k": "job"}
	if got := groupUpdate(old, updated, "web"); got != "" {
		t.Errorf("job meta hidden by task meta: %q", got)
	}
}
