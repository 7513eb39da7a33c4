package strictjson

import "reflect"

// CheckScan and CheckTokens are check's two walks, for tests that compare
// them.
var (
	CheckScan   = func(data []byte, t reflect.Type) error { s := scanner{data: data, strict: t != nil}; return s.value(t) }
	CheckTokens = checkTokens
)
