package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
)

// Nomad's diff types.
const (
	DiffTypeNone    = "None"
	DiffTypeAdded   = "Added"
	DiffTypeDeleted = "Deleted"
	DiffTypeEdited  = "Edited"
)

// JobDiff is Nomad's structs.JobDiff (versions?diffs=true, plan).
type JobDiff struct {
	Type       string
	ID         string
	Fields     []*FieldDiff
	Objects    []*ObjectDiff
	TaskGroups []*TaskGroupDiff
}

// TaskGroupDiff is one group's part of a JobDiff; Updates (plan only) says
// what the scheduler would do ("create", "destroy", "in-place update",
// "create/destroy update", "ignore", "canary").
type TaskGroupDiff struct {
	Type    string
	Name    string
	Fields  []*FieldDiff
	Objects []*ObjectDiff
	Tasks   []*TaskDiff
	Updates map[string]uint64 `json:",omitempty"`
}

// TaskDiff is one task's part of a TaskGroupDiff.
type TaskDiff struct {
	Type        string
	Name        string
	Fields      []*FieldDiff
	Objects     []*ObjectDiff
	Annotations []string
}

// FieldDiff is one changed primitive field ("Priority", "Meta[release]").
type FieldDiff struct {
	Type        string
	Name        string
	Old, New    string
	Annotations []string
}

// ObjectDiff is a changed nested object ("Config", "Resources", ...).
type ObjectDiff struct {
	Type    string
	Name    string
	Fields  []*FieldDiff
	Objects []*ObjectDiff
}

// The primitive fields Nomad leaves out of each level's diff.
var (
	jobDiffSkip = []string{"ID", "Status", "StatusDescription", "Version", "Stable", "CreateIndex",
		"ModifyIndex", "JobModifyIndex", "Update", "SubmitTime", "NomadTokenID", "VaultToken",
		"Payload"} // a []byte in Nomad's job, which its flatten skips
	groupDiffSkip = []string{"Name"}
	taskDiffSkip  = []string{"Name", "Config"}
)

// diffJobs is Nomad's Job.Diff (non-contextual) of old (nil: the job is
// new) and new (nil: deleted), over the jobs' JSON forms, whose keys are
// the Go field names Nomad's diff uses: a level's primitive fields and
// string maps ("Priority", "Meta[release]"), then its nested blocks under
// Nomad's object names ("Datacenters", "Constraint", "Periodic",
// "RestartPolicy", "Update", "Network" with "Static Port"/"Dynamic Port",
// "Config", "Resources", "LogConfig", "Artifact", "Action", ...); groups
// and tasks matched by name and sorted, blocks Nomad does not diff left
// out.
func diffJobs(old, new *Job) (*JobDiff, error) {
	o, n, err := toJSONMaps(old, new)
	if err != nil {
		return nil, err
	}
	d := &JobDiff{Type: diffType(o, n)}
	if new != nil {
		d.ID = new.ID
	} else if old != nil {
		d.ID = old.ID
	}
	d.Fields = fieldDiffs(flatPrimitive(o, jobDiffSkip), flatPrimitive(n, jobDiffSkip), false)
	d.Objects = appendObj(d.Objects, changed(stringSetDiff(strings_(o["Datacenters"]), strings_(n["Datacenters"]), "Datacenters")))
	d.Objects = append(d.Objects, constraintDiffs(o, n)...)
	d.Objects = appendObj(d.Objects, periodicDiff(asMap(o["Periodic"]), asMap(n["Periodic"])))
	d.Objects = appendObj(d.Objects, parameterizedDiff(asMap(o["ParameterizedJob"]), asMap(n["ParameterizedJob"])))
	if d.Type == DiffTypeEdited && len(d.Fields) == 0 && len(d.Objects) == 0 {
		d.Type = DiffTypeNone
	}
	var og, ng []*TaskGroup
	if old != nil {
		og = old.TaskGroups
	}
	if new != nil {
		ng = new.TaskGroups
	}
	names := unionNames(groupNames(og), groupNames(ng))
	sort.Strings(names)
	for _, name := range names {
		gd, err := diffGroups(findGroup(og, name), findGroup(ng, name), name)
		if err != nil {
			return nil, err
		}
		if gd.Type != DiffTypeNone && d.Type == DiffTypeNone {
			d.Type = DiffTypeEdited
		}
		d.TaskGroups = append(d.TaskGroups, gd)
	}
	return d, nil
}

