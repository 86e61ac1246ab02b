package store

// LatestVersions is the latest version of every runbook, by name: what
// Runbooks lists, without the YAML and plans, for callers that keep
// decoded plans.
func (s *Store) LatestVersions() (map[string]int, error) {
	var rows []struct {
		Name    string
		Version int
	}
	err := s.db.Model(&RunbookVersion{}).Select("name, MAX(version) AS version").Group("name").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Name] = r.Version
	}
	return out, nil
}
