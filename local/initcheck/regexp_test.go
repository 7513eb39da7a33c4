package initcheck

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"regexp/syntax"
	"strconv"
	"strings"
	"testing"
)

// maxInstructions bounds the program of a regular expression compiled at
// package level by a package a function links. A bounded repetition
// compiles to one copy of its operand per count: `^[a-z0-9_]{1,512}$` is
// 1,027 instructions and took 0.8 ms of every cold start to compile, where
// `^[a-z0-9_]+$` and a length check take a few microseconds. Programs of
// up to 100 instructions (`^[0-9]{1,32}$` is 67) compile in tens of
// microseconds.
const maxInstructions = 100

// TestPackageRegexpsAreSmall compiles every package-level
// regexp.MustCompile of a string constant in the repository's packages
// that a function links, and fails for a program over maxInstructions.
func TestPackageRegexpsAreSmall(t *testing.T) {
	for _, pkg := range functionPackages(t) {
		fset := token.NewFileSet()
		for _, name := range pkg.GoFiles {
			path := filepath.Join(pkg.Dir, name)
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			consts := stringConsts(f)
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.VAR {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, v := range vs.Values {
						pattern, ok := mustCompileArg(v, consts)
						if !ok {
							continue
						}
						n, err := instructions(pattern)
						if err != nil {
							t.Errorf("%s: %s: %v", fset.Position(vs.Pos()), vs.Names[i].Name, err)
							continue
						}
						if n > maxInstructions {
							t.Errorf("%s: %s = %s compiles to %d instructions at every cold start (limit %d): match an unbounded repetition and check the length in code",
								fset.Position(vs.Pos()), vs.Names[i].Name, strconv.Quote(pattern), n, maxInstructions)
						}
					}
				}
			}
		}
	}
}

type goPackage struct {
	ImportPath, Dir string
	GoFiles         []string
}

// functionPackages lists the repository's packages that functions/...
// link, as make build builds them.
func functionPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "-json=ImportPath,Dir,GoFiles,Module", "./functions/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			goPackage
			Module *struct{ Main bool }
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module != nil && p.Module.Main {
			pkgs = append(pkgs, p.goPackage)
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no package of this module")
	}
	return pkgs
}

// stringConsts returns f's package-level string constants.
func stringConsts(f *ast.File) map[string]string {
	out := map[string]string{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, v := range vs.Values {
				if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						out[vs.Names[i].Name] = s
					}
				}
			}
		}
	}
	return out
}

// mustCompileArg returns the pattern of a regexp.MustCompile call of a
// string literal or constant.
func mustCompileArg(e ast.Expr, consts map[string]string) (string, bool) {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "MustCompile" {
		return "", false
	}
	if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "regexp" {
		return "", false
	}
	switch a := call.Args[0].(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(a.Value)
		return s, err == nil
	case *ast.Ident:
		s, ok := consts[a.Name]
		return s, ok
	}
	return "", false
}

func instructions(pattern string) (int, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err
	}
	return len(prog.Inst), nil
}