func diffGroups(old, new *TaskGroup, name string) (*TaskGroupDiff, error) {
	o, n, err := toJSONMaps(old, new)
	if err != nil {
		return nil, err
	}
	d := &TaskGroupDiff{Type: diffType(o, n), Name: name}
	d.Fields = fieldDiffs(flatPrimitive(o, groupDiffSkip), flatPrimitive(n, groupDiffSkip), false)
	d.Objects = append(d.Objects, constraintDiffs(o, n)...)
	for _, k := range []string{"RestartPolicy", "Migrate", "ReschedulePolicy", "EphemeralDisk", "Consul", "Disconnect"} {
		d.Objects = appendObj(d.Objects, primitiveObjectDiff(asMap(o[k]), asMap(n[k]), nil, k))
	}
	d.Objects = appendObj(d.Objects, primitiveObjectDiff(asMap(o["Update"]), asMap(n["Update"]), []string{"Stagger"}, "Update"))
	d.Objects = append(d.Objects, networkDiffs(list(o["Networks"]), list(n["Networks"]))...)
	edited := len(d.Fields) > 0 || len(d.Objects) > 0
	var ot, nt []*Task
	if old != nil {
		ot = old.Tasks
	}
	if new != nil {
		nt = new.Tasks
	}
	names := unionNames(taskNames(ot), taskNames(nt))
	sort.Strings(names)
	for _, tn := range names {
		td, err := diffTasks(findTask(ot, tn), findTask(nt, tn), tn)
		if err != nil {
			return nil, err
		}
		edited = edited || td.Type != DiffTypeNone
		d.Tasks = append(d.Tasks, td)
	}
	if d.Type == DiffTypeEdited && !edited {
		d.Type = DiffTypeNone
	}
	return d, nil
}

func diffTasks(old, new *Task, name string) (*TaskDiff, error) {
	o, n, err := toJSONMaps(old, new)
	if err != nil {
		return nil, err
	}
	d := &TaskDiff{Type: diffType(o, n), Name: name}
	d.Fields = fieldDiffs(flatPrimitive(o, taskDiffSkip), flatPrimitive(n, taskDiffSkip), false)
	d.Objects = append(d.Objects, constraintDiffs(o, n)...)
	d.Objects = appendObj(d.Objects, configDiff(asMap(o["Config"]), asMap(n["Config"])))
	d.Objects = appendObj(d.Objects, resourcesDiff(asMap(o["Resources"]), asMap(n["Resources"])))
	for _, k := range []string{"LogConfig", "DispatchPayload", "Vault", "Consul"} {
		d.Objects = appendObj(d.Objects, primitiveObjectDiff(asMap(o[k]), asMap(n[k]), nil, k))
	}
	d.Objects = append(d.Objects, primitiveObjectSetDiff(list(o["Artifacts"]), list(n["Artifacts"]), nil, "Artifact",
		func(m map[string]interface{}) string { return scalarString(m["RelativeDest"]) })...)
	d.Objects = append(d.Objects, actionDiffs(list(o["Actions"]), list(n["Actions"]))...)
	if d.Type == DiffTypeEdited && len(d.Fields) == 0 && len(d.Objects) == 0 {
		d.Type = DiffTypeNone
	}
	return d, nil
}

// diffType is Added/Deleted for a missing side, else Edited (refined by
// the caller to None when nothing differs).
func diffType(o, n map[string]interface{}) string {
	switch {
	case o == nil && n == nil:
		return DiffTypeNone
	case o == nil:
		return DiffTypeAdded
	case n == nil:
		return DiffTypeDeleted
	}
	return DiffTypeEdited
}

// stringMaps are the members that are Go maps (flattened as "Name[key]");
// other JSON objects are structs, which a primitive diff leaves out.
var stringMaps = map[string]bool{"Meta": true, "Env": true, "GetterOptions": true, "GetterHeaders": true}

// flatPrimitive is flatmap.Flatten(x, filter, true) over a JSON object:
// its scalar members and its maps of strings as "Name[key]".
func flatPrimitive(m map[string]interface{}, filter []string) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		switch {
		case v == nil:
		case isScalar(v):
			out[k] = scalarString(v)
		case stringMaps[k] && isStringMap(v):
			for mk, mv := range asMap(v) {
				out[k+"["+mk+"]"] = scalarString(mv)
			}
		}
	}
	for _, f := range filter {
		delete(out, f)
	}
	return out
}

// flatAll is flatmap.Flatten(x, nil, false): every leaf, maps as
// "[key]", lists as "[i]" (a task's Config).
func flatAll(prefix string, v interface{}, out map[string]string) {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, x := range t {
			key := k
			if prefix != "" {
				key = prefix + "[" + k + "]"
			}
			flatAll(key, x, out)
		}
	case []interface{}:
		for i, x := range t {
			flatAll(fmt.Sprintf("%s[%d]", prefix, i), x, out)
		}
	case nil:
		out[prefix] = "nil"
	default:
		out[prefix] = scalarString(t)
	}
}

