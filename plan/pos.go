package plan

// Pos is a 1-based line and column in a source file.
type Pos struct {
	Line int `json:"line"`
	Col  int `json:"col"`
}
