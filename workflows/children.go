package workflows

import "fmt"

// ChildID is the workflow id of the sub-runbook run that step (item, in a
// forEach) of run starts: <run>.<step>[.<item>]. Run ids and step ids have
// no dots, so the API finds the recorded run of any child by its first
// segment.
func ChildID(run, step string, item *int) string {
	if item == nil {
		return run + "." + step
	}
	return fmt.Sprintf("%s.%s.%d", run, step, *item)
}