// fieldDiffs compares two flattened objects, sorted as Nomad sorts them
// (by name, old, new); an empty value counts as absent. Contextual (what
// Nomad's plan and versions ask for inside nested blocks) keeps the
// unchanged fields too, as None.
func fieldDiffs(old, new map[string]string, contextual bool) []*FieldDiff {
	var out []*FieldDiff
	for k, ov := range old {
		if f := fieldDiff(k, ov, new[k], contextual); f != nil {
			out = append(out, f)
		}
	}
	for k, nv := range new {
		if _, ok := old[k]; !ok {
			if f := fieldDiff(k, "", nv, contextual); f != nil {
				out = append(out, f)
			}
		}
	}
	sortFields(out)
	return out
}

// sortFields is Nomad's field order: by name, old, new.
func sortFields(l []*FieldDiff) {
	sort.Slice(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Old != b.Old {
			return a.Old < b.Old
		}
		return a.New < b.New
	})
}

func fieldDiff(name, old, new string, contextual bool) *FieldDiff {
	switch {
	case old == new && contextual:
		return &FieldDiff{Type: DiffTypeNone, Name: name, Old: old, New: new}
	case old == new:
		return nil
	case old == "":
		return &FieldDiff{Type: DiffTypeAdded, Name: name, New: new}
	case new == "":
		return &FieldDiff{Type: DiffTypeDeleted, Name: name, Old: old}
	}
	return &FieldDiff{Type: DiffTypeEdited, Name: name, Old: old, New: new}
}

// primitiveObjectDiff diffs a nested block's primitive fields; its type
// follows from its fields' (nil when nothing differs).
func primitiveObjectDiff(old, new map[string]interface{}, filter []string, name string) *ObjectDiff {
	d := &ObjectDiff{Name: name, Fields: fieldDiffs(flatPrimitive(old, filter), flatPrimitive(new, filter), true)}
	var added, deleted bool
	for _, f := range d.Fields {
		switch f.Type {
		case DiffTypeEdited:
			d.Type = DiffTypeEdited
			return d
		case DiffTypeAdded:
			added = true
		case DiffTypeDeleted:
			deleted = true
		}
	}
	switch {
	case added && deleted:
		d.Type = DiffTypeEdited
	case added:
		d.Type = DiffTypeAdded
	case deleted:
		d.Type = DiffTypeDeleted
	default:
		return nil
	}
	return d
}

// primitiveObjectSetDiff diffs two sets of blocks matched by key (Nomad's
// DiffID, else the whole block).
func primitiveObjectSetDiff(old, new []interface{}, filter []string, name string, key func(map[string]interface{}) string) []*ObjectDiff {
	set := func(l []interface{}) map[string]map[string]interface{} {
		out := map[string]map[string]interface{}{}
		for _, x := range l {
			m := asMap(x)
			k := ""
			if key != nil {
				k = key(m)
			}
			if k == "" {
				b, _ := json.Marshal(m)
				k = string(b)
			}
			out[k] = m
		}
		return out
	}
	os, ns := set(old), set(new)
	var out []*ObjectDiff
	for k, o := range os {
		out = appendObj(out, primitiveObjectDiff(o, ns[k], filter, name))
	}
	for k, n := range ns {
		if _, ok := os[k]; !ok {
			out = appendObj(out, primitiveObjectDiff(nil, n, filter, name))
		}
	}
	sortObjects(out)
	return out
}

// constraintDiffs are a level's Constraint and Affinity sets.
func constraintDiffs(o, n map[string]interface{}) []*ObjectDiff {
	id := func(m map[string]interface{}) string {
		return scalarString(m["LTarget"]) + " " + scalarString(m["Operand"]) + " " + scalarString(m["RTarget"])
	}
	out := primitiveObjectSetDiff(list(o["Constraints"]), list(n["Constraints"]), []string{"str"}, "Constraint", id)
	return append(out, primitiveObjectSetDiff(list(o["Affinities"]), list(n["Affinities"]), []string{"str"}, "Affinity",
		func(m map[string]interface{}) string { return id(m) + " " + scalarString(m["Weight"]) })...)
}

