package main

import "flag"

// secretFlag is a string flag whose value may come from the environment
// variable env and may be a secret (a token, a DSN with a password): its
// help shows def, never what the environment holds, since help is printed
// on every unknown flag.
func secretFlag(fs *flag.FlagSet, name, env, def, usage string) *string {
	s := &envSecret{value: envOr(env, def), shown: def}
	fs.Var(s, name, usage)
	return &s.value
}

type envSecret struct{ value, shown string }

// String is the default help shows (flag calls it on a zero value to
// tell whether there is one).
func (s *envSecret) String() string { return s.shown }

func (s *envSecret) Set(v string) error { s.value = v; return nil }
