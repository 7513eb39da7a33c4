package stack_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

const modulePath = "github.com/tucanlink/wacloud"

// emittedMetric is what the source says about one EMF metric name.
type emittedMetric struct {
	// dimSets are the extra dimension key sets (besides Function) its call
	// sites pass, each sorted and joined with ","; "" is none. Nil when the
	// name is a Metric* constant no call site passes directly (its
	// dimensions are unknown).
	dimSets map[string]bool
	// functions are the Function dimension values it can carry: those of
	// the Recorders built in the packages that emit it, or, for a package
	// that builds none (it records through a Recorder it is given, as
	// shared/graph does), every Function any package builds.
	functions map[string]bool
	sites     []string
}

// emittedMetrics is the metric catalogue of the code: every EMF metric the
// functions' code (shared/, functions/) writes, read with go/ast. Names
// are the string constants named Metric* and the names passed (as a
// literal or such a constant) first to a method Count, Emit or count (the
// handlers' nil-safe wrapper); dimension keys are the pairs after the
// value (Count), the unit (Emit) or the name (count). It also returns
// every string literal of that code, so log queries can be checked
// against the messages the code writes.
func emittedMetrics(roots ...string) (map[string]*emittedMetric, map[string]bool, error) {
	fset := token.NewFileSet()
	type file struct {
		dir     string
		f       *ast.File
		imports map[string]string // local name → package dir
	}
	var files []file
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			fl := file{dir: filepath.Dir(path), f: f, imports: map[string]string{}}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				rel, ok := strings.CutPrefix(p, modulePath+"/")
				if !ok {
					continue
				}
				name := filepath.Base(rel)
				if imp.Name != nil {
					name = imp.Name.Name
				}
				fl.imports[name] = filepath.Join(filepath.Dir(root), rel)
			}
			files = append(files, fl)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}

	consts := map[string]map[string]string{} // dir → const name → string value
	recorders := map[string][]string{}       // dir → Function values of the Recorders it builds
	literals := map[string]bool{}
	for _, fl := range files {
		ast.Inspect(fl.f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GenDecl:
				if n.Tok != token.CONST {
					return true
				}
				for _, s := range n.Specs {
					vs := s.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if i < len(vs.Values) {
							if v, ok := stringLit(vs.Values[i]); ok {
								if consts[fl.dir] == nil {
									consts[fl.dir] = map[string]string{}
								}
								consts[fl.dir][name.Name] = v
							}
						}
					}
				}
			case *ast.CompositeLit:
				if isRecorderType(n.Type) {
					for _, e := range n.Elts {
						kv, ok := e.(*ast.KeyValueExpr)
						if !ok {
							continue
						}
						if k, _ := kv.Key.(*ast.Ident); k != nil && k.Name == "Function" {
							if v, ok := stringLit(kv.Value); ok {
								recorders[fl.dir] = append(recorders[fl.dir], v)
							}
						}
					}
				}
			case *ast.BasicLit:
				if v, ok := stringLit(n); ok {
					literals[v] = true
				}
			}
			return true
		})
	}
	resolve := func(fl file, e ast.Expr) (value, constName string, ok bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			v, ok := stringLit(e)
			return v, "", ok
		case *ast.Ident:
			v, ok := consts[fl.dir][e.Name]
			return v, e.Name, ok
		case *ast.SelectorExpr:
			x, isIdent := e.X.(*ast.Ident)
			if !isIdent {
				return "", "", false
			}
			dir, imported := fl.imports[x.Name]
			if !imported {
				return "", "", false
			}
			v, ok := consts[dir][e.Sel.Name]
			return v, e.Sel.Name, ok
		}
		return "", "", false
	}

	var allFunctions []string
	for _, fs := range recorders {
		allFunctions = append(allFunctions, fs...)
	}
	out := map[string]*emittedMetric{}
	metric := func(name string) *emittedMetric {
		if out[name] == nil {
			out[name] = &emittedMetric{functions: map[string]bool{}}
		}
		return out[name]
	}
	addFunctions := func(m *emittedMetric, dir string) {
		fs := recorders[dir]
		if len(fs) == 0 {
			fs = allFunctions
		}
		for _, f := range fs {
			m.functions[f] = true
		}
	}
	var problems []string
	dimStart := map[string]int{"Count": 2, "Emit": 3, "count": 1}
	for _, fl := range files {
		ast.Inspect(fl.f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			start, ok := dimStart[sel.Sel.Name]
			if !ok {
				return true
			}
			if x, isIdent := sel.X.(*ast.Ident); isIdent {
				if _, pkg := fl.imports[x.Name]; pkg || isStdPackage(fl.f, x.Name) {
					return true // a package function (strings.Count), not a Recorder method
				}
			}
			name, constName, ok := resolve(fl, call.Args[0])
			if !ok || (constName != "" && !strings.HasPrefix(constName, "Metric")) {
				return true // a name only known at run time: the wrapper forwarding it
			}
			pos := fset.Position(call.Pos())
			if call.Ellipsis.IsValid() {
				problems = append(problems, fmt.Sprintf("%s: %s passes its dimensions as a slice; pass key, value pairs", pos, name))
				return true
			}
			var keys []string
			for i := start; i < len(call.Args); i += 2 {
				k, _, ok := resolve(fl, call.Args[i])
				if !ok {
					problems = append(problems, fmt.Sprintf("%s: %s: dimension key %d is not a string constant", pos, name, (i-start)/2+1))
					return true
				}
				keys = append(keys, k)
			}
			sort.Strings(keys)
			m := metric(name)
			if m.dimSets == nil {
				m.dimSets = map[string]bool{}
			}
			m.dimSets[strings.Join(keys, ",")] = true
			m.sites = append(m.sites, pos.String())
			addFunctions(m, fl.dir)
			return true
		})
	}
	// Metric* constants no call site names directly (passed through a
	// variable): emitted, with dimensions unknown.
	for dir, cs := range consts {
		for name, v := range cs {
			if strings.HasPrefix(name, "Metric") && out[v] == nil {
				addFunctions(metric(v), dir)
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, nil, fmt.Errorf("metric call sites the dashboard test cannot read:\n%s", strings.Join(problems, "\n"))
	}
	return out, literals, nil
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	v, err := strconv.Unquote(lit.Value)
	return v, err == nil
}

// isRecorderType reports whether t names metrics.Recorder.
func isRecorderType(t ast.Expr) bool {
	switch t := t.(type) {
	case *ast.SelectorExpr:
		x, ok := t.X.(*ast.Ident)
		return ok && x.Name == "metrics" && t.Sel.Name == "Recorder"
	case *ast.Ident:
		return t.Name == "Recorder"
	}
	return false
}

// isStdPackage reports whether name is a package f imports from outside
// the module (strings, bytes, ...).
func isStdPackage(f *ast.File, name string) bool {
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		local := filepath.Base(p)
		if imp.Name != nil {
			local = imp.Name.Name
		}
		if local == name {
			return true
		}
	}
	return false
}
