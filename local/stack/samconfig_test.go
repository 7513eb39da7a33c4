package stack_test

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSAMConfig checks samconfig.toml: every environment gives the region
// and stack to the commands that need them, and production has a secret
// prefix of its own so two stacks can share an account.
func TestSAMConfig(t *testing.T) {
	cfg := readSAMConfig(t, "../../samconfig.toml")
	commands := []struct {
		name      string
		wantStack bool
	}{
		{"build", false}, {"validate", false}, {"package", false},
		{"deploy", true}, {"sync", true}, {"logs", true}, {"delete", true},
	}
	for _, env := range []string{"default", "prod"} {
		for _, c := range commands {
			t.Run(env+" "+c.name, func(t *testing.T) {
				if got := cfg.value(env, c.name, "region"); got == "" {
					t.Errorf("sam %s --config-env %s has no region", c.name, env)
				}
				if got := cfg.value(env, c.name, "stack_name"); c.wantStack && got == "" {
					t.Errorf("sam %s --config-env %s has no stack_name", c.name, env)
				}
			})
		}
	}

	t.Run("stacks and secret prefixes differ", func(t *testing.T) {
		if a, b := cfg.value("default", "deploy", "stack_name"), cfg.value("prod", "deploy", "stack_name"); a == b {
			t.Errorf("default and prod both deploy stack %q", a)
		}
		tmpl := load(t)
		prefixes := map[string]string{}
		for _, env := range []string{"default", "prod"} {
			for _, cmd := range []string{"deploy", "sync"} {
				prefix := overrides(cfg.value(env, cmd, "parameter_overrides"))["SecretPrefix"]
				if prefix == "" {
					prefix = tmpl.Parameters["SecretPrefix"]["Default"].(string)
				}
				prefixes[env+" "+cmd] = prefix
			}
		}
		if prefixes["prod deploy"] == prefixes["default deploy"] {
			t.Errorf("prod deploys with SecretPrefix %q, the same as the default stack", prefixes["prod deploy"])
		}
		if prefixes["prod sync"] != prefixes["prod deploy"] {
			t.Errorf("prod sync uses SecretPrefix %q, deploy %q", prefixes["prod sync"], prefixes["prod deploy"])
		}
	})
}

// samConfig holds samconfig.toml's values by "env.command" table.
type samConfig map[string]map[string]string

// value returns a command's parameter, falling back to the environment's
// global table, as the SAM CLI does.
func (c samConfig) value(env, command, key string) string {
	if v, ok := c[env+"."+command][key]; ok {
		return v
	}
	return c[env+".global"][key]
}

var (
	samTable = regexp.MustCompile(`^\[([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.parameters\]$`)
	samKey   = regexp.MustCompile(`^([A-Za-z0-9_]+)\s*=\s*(.+)$`)
)

// readSAMConfig reads the subset of TOML samconfig.toml uses: tables
// [env.command.parameters] of strings, booleans and numbers.
func readSAMConfig(t *testing.T, path string) samConfig {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := samConfig{}
	table := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if m := samTable.FindStringSubmatch(line); m != nil {
			table = m[1] + "." + m[2]
			cfg[table] = map[string]string{}
			continue
		}
		m := samKey.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s:%d: not a table or key: %s", path, n, line)
		}
		v := m[2]
		if strings.HasPrefix(v, `"`) {
			if v, err = strconv.Unquote(v); err != nil {
				t.Fatalf("%s:%d: %s: %v", path, n, m[2], err)
			}
		}
		if table == "" {
			continue // version
		}
		cfg[table][m[1]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// overrides parses parameter_overrides: Key="value" pairs.
func overrides(s string) map[string]string {
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`([A-Za-z0-9]+)="((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(s, -1) {
		out[m[1]] = m[2]
	}
	return out
}
