package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/opsrunbook/runbook/store"
)

// runToken creates API tokens, writing straight to the database.
func runToken(args []string, out, errOut io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("usage: runbook token create --user U --roles r1,r2 [--groups g1,g2] [--db DSN]")
	}
	fs := flags("token create", errOut)
	dsn := fs.String("db", envOr("RUNBOOK_DB", ".runbook/runbook.db"), "database: a SQLite file or a postgres:// URL (RUNBOOK_DB)")
	user := fs.String("user", "", "the token's user")
	roles := fs.String("roles", "viewer", "comma-separated roles: "+strings.Join(store.Roles, ", "))
	groups := fs.String("groups", "", "comma-separated groups, for approvals")
	if _, err := interleaved(fs, args[1:]); err != nil {
		return err
	}
	st, err := store.Open(*dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	secret, _, err := st.CreateToken(*user, splitList(*roles), splitList(*groups))
	if err != nil {
		return err
	}
	if err := st.Audit("cli", "token.create", *user, map[string]string{"roles": *roles, "groups": *groups}); err != nil {
		return err
	}
	fmt.Fprintln(out, secret)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