// stringSetDiff diffs two sets of strings, one field per element (None
// for those in both), all named name.
func stringSetDiff(old, new []string, name string) *ObjectDiff {
	have, want := map[string]bool{}, map[string]bool{}
	for _, v := range old {
		have[v] = true
	}
	for _, v := range new {
		want[v] = true
	}
	d := &ObjectDiff{Name: name}
	var added, removed bool
	for v := range have {
		if !want[v] {
			d.Fields = append(d.Fields, &FieldDiff{Type: DiffTypeDeleted, Name: name, Old: v})
			removed = true
		} else {
			d.Fields = append(d.Fields, &FieldDiff{Type: DiffTypeNone, Name: name, Old: v, New: v})
		}
	}
	for v := range want {
		if !have[v] {
			d.Fields = append(d.Fields, &FieldDiff{Type: DiffTypeAdded, Name: name, New: v})
			added = true
		}
	}
	sortFields(d.Fields)
	switch {
	case added && removed:
		d.Type = DiffTypeEdited
	case added:
		d.Type = DiffTypeAdded
	case removed:
		d.Type = DiffTypeDeleted
	case len(d.Fields) == 0:
		return nil
	default:
		d.Type = DiffTypeNone
	}
	return d
}

// changed drops a set diff that changed nothing (Nomad keeps those of
// Datacenters and Specs out, not those of an action's Args or a
// parameterized job's meta).
func changed(d *ObjectDiff) *ObjectDiff {
	if d == nil || d.Type == DiffTypeNone {
		return nil
	}
	return d
}

// blockDiff is the shape of Nomad's periodic, parameterized, resources,
// network and action diffs: Added/Deleted/Edited by which side exists,
// the primitive fields, then the sub-objects more adds.
func blockDiff(old, new map[string]interface{}, filter []string, name string, more func(*ObjectDiff)) *ObjectDiff {
	if jsonEqual(old, new) {
		return nil
	}
	d := &ObjectDiff{Name: name, Type: objectType(old != nil, new != nil)}
	d.Fields = fieldDiffs(flatPrimitive(old, filter), flatPrimitive(new, filter), true)
	if more != nil {
		more(d)
	}
	return d
}

func periodicDiff(old, new map[string]interface{}) *ObjectDiff {
	return blockDiff(old, new, nil, "Periodic", func(d *ObjectDiff) {
		d.Objects = appendObj(d.Objects, changed(stringSetDiff(strings_(old["Specs"]), strings_(new["Specs"]), "Specs")))
	})
}

func parameterizedDiff(old, new map[string]interface{}) *ObjectDiff {
	return blockDiff(old, new, nil, "ParameterizedJob", func(d *ObjectDiff) {
		d.Objects = appendObj(d.Objects, stringSetDiff(strings_(old["MetaOptional"]), strings_(new["MetaOptional"]), "MetaOptional"))
		d.Objects = appendObj(d.Objects, stringSetDiff(strings_(old["MetaRequired"]), strings_(new["MetaRequired"]), "MetaRequired"))
	})
}

func resourcesDiff(old, new map[string]interface{}) *ObjectDiff {
	return blockDiff(old, new, nil, "Resources", func(d *ObjectDiff) {
		d.Objects = append(d.Objects, networkDiffs(list(old["Networks"]), list(new["Networks"]))...)
	})
}

// configDiff is a task's driver config, every leaf flattened.
func configDiff(old, new map[string]interface{}) *ObjectDiff {
	if jsonEqual(old, new) {
		return nil
	}
	d := &ObjectDiff{Name: "Config", Type: objectType(len(old) > 0, len(new) > 0)}
	o, n := map[string]string{}, map[string]string{}
	flatAll("", old, o)
	flatAll("", new, n)
	delete(o, "")
	delete(n, "")
	d.Fields = fieldDiffs(o, n, true)
	return d
}

// networkDiffs diffs networks as a set (a changed network is one deleted
// and one added, as in Nomad) with their ports by label.
func networkDiffs(old, new []interface{}) []*ObjectDiff {
	key := func(m map[string]interface{}) string { b, _ := json.Marshal(m); return string(b) }
	os, ns := map[string]map[string]interface{}{}, map[string]map[string]interface{}{}
	for _, x := range old {
		os[key(asMap(x))] = asMap(x)
	}
	for _, x := range new {
		ns[key(asMap(x))] = asMap(x)
	}
	var out []*ObjectDiff
	diff := func(o, n map[string]interface{}) *ObjectDiff {
		return blockDiff(o, n, []string{"Device", "CIDR", "IP", "MBits"}, "Network", func(d *ObjectDiff) {
			d.Objects = append(d.Objects, portDiffs(list(o["ReservedPorts"]), list(n["ReservedPorts"]), false)...)
			d.Objects = append(d.Objects, portDiffs(list(o["DynamicPorts"]), list(n["DynamicPorts"]), true)...)
		})
	}
	for k, o := range os {
		if _, ok := ns[k]; !ok {
			out = appendObj(out, diff(o, nil))
		}
	}
	for k, n := range ns {
		if _, ok := os[k]; !ok {
			out = appendObj(out, diff(nil, n))
		}
	}
	sortObjects(out)
	return out
}

