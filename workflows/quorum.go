package workflows

import (
	"slices"

	"github.com/opsrunbook/runbook/plan"
)

// quorumOf fills an approval's group quorums with its approve votes: each
// voter fills at most one place of one group they are in, and the places
// are filled as fully as any assignment can (a maximum matching, found by
// augmenting paths in vote order), so a person in two groups goes where
// they are needed. It returns each group's state and whether every group
// has its minimum.
func quorumOf(quorum []plan.GroupQuorum, votes []Vote) ([]QuorumState, bool) {
	type place struct{ group int }
	var places []place
	for g, q := range quorum {
		for range q.Min {
			places = append(places, place{g})
		}
	}
	var voters []Vote
	for _, v := range votes {
		if v.Decision == plan.VoteApprove {
			voters = append(voters, v)
		}
	}
	holder := make([]int, len(places)) // the voter in each place, -1 none
	for i := range holder {
		holder[i] = -1
	}
	var try func(v int, seen []bool) bool
	try = func(v int, seen []bool) bool {
		for p := range places {
			if seen[p] || !slices.Contains(voters[v].Groups, quorum[places[p].group].Group) {
				continue
			}
			seen[p] = true
			if holder[p] < 0 || try(holder[p], seen) {
				holder[p] = v
				return true
			}
		}
		return false
	}
	for v := range voters {
		try(v, make([]bool, len(places)))
	}
	out := make([]QuorumState, len(quorum))
	for g, q := range quorum {
		out[g] = QuorumState{Group: q.Group, Min: q.Min, Voters: []string{}}
	}
	met := true
	for p, v := range holder {
		if v >= 0 {
			g := places[p].group
			out[g].Voters = append(out[g].Voters, voters[v].User)
		}
	}
	for g := range out {
		slices.Sort(out[g].Voters)
		met = met && len(out[g].Voters) >= out[g].Min
	}
	return out, met
}
