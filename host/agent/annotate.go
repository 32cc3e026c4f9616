package agent

import "strconv"

// Nomad's plan annotations (scheduler/annotate.go).
const (
	annotationForcesCreate            = "forces create"
	annotationForcesDestroy           = "forces destroy"
	annotationForcesInplaceUpdate     = "forces in-place update"
	annotationForcesDestructiveUpdate = "forces create/destroy update"
)

// annotateDiff marks a plan's diff as Nomad's scheduler does: a group's
// Count going up forces create, down forces destroy; each changed task
// forces an in-place update when only its kill timeout, services,
// constraints, affinities, spreads or log settings other than Disabled
// changed, else a create/destroy update (create or destroy for a task of
// a group added or deleted).
func annotateDiff(d *JobDiff) {
	for _, g := range d.TaskGroups {
		for _, f := range g.Fields {
			if f.Name != "Count" {
				continue
			}
			oldV, _ := strconv.Atoi(f.Old)
			newV, _ := strconv.Atoi(f.New)
			switch {
			case oldV < newV:
				f.Annotations = append(f.Annotations, annotationForcesCreate)
			case newV < oldV:
				f.Annotations = append(f.Annotations, annotationForcesDestroy)
			}
		}
		for _, t := range g.Tasks {
			annotateTask(t, g)
		}
	}
}

func annotateTask(t *TaskDiff, g *TaskGroupDiff) {
	if t.Type == DiffTypeNone {
		return
	}
	if g.Type == DiffTypeAdded || g.Type == DiffTypeDeleted {
		switch t.Type {
		case DiffTypeAdded:
			t.Annotations = append(t.Annotations, annotationForcesCreate)
			return
		case DiffTypeDeleted:
			t.Annotations = append(t.Annotations, annotationForcesDestroy)
			return
		}
	}
	if taskDiffDestructive(t) {
		t.Annotations = append(t.Annotations, annotationForcesDestructiveUpdate)
	} else {
		t.Annotations = append(t.Annotations, annotationForcesInplaceUpdate)
	}
}

func taskDiffDestructive(t *TaskDiff) bool {
	for _, f := range t.Fields {
		if f.Name != "KillTimeout" {
			return true
		}
	}
	for _, o := range t.Objects {
		switch o.Name {
		case "Service", "Constraint", "Affinity", "Spread":
		case "LogConfig":
			// As Nomad: a Disabled field in the (contextual) diff counts.
			for _, f := range o.Fields {
				if f.Name == "Disabled" {
					return true
				}
			}
		default:
			return true
		}
	}
	return false
}
