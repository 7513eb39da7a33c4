// Package eventtest checks events against the published contract,
// schema/event.schema.json and the sub-schemas it references, so that every
// area that writes events tests them against the same JSON Schema the core
// reads. It is for tests only; no function imports it.
package eventtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	once   sync.Once
	schema *jsonschema.Schema
	errC   error
)

// Schema returns the compiled event schema, read from the schema/ folder of
// the repository (found by walking up from the working directory to
// go.mod). It is compiled once per test binary and is safe for concurrent
// use.
func Schema() (*jsonschema.Schema, error) {
	once.Do(func() { schema, errC = compile() })
	return schema, errC
}

func compile() (*jsonschema.Schema, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "schema")
	files, err := filepath.Glob(filepath.Join(dir, "*.schema.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("find schema files in %s: %v", dir, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(jsonschema.FileLoader{})
	for _, f := range files {
		doc, err := readJSON(f)
		if err != nil {
			return nil, fmt.Errorf("read schema %s: %w", f, err)
		}
		if err := c.AddResource(f, doc); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", f, err)
		}
	}
	s, err := c.Compile(filepath.Join(dir, "event.schema.json"))
	if err != nil {
		return nil, fmt.Errorf("compile event schema: %w", err)
	}
	return s, nil
}

func readJSON(path string) (any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Check validates one event, given as JSON, against the contract and
// returns the violations as an error, or nil.
func Check(eventJSON []byte) error {
	s, err := Schema()
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(eventJSON))
	if err != nil {
		return fmt.Errorf("event is not JSON: %w", err)
	}
	return s.Validate(v)
}

// ValidateJSON fails the test when eventJSON violates the contract.
func ValidateJSON(tb testing.TB, eventJSON []byte) {
	tb.Helper()
	if err := Check(eventJSON); err != nil {
		tb.Errorf("event violates schema/event.schema.json: %v\nevent: %s", err, eventJSON)
	}
}

// Validate marshals ev (an event.Event or anything that encodes like one)
// and fails the test when it violates the contract.
func Validate(tb testing.TB, ev any) {
	tb.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		tb.Fatalf("marshal event: %v", err)
	}
	ValidateJSON(tb, b)
}