func portDiffs(old, new []interface{}, dynamic bool) []*ObjectDiff {
	name, filter := "Static Port", []string(nil)
	if dynamic {
		name, filter = "Dynamic Port", []string{"Value", "IgnoreCollision"}
	}
	byLabel := func(l []interface{}) map[string]map[string]interface{} {
		out := map[string]map[string]interface{}{}
		for _, x := range l {
			out[scalarString(asMap(x)["Label"])] = asMap(x)
		}
		return out
	}
	os, ns := byLabel(old), byLabel(new)
	var out []*ObjectDiff
	for l, o := range os {
		out = appendObj(out, primitiveObjectDiff(o, ns[l], filter, name))
	}
	for l, n := range ns {
		if _, ok := os[l]; !ok {
			out = appendObj(out, primitiveObjectDiff(nil, n, filter, name))
		}
	}
	sortObjects(out)
	return out
}

// actionDiffs diffs actions by position, Args as a set.
func actionDiffs(old, new []interface{}) []*ObjectDiff {
	var out []*ObjectDiff
	for i := 0; i < len(old) || i < len(new); i++ {
		var o, n map[string]interface{}
		if i < len(old) {
			o = asMap(old[i])
		}
		if i < len(new) {
			n = asMap(new[i])
		}
		out = appendObj(out, blockDiff(o, n, nil, "Action", func(d *ObjectDiff) {
			d.Objects = appendObj(d.Objects, stringSetDiff(strings_(o["Args"]), strings_(n["Args"]), "Args"))
		}))
	}
	sortObjects(out)
	return out
}

func objectType(had, has bool) string {
	switch {
	case !had:
		return DiffTypeAdded
	case !has:
		return DiffTypeDeleted
	}
	return DiffTypeEdited
}

// diffTypeRank is Nomad's object order within a name: Edited, Added,
// Deleted, None.
var diffTypeRank = map[string]int{DiffTypeEdited: 0, DiffTypeAdded: 1, DiffTypeDeleted: 2, DiffTypeNone: 3}

func sortObjects(l []*ObjectDiff) {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Name != l[j].Name {
			return l[i].Name < l[j].Name
		}
		if l[i].Type != l[j].Type {
			return diffTypeRank[l[i].Type] < diffTypeRank[l[j].Type]
		}
		return len(l[i].Fields) < len(l[j].Fields)
	})
}

func appendObj(l []*ObjectDiff, d *ObjectDiff) []*ObjectDiff {
	if d == nil {
		return l
	}
	return append(l, d)
}

func list(v interface{}) []interface{} {
	l, _ := v.([]interface{})
	return l
}

// strings_ is a JSON list of strings.
func strings_(v interface{}) []string {
	var out []string
	for _, x := range list(v) {
		out = append(out, scalarString(x))
	}
	return out
}

func findTask(ts []*Task, name string) *Task {
	for _, t := range ts {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// toJSONMaps is toJSONMap of both sides of a diff.
func toJSONMaps(old, new interface{}) (o, n map[string]interface{}, err error) {
	if o, err = toJSONMap(old); err != nil {
		return nil, nil, err
	}
	n, err = toJSONMap(new)
	return o, n, err
}

func toJSONMap(v interface{}) (map[string]interface{}, error) {
	switch t := v.(type) {
	case *Job:
		if t == nil {
			return nil, nil
		}
	case *TaskGroup:
		if t == nil {
			return nil, nil
		}
	case *Task:
		if t == nil {
			return nil, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]interface{}
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func isScalar(v interface{}) bool {
	switch v.(type) {
	case nil, string, bool, json.Number:
		return true
	}
	return false
}

func isStringMap(v interface{}) bool {
	if v == nil {
		return true
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return false
	}
	for _, x := range m {
		if _, ok := x.(string); !ok {
			return false
		}
	}
	return true
}

func asMap(v interface{}) map[string]interface{} {
	m, _ := v.(map[string]interface{})
	return m
}

func scalarString(v interface{}) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return fmt.Sprint(t)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func unionKeys(a, b map[string]interface{}) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

func unionNames(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range append(append([]string(nil), a...), b...) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func groupNames(gs []*TaskGroup) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

func taskNames(ts []*Task) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func findGroup(gs []*TaskGroup, name string) *TaskGroup {
	for _, g := range gs {
		if g.Name == name {
			return g
		}
	}
	return nil
}
