package throttle

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoPackageState keeps every limiter's state in its instance: the
// instances of one number coordinate only through the state table, so a
// package-level variable could only be state shared behind DynamoDB's
// back by the instances of one process (the pacing benchmark runs its
// eight instances in one process by default, and would not notice).
func TestNoPackageState(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
				t.Errorf("%s: package-level variable; keep limiter state in the Limiter or Pair", fset.Position(g.Pos()))
			}
		}
	}
}
